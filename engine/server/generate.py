"""One generation on the server, streamed: the same GenerationResult and stats a local run gives.

Chat messages go to /chat/completions (the server applies the model's chat template); a plain
string goes to /completions, as a local run uses a string as it is. A last assistant message is
continued, not answered (llama.cpp's and vLLM's `continue_final_message`), which is how drafting
primes a section with its lead-in words.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable, Sequence

import httpx

from engine.detok import StopMatcher
from engine.server import sse
from engine.server.client import ServerError
from engine.server.model import ServerModel

MAX_STOPS = 4  # what the OpenAI API accepts; the rest are matched here


def request_body(lm: ServerModel, prompt: str | list, config: Any, *, stream: bool = True) -> tuple[str, dict]:
    """(path, JSON body) for a generation."""
    body: dict[str, Any] = {"model": lm.model, "max_tokens": int(config.max_new_tokens),
                            "temperature": float(config.temperature), "stream": stream}
    if config.top_p < 1.0:
        body["top_p"] = float(config.top_p)
    if config.seed is not None:
        body["seed"] = int(config.seed)
    if config.stop:
        body["stop"] = list(config.stop)[:MAX_STOPS]
    if stream:
        body["stream_options"] = {"include_usage": True}
    if isinstance(prompt, str):
        body["prompt"] = prompt
        return "completions", body
    body["messages"] = [{"role": m["role"], "content": m["content"]} for m in prompt]
    if prompt and prompt[-1].get("role") == "assistant":
        body["continue_final_message"] = True
        body["add_generation_prompt"] = False
    return "chat/completions", body


def chunk_text(payload: dict) -> tuple[str, str | None]:
    """(text, finish_reason) of the first choice of one streamed payload (chat or completions)."""
    choices = payload.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return "", None
    choice = choices[0]
    delta = choice.get("delta")
    text = (delta.get("content") if isinstance(delta, dict) else None) or choice.get("text") or ""
    return text if isinstance(text, str) else "", choice.get("finish_reason")


def _socket_of(response: httpx.Response) -> socket.socket | None:
    stream = response.extensions.get("network_stream")
    try:
        return stream.get_extra_info("socket") if stream is not None else None
    except Exception:  # noqa: BLE001 - then closing the response is the fallback
        return None


def _watch_cancel(cancel: threading.Event, response: httpx.Response, done: threading.Event) -> None:
    """Esc must stop the server too: shutting the socket down wakes the blocked read at once and
    the server sees the client go, so it stops generating."""
    while not done.wait(0.05):
        if cancel.is_set():
            sock = _socket_of(response)
            try:
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
                else:
                    response.close()
            except OSError:
                pass
            return


def fill_stats(stats: Any, usage: dict | None, timings: dict | None, chunks: int) -> None:
    """Token counts from the server's own figures when it sends them (usage, llama.cpp timings),
    else the number of streamed chunks (servers send about one token per chunk)."""
    usage, timings = usage or {}, timings or {}
    stats.prompt_tokens = int(usage.get("prompt_tokens") or timings.get("prompt_n") or stats.prompt_tokens or 0)
    stats.new_tokens = int(usage.get("completion_tokens") or timings.get("predicted_n") or chunks)
    drafted, accepted = int(timings.get("draft_n") or 0), int(timings.get("draft_n_accepted") or 0)
    if timings:
        # one target forward per token, less the draft tokens the server accepted for free
        stats.forwards = max(stats.new_tokens - accepted, 1 if stats.new_tokens else 0)
    if drafted:
        stats.source_acceptance = {"server-draft": round(accepted / drafted, 4)}


def generate(lm: ServerModel, prompt: str | list, config: Any, *, on_text: Callable[[str], None] | None = None,
             cancel: threading.Event | None = None, reference_texts: Sequence[str] = (),
             prompt_ids: list[int] | None = None) -> Any:
    """Stream one completion. A cut stream, a timeout mid-way or an error event raises ServerError
    with the text so far as `partial`; a set `cancel` ends it like a local cancel."""
    from engine.generation import GenerationResult
    from engine.stats import GenerationStats

    del reference_texts, prompt_ids  # drafting sources and token ids are the server's business
    path, body = request_body(lm, prompt, config)
    stats = GenerationStats(method="server")
    stopper = StopMatcher(tuple(config.stop))
    emit = on_text or (lambda _chunk: None)
    usage: dict | None = None
    timings: dict | None = None
    chunks, finish, ended = 0, None, False
    started = time.perf_counter()

    def result(reason: str) -> Any:
        if not stopper.stopped:
            tail = stopper.finish()
            if tail:
                emit(tail)
        stats.seconds = time.perf_counter() - started
        stats.stop_reason = reason
        fill_stats(stats, usage, timings, chunks)
        return GenerationResult(stopper.text, [], stats)

    if cancel is not None and cancel.is_set():
        return result("cancelled")
    with lm.client.stream(path, body) as response:
        done = threading.Event()
        if cancel is not None:
            threading.Thread(target=_watch_cancel, args=(cancel, response, done), daemon=True).start()
        try:
            for payload in sse.payloads(response.iter_lines()):
                if isinstance(payload, sse.StreamEnd):
                    ended = True
                    break
                if payload.get("error"):
                    raise ServerError(f"the server at {lm.endpoint.base_url} failed mid-stream: "
                                      f"{_error_text(payload['error'])}")
                usage = payload.get("usage") or usage
                timings = payload.get("timings") or timings
                text, reason = chunk_text(payload)
                if text:
                    if not chunks:
                        stats.prefill_seconds = time.perf_counter() - started
                    chunks += 1
                    out = stopper.feed(text)
                    if out:
                        emit(out)
                finish = reason or finish
                if stopper.stopped:
                    break  # leaving the with-block closes the connection: the server stops too
        except (httpx.HTTPError, ValueError, ServerError) as exc:
            done.set()
            if cancel is not None and cancel.is_set():
                return result("cancelled")
            partial = result("interrupted")
            if isinstance(exc, ServerError):
                kept = " (the text so far is kept)" if partial.text else ""
                raise ServerError(f"{exc}{kept}; see the server's log", partial) from exc
            raise lm.client.failure(exc, path, partial) from exc
        finally:
            done.set()
    if cancel is not None and cancel.is_set() and not (ended or finish or stopper.stopped):
        return result("cancelled")
    if stopper.stopped:
        return result("stop")
    if not (ended or finish):
        partial = result("interrupted")
        raise lm.client.failure(httpx.RemoteProtocolError("the stream ended before [DONE]"), path, partial)
    return result("length" if finish == "length" else "stop" if finish == "stop" and config.stop else "eos")


def _error_text(error: object) -> str:
    text = str(error.get("message") or error) if isinstance(error, dict) else str(error)
    return " ".join(text.split())[:200]
