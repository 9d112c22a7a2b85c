"""Blocks and records every attempt to open an internet connection or resolve a host name.

Used in-process (fixture `no_network`) and in subprocesses (`python -m tests.netguard draftpad ...`),
so a test can prove a whole draftpad run never tried to reach the network.
"""

from __future__ import annotations

import os
import socket
import sys

ATTEMPTS: list[str] = []
_LOG = os.environ.get("DRAFTPAD_NETGUARD_LOG")


class NetworkBlocked(OSError):
    pass


def _record(what: str) -> None:
    ATTEMPTS.append(what)
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(what + "\n")
    raise NetworkBlocked(f"network access blocked in tests: {what}")


def _is_inet(sock: socket.socket) -> bool:
    return sock.family in (socket.AF_INET, socket.AF_INET6)


_originals = {
    "connect": socket.socket.connect,
    "connect_ex": socket.socket.connect_ex,
    "getaddrinfo": socket.getaddrinfo,
    "create_connection": socket.create_connection,
}


def _connect(self: socket.socket, address: object) -> None:
    if _is_inet(self):
        _record(f"connect {address!r}")
    return _originals["connect"](self, address)


def _connect_ex(self: socket.socket, address: object) -> int:
    if _is_inet(self):
        _record(f"connect_ex {address!r}")
    return _originals["connect_ex"](self, address)


def _getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
    _record(f"getaddrinfo {host!r}")
    return []


def _create_connection(address: object, *args: object, **kwargs: object) -> socket.socket:
    _record(f"create_connection {address!r}")
    raise AssertionError("unreachable")


def install() -> None:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _getaddrinfo  # type: ignore[assignment]
    socket.create_connection = _create_connection  # type: ignore[assignment]


def uninstall() -> None:
    socket.socket.connect = _originals["connect"]  # type: ignore[method-assign]
    socket.socket.connect_ex = _originals["connect_ex"]  # type: ignore[method-assign]
    socket.getaddrinfo = _originals["getaddrinfo"]  # type: ignore[assignment]
    socket.create_connection = _originals["create_connection"]  # type: ignore[assignment]


if __name__ == "__main__":
    # python -m tests.netguard draftpad ARGS...: run the CLI with the guard in place
    install()
    from assistant.cli import main

    sys.exit(main(sys.argv[2:] if sys.argv[1:2] == ["draftpad"] else sys.argv[1:]))
