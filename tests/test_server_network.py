"""With a server configured, draftpad contacts that host and port and nothing else: a whole CLI
run in a subprocess under a guard that lets exactly that address through and records every other
connection or name lookup (tests/netguard.py does the blocking)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.fake_openai_server import FakeServer

ROOT = Path(__file__).resolve().parents[1]

# Run inside the child: netguard blocks everything; this lets one (host, port) pass and logs it.
GUARD = r"""
import socket, sys
from tests import netguard
host, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
netguard.install()
orig = netguard._originals

def note(line):
    with open(log, "a") as fh:
        fh.write(line + "\n")

def allowed(address):
    return isinstance(address, tuple) and address[:2] == (host, port)

def connect(self, address):
    if netguard._is_inet(self) and allowed(address):
        note(f"allowed connect {address[0]}:{address[1]}")
        return orig["connect"](self, address)
    return netguard._connect(self, address)

def getaddrinfo(h, p, *args, **kwargs):
    if (h, p) == (host, port):
        return orig["getaddrinfo"](h, p, *args, **kwargs)
    return netguard._getaddrinfo(h, p, *args, **kwargs)

def create_connection(address, *args, **kwargs):
    if allowed(address):
        note(f"allowed create_connection {address[0]}:{address[1]}")
        return orig["create_connection"](address, *args, **kwargs)
    return netguard._create_connection(address, *args, **kwargs)

socket.socket.connect = connect
socket.getaddrinfo = getaddrinfo
socket.create_connection = create_connection
from assistant.cli import main
sys.exit(main(sys.argv[4:]))
"""


def guarded(args: list[str], host: str, port: int, log: Path, home: Path, extra_env: dict | None = None):
    env = {**os.environ, "DRAFTPAD_HOME": str(home), "DRAFTPAD_NETGUARD_LOG": str(log),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **(extra_env or {})}
    return subprocess.run([sys.executable, "-c", GUARD, host, str(port), str(log), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_only_the_configured_server_is_contacted(tmp_path: Path, draftpad_home: Path) -> None:
    log = tmp_path / "net.log"
    with FakeServer(reply="Rent is due on the fifth.") as fake:
        # the server comes from the config file, as a person sets it up once
        (draftpad_home).mkdir(parents=True, exist_ok=True)
        (draftpad_home / "config.toml").write_text(f'server = "{fake.url}"\n')
        proc = guarded(["generate", "When is rent due?", "--json"], "127.0.0.1", fake.port, log, draftpad_home,
                       {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"})
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout.strip().splitlines()[-1])["text"] == "Rent is due on the fifth."
        served = len(fake.requests)
    lines = log.read_text().splitlines()
    assert lines and all(line.startswith("allowed ") and line.endswith(f"127.0.0.1:{fake.port}") for line in lines), lines
    assert served >= 2  # /models at connect, then the completion


def test_a_host_that_is_not_allowed_is_never_tried(tmp_path: Path, draftpad_home: Path) -> None:
    log = tmp_path / "net.log"
    proc = guarded(["generate", "hi", "--server", "http://gpu-box.lan:8000/v1"], "127.0.0.1", 1, log, draftpad_home)
    assert proc.returncode == 2 and "not on this machine" in proc.stderr and "--allow-host gpu-box.lan" in proc.stderr
    assert not log.exists()  # not even a name lookup
    # allowed explicitly, that host (and only it) is what draftpad reaches for
    proc = guarded(["generate", "hi", "--server", "http://gpu-box.lan:8000/v1", "--allow-host", "gpu-box.lan"],
                   "127.0.0.1", 1, log, draftpad_home)
    assert proc.returncode == 2 and "no server answers at http://gpu-box.lan:8000/v1" in proc.stderr
    assert log.read_text().splitlines() == ["create_connection ('gpu-box.lan', 8000)"]
