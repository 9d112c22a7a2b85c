"""llama.cpp's `llama-server` as a bench peer: started by the bench on loopback with the same GGUF
and thread count, fed the same prompt token ids, timed end to end the way draftpad rows are.

Each request disables the server's prompt cache, so every row pays for its own prefill, as the
draftpad rows (each in a fresh state) do. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

START_TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LlamaServer:
    binary: Path
    gguf: Path
    threads: int
    spec_type: str | None = None  # e.g. "ngram-mod"; None = plain decoding
    port: int = 0
    _proc: subprocess.Popen | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)  # the server's stderr, read when it fails

    @property
    def label(self) -> str:
        return "llama.cpp" + (f" {self.spec_type}" if self.spec_type else "")

    def start(self) -> None:
        from engine.errors import UserError

        # a SIGTERM (e.g. from `timeout`) would end Python without running the bench's `finally`
        # and leave the servers behind; as SystemExit it unwinds and stops them
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        self.port = _free_port()
        cmd = [str(self.binary), "-m", str(self.gguf), "--host", "127.0.0.1", "--port", str(self.port),
               "-t", str(self.threads), "-tb", str(self.threads), "-np", "1", "-c", "4096"]
        if self.spec_type:
            cmd += ["--spec-type", self.spec_type]
        # its log goes to a file, not a pipe nobody drains (a full pipe would stall the server),
        # and not --log-disable, which some builds crash on (seen: build 11434, signal 11)
        self._log = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._log)
        except OSError as exc:
            raise UserError(f"cannot start {self.binary}: {exc.strerror or exc}") from exc
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise UserError(f"{self.label} exited at start: {self._exit_reason()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.3)
        self.stop()
        raise UserError(f"{self.label} did not become ready within {START_TIMEOUT:.0f} s")

    def complete(self, prompt_ids: list[int], max_new: int) -> tuple[list[int], float]:
        """Greedy completion of the token ids: (new tokens, end-to-end seconds)."""
        body = json.dumps({"prompt": prompt_ids, "n_predict": max_new, "temperature": 0.0, "top_k": 1,
                           "cache_prompt": False, "return_tokens": True, "stream": False}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/completion", data=body,
                                         headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=600) as resp:
            payload = json.loads(resp.read())
        seconds = time.perf_counter() - started
        return [int(t) for t in payload.get("tokens", [])], seconds

    def _exit_reason(self) -> str:
        code = self._proc.returncode if self._proc is not None else None
        if code is not None and code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit status {code}, no message"

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
