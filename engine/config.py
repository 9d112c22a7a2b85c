"""draftpad's small persistent settings: `config.toml` in the data dir, edited with
`draftpad config set/get/show`. For now it holds where the model server is.

No secret is ever stored: an API key is read from the environment variable that `api_key_env`
names, at the moment of connecting.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from engine.errors import UserError

FILE_NAME = "config.toml"
CONFIG_KEYS: dict[str, str] = {
    "server": "URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 ('' for the embedded engine)",
    "server_model": "model name on that server (default: the first it lists)",
    "allow_hosts": "comma-separated hosts other than this machine that draftpad may contact",
    "api_key_env": "name of the environment variable holding the server's API key",
    "timeout": "seconds to wait for the server between bytes (default 120)",
}
LOCAL = {"local", "none", "off", "embedded"}  # `--server local` ignores a configured server
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def config_path() -> Path:
    from engine.paths import data_dir

    return data_dir() / FILE_NAME


def load_config(path: Path | None = None) -> dict[str, Any]:
    path = path or config_path()
    if not path.is_file():
        return {}
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"cannot read {path}: {str(exc).splitlines()[0]} (fix or delete the file)") from exc
    return {k: v for k, v in values.items() if k in CONFIG_KEYS}


def parse_value(key: str, text: str) -> Any:
    """A command-line value as the config stores it; raises UserError for what cannot be stored."""
    if key in ("api_key", "key", "token", "password"):
        raise UserError("draftpad never stores a key: put it in an environment variable and "
                        "`draftpad config set api_key_env VAR`")
    if key not in CONFIG_KEYS:
        raise UserError(f"unknown config key '{key}' (keys: {', '.join(CONFIG_KEYS)})")
    text = text.strip()
    if key == "allow_hosts":
        from engine.server.endpoint import normalise_hosts

        return list(normalise_hosts(text))
    if key == "timeout":
        try:
            seconds = float(text)
        except ValueError as exc:
            raise UserError(f"timeout must be a number of seconds, not '{text}'") from exc
        if seconds <= 0:
            raise UserError("timeout must be more than 0 seconds")
        return seconds
    if key == "api_key_env" and text and not _ENV_NAME.match(text):
        raise UserError("api_key_env is the NAME of an environment variable (like OPENAI_API_KEY), not the key")
    if key == "server" and text and text.lower() not in LOCAL:
        from engine.server.endpoint import parse_endpoint

        return parse_endpoint(text).base_url
    return "" if key == "server" and text.lower() in LOCAL else text


def _toml_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value)) if isinstance(value, float) else str(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def dump_config(values: Mapping[str, Any]) -> str:
    lines = ["# draftpad settings: edit with `draftpad config set KEY VALUE`. No secrets here."]
    lines += [f"{key} = {_toml_value(values[key])}" for key in CONFIG_KEYS if key in values]
    return "\n".join(lines) + "\n"


def save_config(values: Mapping[str, Any], path: Path | None = None) -> Path:
    path = path or config_path()
    handle, staging = tempfile.mkstemp(prefix=".config-", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as fh:
        fh.write(dump_config(values))
    os.replace(staging, path)
    return path


def set_config_value(key: str, text: str, path: Path | None = None) -> dict[str, Any]:
    values = load_config(path)
    value = parse_value(key, text)
    if value in ("", []):
        values.pop(key, None)
    else:
        values[key] = value
    save_config(values, path)
    return values


def unset_config_value(key: str, path: Path | None = None) -> dict[str, Any]:
    if key not in CONFIG_KEYS:
        raise UserError(f"unknown config key '{key}' (keys: {', '.join(CONFIG_KEYS)})")
    values = load_config(path)
    values.pop(key, None)
    save_config(values, path)
    return values


@dataclass(frozen=True)
class ServerSettings:
    url: str
    model: str | None
    allow_hosts: tuple[str, ...]
    api_key_env: str | None
    timeout: float
    source: str  # where the URL came from: flag | env | config


def server_settings(url: str | None = None, model: str | None = None, allow_hosts: object = (),
                    env: Mapping[str, str] | None = None, config: Mapping[str, Any] | None = None
                    ) -> ServerSettings | None:
    """The server to use, if any: a flag beats DRAFTPAD_SERVER beats the config file; None means
    the embedded engine. Allowed hosts from the flag and the config add up."""
    from engine.server.client import DEFAULT_TIMEOUT
    from engine.server.endpoint import normalise_hosts

    env = os.environ if env is None else env
    config = load_config() if config is None else config
    for chosen, source in ((url, "flag"), (env.get("DRAFTPAD_SERVER"), "env"), (config.get("server"), "config")):
        if chosen is not None and str(chosen).strip() != "":
            break
    else:
        return None
    if str(chosen).strip().lower() in LOCAL:
        return None
    name = model or env.get("DRAFTPAD_SERVER_MODEL") or config.get("server_model") or None
    hosts = normalise_hosts(allow_hosts) + normalise_hosts(config.get("allow_hosts"))
    timeout = float(config.get("timeout") or DEFAULT_TIMEOUT)
    return ServerSettings(str(chosen).strip(), name, tuple(dict.fromkeys(hosts)), config.get("api_key_env") or None,
                          timeout, source)


def connect_configured(settings: ServerSettings) -> Any:
    from engine.server import connect

    return connect(settings.url, settings.model, allow_hosts=settings.allow_hosts, api_key_env=settings.api_key_env,
                   timeout=settings.timeout)
