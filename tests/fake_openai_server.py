"""A small OpenAI-compatible server on 127.0.0.1 for tests, faithful where draftpad depends on the
protocol: /v1/models, /v1/chat/completions and /v1/completions, streaming as server-sent events
over chunked HTTP/1.1 ending in `data: [DONE]`, OpenAI error bodies, `n` choices, usage in the
last chunk. Knobs make it slow, cut a stream, fail with a status, or refuse `n`.

    with FakeServer(reply="Hello there.") as server:
        url = server.url  # http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


def words(text: str) -> list[str]:
    """Streamed pieces: each word with the space before it, as tokenizers split them."""
    out, current = [], ""
    for ch in text:
        if ch in " \n" and current.strip():
            out.append(current)
            current = ""
        current += ch
    if current:
        out.append(current)
    return out


@dataclass
class FakeServer:
    reply: str | Callable[[dict], str] = "The Lessee shall pay the rent on the first day of each month."
    models: tuple[str, ...] = ("fake-7b", "fake-small")
    chunk_delay: float = 0.0  # seconds before each streamed piece
    first_delay: float = 0.0  # seconds before the first piece (a slow prompt read)
    drop_after: int | None = None  # cut the connection after this many pieces, mid-chunk
    status: int | None = None  # answer completions with this status and an OpenAI error body
    error_message: str = "boom"
    error_event_after: int | None = None  # stream an error event after this many pieces
    honour_n: bool = True
    timings: bool = False  # llama.cpp's timings object in the last chunk
    requests: list[dict] = field(default_factory=list)  # {"path", "body", "headers"} of each request
    disconnects: int = 0  # streams the client left before the end
    completed: int = 0  # streams sent to the end

    def __post_init__(self) -> None:
        self._httpd: ThreadingHTTPServer | None = None
        self._port = 0
        self._lock = threading.Lock()

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> "FakeServer":
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._port = self._httpd.server_address[1]  # kept after stop(), to test a server that went away
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def text_for(self, body: dict, index: int = 0) -> str:
        text = self.reply(body) if callable(self.reply) else self.reply
        # n choices differ as sampled ones would, so distinctness can be tested
        return text if index == 0 else f"(option {index}) {text}"

    def record(self, entry: dict) -> None:
        with self._lock:
            self.requests.append(entry)


class _Handler(BaseHTTPRequestHandler):
    owner: FakeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    # ---- helpers -------------------------------------------------------------------------------

    def _json(self, status: int, value: object) -> None:
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        self._json(status, {"error": {"message": message, "type": kind, "code": status}})

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, value: object) -> None:
        payload = value if isinstance(value, str) else json.dumps(value)
        self._chunk(f"data: {payload}\n\n".encode())

    # ---- routes --------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        self.owner.record({"path": self.path, "body": None, "headers": dict(self.headers)})
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "test"}
                                                         for m in self.owner.models]})
        else:
            self._error(404, f"File Not Found: {self.path}", "not_found_error")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._error(400, "invalid JSON")
        owner = self.owner
        owner.record({"path": self.path, "body": body, "headers": dict(self.headers)})
        path = self.path.rstrip("/")
        if path not in ("/v1/chat/completions", "/v1/completions"):
            return self._error(404, f"File Not Found: {self.path}", "not_found_error")
        if body.get("model") not in owner.models:
            return self._error(404, f"model '{body.get('model')}' not found", "not_found_error")
        if owner.status is not None:
            return self._error(owner.status, owner.error_message, "server_error" if owner.status >= 500 else "invalid")
        n = int(body.get("n") or 1)
        if n > 1 and not owner.honour_n:
            return self._error(400, "Only one completion choice is allowed")
        chat = path.endswith("chat/completions")
        if body.get("stream"):
            return self._stream(body, chat)
        choices = []
        # sampled requests differ by seed as a real server's would; greedy ones are all the same
        first = 1 + int(body.get("seed") or 0) % 50 if float(body.get("temperature", 1.0)) > 0 else 0
        for i in range(n):
            text = owner.text_for(body, first + i)
            pieces = words(text)[: int(body.get("max_tokens") or 10**6)]
            choice = {"index": i, "finish_reason": "stop"}
            if chat:
                choice["message"] = {"role": "assistant", "content": "".join(pieces)}
            else:
                choice["text"] = "".join(pieces)
                if body.get("logprobs"):
                    choice["logprobs"] = {"tokens": pieces, "token_logprobs": [-0.1 * (i + 1)] * len(pieces)}
            choices.append(choice)
        self._json(200, {"id": "cmpl-1", "object": "chat.completion" if chat else "text_completion",
                         "model": body["model"], "choices": choices,
                         "usage": {"prompt_tokens": 7, "completion_tokens": sum(len(words(c.get("text", "")))
                                                                                for c in choices)}})

    def _stream(self, body: dict, chat: bool) -> None:
        owner = self.owner
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pieces = words(owner.text_for(body))
        limit = int(body.get("max_tokens") or 10**6)
        finish = "length" if len(pieces) > limit else "stop"
        pieces = pieces[:limit]
        try:
            self._chunk(b": keep-alive\n\n")
            if chat:
                self._event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": None},
                                          "finish_reason": None}], "object": "chat.completion.chunk"})
            time.sleep(owner.first_delay)
            for number, piece in enumerate(pieces):
                if owner.drop_after is not None and number >= owner.drop_after:
                    self.wfile.write(b"40\r\ndata: {\"choi")  # half a chunk, then the connection goes
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if owner.error_event_after is not None and number >= owner.error_event_after:
                    self._event({"error": {"message": owner.error_message, "type": "server_error"}})
                    self._chunk(b"")
                    return
                if number:
                    time.sleep(owner.chunk_delay)
                delta = {"delta": {"content": piece}} if chat else {"text": piece}
                self._event({"choices": [{"index": 0, **delta, "finish_reason": None}],
                             "object": "chat.completion.chunk" if chat else "text_completion"})
            last: dict = {"choices": [{"index": 0, **({"delta": {}} if chat else {"text": ""}),
                                       "finish_reason": finish}]}
            if owner.timings:
                last["timings"] = {"prompt_n": 7, "predicted_n": len(pieces), "draft_n": 4, "draft_n_accepted": 2}
            self._event(last)
            if (body.get("stream_options") or {}).get("include_usage"):
                self._event({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": len(pieces),
                                                      "total_tokens": 7 + len(pieces)}})
            self._event("[DONE]")
            self._chunk(b"")
            owner.completed += 1
        except (BrokenPipeError, ConnectionResetError):
            with owner._lock:
                owner.disconnects += 1
            self.close_connection = True
