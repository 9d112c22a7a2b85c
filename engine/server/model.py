"""A model served over HTTP, standing where a LoadedModel stands: `engine.generate` and the
suggestion path see `is_server` and send the work to the server instead of decoding here."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from engine.errors import UserError
from engine.server.client import DEFAULT_TIMEOUT, ServerClient, ServerError
from engine.server.endpoint import Endpoint, check_allowed, parse_endpoint


@dataclass
class ServerModel:
    endpoint: Endpoint
    model: str
    client: ServerClient = field(repr=False)
    available: tuple[str, ...] = ()  # what the server listed at connect
    load_seconds: float = 0.0
    # None until the first k-suggestion request shows whether the server honours `n`
    honours_n: bool | None = None
    is_server: bool = True

    @property
    def identity(self) -> str:
        """What the log and the versions record as the model; never holds the API key."""
        return f"{self.model}@{self.endpoint.base_url}"

    @property
    def name(self) -> str:
        return self.model.rstrip("/").split("/")[-1]

    @property
    def device(self) -> str:
        return f"server {self.endpoint.address}"

    @property
    def dtype(self) -> str:
        return "server"

    def close(self) -> None:
        self.client.close()


def list_models(client: ServerClient) -> tuple[str, ...]:
    data = client.get_json("models")
    items = data.get("data", data.get("models", [])) if isinstance(data, dict) else data
    names = []
    for item in items if isinstance(items, list) else []:
        name = item.get("id") or item.get("name") or item.get("model") if isinstance(item, dict) else item
        if isinstance(name, str) and name:
            names.append(name)
    return tuple(dict.fromkeys(names))


def api_key_from(env_name: str | None) -> str | None:
    """The key lives only in the environment variable the config names, never in a file."""
    if not env_name:
        return None
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise UserError(f"the config names ${env_name} for the server's API key, but it is not set")
    return value


def connect(url: str, model: str | None = None, *, allow_hosts: object = (), api_key_env: str | None = None,
            timeout: float = DEFAULT_TIMEOUT) -> ServerModel:
    """Check the host is allowed, ask the server what it serves, and pick the model: the one
    named, else the first the server lists."""
    started = time.perf_counter()
    endpoint = parse_endpoint(url)
    check_allowed(endpoint, allow_hosts)
    client = ServerClient(endpoint, api_key_from(api_key_env), timeout)
    try:
        try:
            available = list_models(client)
        except ServerError as exc:
            # A server without /models can still serve a model the user names.
            if not model or "answered 404" not in str(exc):
                raise
            available = ()
        if model and available and model not in available:
            raise UserError(f"the server at {endpoint.base_url} has no model '{model}' (it serves: "
                            f"{', '.join(available[:8])}); check --server-model")
        chosen = model or (available[0] if available else "")
        if not chosen:
            raise UserError(f"the server at {endpoint.base_url} lists no model: name one with --server-model")
    except BaseException:
        client.close()
        raise
    return ServerModel(endpoint, chosen, client, available, time.perf_counter() - started)


def probe(lm: ServerModel) -> str:
    """One line for the status bar and `doctor`: does the server answer, and still serve the model?"""
    started = time.perf_counter()
    try:
        names = list_models(lm.client)
    except UserError as exc:
        return f"not answering: {exc}"
    ms = (time.perf_counter() - started) * 1000
    if names and lm.model not in names:
        return f"answers in {ms:.0f} ms, but no longer lists '{lm.model}'"
    return f"answers in {ms:.0f} ms"
