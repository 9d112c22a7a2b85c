"""Which server a URL names, and whether draftpad may talk to it.

Privacy is the default: only loopback hosts are contacted unless the user names another host
explicitly (`--allow-host HOST` or `allow_hosts` in the config). The check is on the host as
written, never on what it resolves to, so no name lookup happens before the user has allowed it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from engine.errors import UserError

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # e.g. http://127.0.0.1:8080/v1 (no trailing slash)
    scheme: str
    host: str
    port: int

    @property
    def address(self) -> str:
        """host:port, the one place this endpoint connects to."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower().rstrip(".")
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_endpoint(url: str) -> Endpoint:
    """`http://host:port[/v1]` -> an Endpoint whose base URL ends in the API root (`/v1` when the
    URL has no path, as every OpenAI-compatible server serves the API there)."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise UserError(f"server URL '{url}' must start with http:// or https://")
    if not parts.hostname:
        raise UserError(f"server URL '{url}' names no host (e.g. http://127.0.0.1:8080/v1)")
    if parts.username or parts.password:
        raise UserError("put no credentials in the server URL: name an environment variable with "
                        "`draftpad config set api_key_env VAR` instead")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UserError(f"server URL '{url}' has a bad port") from exc
    path = parts.path.rstrip("/") or "/v1"
    netloc = parts.netloc
    base = urlunsplit((parts.scheme, netloc, path, "", ""))
    return Endpoint(base, parts.scheme, parts.hostname, port)


def normalise_hosts(hosts: object) -> tuple[str, ...]:
    """Allowed hosts from a flag, env or config value: a list, or one comma-separated string."""
    if not hosts:
        return ()
    items = hosts.split(",") if isinstance(hosts, str) else [str(h) for h in hosts]  # type: ignore[union-attr]
    return tuple(dict.fromkeys(h.strip().strip("[]").lower() for h in items if h.strip()))


def check_allowed(endpoint: Endpoint, allow_hosts: object = ()) -> None:
    if endpoint.loopback or endpoint.host.lower() in normalise_hosts(allow_hosts):
        return
    raise UserError(
        f"{endpoint.base_url} is not on this machine: draftpad only talks to loopback servers unless "
        f"you allow the host (--allow-host {endpoint.host}, or `draftpad config set allow_hosts {endpoint.host}`)")
