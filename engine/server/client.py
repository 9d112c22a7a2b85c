"""HTTP to one OpenAI-compatible server (httpx), and every failure as one line the user can act on.

The client never reads proxy settings or .netrc from the environment (`trust_env=False`): a
proxy variable must not silently route a private document through another machine.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Callable, Iterator

import httpx

from engine.errors import UserError
from engine.server.endpoint import Endpoint

DEFAULT_TIMEOUT = 120.0  # seconds between bytes: a 7B model on a laptop CPU can take a minute to read a long prompt
CONNECT_TIMEOUT = 5.0


class ServerError(UserError):
    """A server that is down, refuses, fails or cuts a stream. `partial` holds the result so far
    (a GenerationResult) when text had already streamed, so callers can keep it as a version."""

    def __init__(self, message: str, partial: Any = None) -> None:
        super().__init__(message)
        self.partial = partial


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def error_message(body: bytes | str) -> str:
    """The message in an error body: OpenAI's {"error": {"message"}}, vLLM's {"message"},
    FastAPI's {"detail"}, or the text itself."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        value = json.loads(text)
    except ValueError:
        return _one_line(text) or "(empty body)"
    if isinstance(value, dict):
        err = value.get("error", value)
        if isinstance(err, dict):
            for key in ("message", "detail", "msg"):
                if err.get(key):
                    return _one_line(err[key] if isinstance(err[key], str) else json.dumps(err[key]))
        elif isinstance(err, str):
            return _one_line(err)
    return _one_line(text)


def status_hint(status: int, message: str) -> str:
    lowered = message.lower()
    if status in (401, 403):
        return "it wants an API key: `draftpad config set api_key_env VAR` names the environment variable holding it"
    if "model" in lowered and (status == 404 or "not found" in lowered or "does not exist" in lowered):
        return "check --server-model (`draftpad doctor` lists the models the server has)"
    if status == 404:
        return "check the URL: it should be the API root, usually ending in /v1"
    if status == 400 and ("context" in lowered or "too long" in lowered or "exceed" in lowered):
        return "the prompt is longer than the server's context: start the server with a larger context"
    if status == 503 and "loading" in lowered:
        return "the server is still loading its model: try again in a moment"
    if status >= 500:
        return "the server failed: see its log"
    return "see the server's log"


class ServerClient:
    def __init__(self, endpoint: Endpoint, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = endpoint
        self.timeout = float(timeout)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(timeout=httpx.Timeout(self.timeout, connect=min(CONNECT_TIMEOUT, self.timeout)),
                                 headers=headers, trust_env=False, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    # ---- failures ---------------------------------------------------------------------------

    def failure(self, exc: Exception, path: str, partial: Any = None) -> ServerError:
        base = self.endpoint.base_url
        kept = " (the text so far is kept)" if partial is not None and getattr(partial, "text", "") else ""
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            reason = _one_line(str(exc) or type(exc).__name__, 80)
            msg = (f"no server answers at {base} ({reason}): start it (e.g. `llama-server -m MODEL.gguf "
                   f"--port {self.endpoint.port}`) or point --server at the right URL")
        elif isinstance(exc, httpx.TimeoutException):
            msg = (f"the server at {base} did not answer within {self.timeout:g} s{kept}: it may be busy or the "
                   f"model too slow for this machine; `draftpad config set timeout SECONDS` waits longer")
        elif isinstance(exc, httpx.HTTPStatusError):
            status = exc.response.status_code
            message = error_message(exc.response.content) if exc.response.is_closed else ""
            msg = f"the server at {base} answered {status} to /{path}: {message or exc.response.reason_phrase}; " \
                  f"{status_hint(status, message)}"
        elif isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, ValueError)):
            reason = _one_line(str(exc) or type(exc).__name__, 80)
            msg = f"the server at {base} cut the stream mid-way ({reason}){kept}: see the server's log and try again"
        else:
            msg = f"the server at {base} failed: {_one_line(str(exc) or type(exc).__name__)}"
        return ServerError(msg, partial)

    def _raise_for_status(self, response: httpx.Response, path: str) -> None:
        if response.status_code >= 400:
            response.read()
            raise self.failure(httpx.HTTPStatusError("", request=response.request, response=response), path)

    # ---- requests ---------------------------------------------------------------------------

    def get_json(self, path: str) -> Any:
        return self._json(path, lambda: self.http.get(self.endpoint.url(path)),
                          " is this an OpenAI-compatible API root?")

    def post_json(self, path: str, body: dict) -> Any:
        return self._json(path, lambda: self.http.post(self.endpoint.url(path), json=body))

    def _json(self, path: str, send: Callable[[], httpx.Response], hint: str = "") -> Any:
        try:
            response = send()
        except httpx.HTTPError as exc:
            raise self.failure(exc, path) from exc
        self._raise_for_status(response, path)
        try:
            return response.json()
        except ValueError as exc:
            raise ServerError(f"the server at {self.endpoint.base_url} sent no JSON for /{path}:{hint}".rstrip(":")) from exc

    @contextlib.contextmanager
    def stream(self, path: str, body: dict) -> Iterator[httpx.Response]:
        """An open streaming response with a good status; errors before the first byte raise."""
        try:
            with self.http.stream("POST", self.endpoint.url(path), json=body) as response:
                self._raise_for_status(response, path)
                yield response
        except httpx.HTTPError as exc:
            raise self.failure(exc, path) from exc
