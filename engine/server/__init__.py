"""An OpenAI-compatible HTTP server as a model backend (llama.cpp's llama-server, Ollama, vLLM,
LM Studio): `connect` gives a ServerModel that `engine.generate` streams from, and `suggest`
asks it for k continuations. Loopback hosts only unless the user allows another host.

Nothing here imports torch, so a server-backed CLI run starts fast.
"""

from engine.server.client import DEFAULT_TIMEOUT, ServerError
from engine.server.endpoint import Endpoint, check_allowed, is_loopback, parse_endpoint
from engine.server.generate import generate
from engine.server.model import ServerModel, connect, probe
from engine.server.suggest import SuggestOutcome, suggest


connect_server = connect  # the names engine's public face gives them
probe_server = probe


def is_server(lm: object) -> bool:
    return bool(getattr(lm, "is_server", False))


__all__ = ["DEFAULT_TIMEOUT", "Endpoint", "ServerError", "ServerModel", "SuggestOutcome", "check_allowed", "connect", "connect_server",
           "generate", "is_loopback", "is_server", "parse_endpoint", "probe", "probe_server", "suggest"]
