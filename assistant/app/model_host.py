"""Owns the one loaded model for the app: loading in the background, one generation at a time.

Nothing here imports textual or torch at module level, so the first screen can mount before
the engine is even imported.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LastRun:
    """What the status bar shows about the most recent generation."""

    tok_s: float = 0.0
    tokens_per_forward: float = 0.0
    new_tokens: int = 0
    speedup: float | None = None
    method: str = ""


@dataclass
class ModelHost:
    spec: str = "default"
    device: str = "auto"
    dtype: str = "auto"
    lm: Any = None
    error: str = ""
    started_at: float = 0.0
    loaded_seconds: float = 0.0
    last: LastRun | None = None
    # Torch is not re-entrant across our decode loops and the CPU is small: one job at a time.
    busy: threading.Lock = field(default_factory=threading.Lock)
    _done: threading.Event = field(default_factory=threading.Event)

    @property
    def ready(self) -> bool:
        return self.lm is not None

    @property
    def state(self) -> str:
        if self.lm is not None:
            return "ready"
        if self.error:
            return "failed"
        return "loading" if self.started_at else "idle"

    def load(self) -> None:
        """Blocking; meant for a worker thread. Errors are kept as one line for the UI."""
        self.started_at = time.monotonic()
        try:
            from engine import load_model
            from engine.errors import UserError

            try:
                self.lm = load_model(self.spec, self.device, self.dtype)
                self.loaded_seconds = time.monotonic() - self.started_at
            except UserError as exc:
                self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown as a notification, never a traceback
            self.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._done.wait(timeout)
        return self.ready

    @property
    def name(self) -> str:
        return "SmolLM2-135M" if self.spec == "default" else self.spec.rstrip("/").split("/")[-1]

    def describe(self) -> str:
        if self.lm is None:
            return self.name
        device = str(self.lm.device)
        dtype = str(self.lm.dtype).replace("torch.", "")
        return f"{self.name} · {device} · {dtype}"

    def record(self, stats: Any) -> LastRun:
        """Keep the figures of a finished generation; speedup when the engine gives a baseline."""
        speedup = getattr(stats, "speedup", None)
        baseline = getattr(stats, "baseline_tok_s", None)
        if speedup is None and baseline:
            speedup = stats.tok_s / baseline if baseline > 0 else None
        self.last = LastRun(stats.tok_s, stats.tokens_per_forward, stats.new_tokens, speedup, stats.method)
        return self.last

    def record_dict(self, stats: dict) -> LastRun:
        """The same figures from a stored version's stats (the drafting core keeps them as a dict)."""
        speedup = stats.get("speedup")
        self.last = LastRun(float(stats.get("tok_s", 0.0)), float(stats.get("tokens_per_forward", 0.0)),
                            int(stats.get("new_tokens", 0)), float(speedup) if speedup else None,
                            str(stats.get("method", "")))
        return self.last

