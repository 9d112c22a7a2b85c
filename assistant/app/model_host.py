"""Owns the one loaded model for the app: loading in the background, one generation at a time.

Nothing here imports textual or torch at module level, so the first screen can mount before
the engine is even imported.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator


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
    activity: str = ""  # what the model is doing now, for the status bar ("" when idle)
    activity_since: float = 0.0
    # Torch is not re-entrant across our decode loops and the CPU is small: one job at a time.
    busy: threading.Lock = field(default_factory=threading.Lock)
    _done: threading.Event = field(default_factory=threading.Event)
    server: Any = None  # engine ServerSettings: generations go to that server instead of a local model
    server_state: str = ""  # "answers" | "not answering" after the last call to the server

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
            from engine import UserError, connect_configured, load_model

            try:
                if self.server is not None:
                    lm = connect_configured(self.server)
                    # Import the generation code now, as a local load does: transformers imported
                    # by two workers at once (a draft and the examples panel) can fail half-way.
                    from engine import GenerationConfig  # noqa: F401
                    self.server_state = "answers"
                    self.lm = lm  # last: `ready` turns true only when all of the above holds
                else:
                    self.lm = load_model(self.spec, self.device, self.dtype)
                self.loaded_seconds = time.monotonic() - self.started_at
            except UserError as exc:
                self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown as a notification, never a traceback
            self.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        finally:
            self._done.set()

    def start(self, on_done: Callable[[], None] | None = None) -> threading.Thread:
        """Load in a daemon thread, then call `on_done` there. Not a Textual thread worker: those
        run in asyncio's default executor, which the app waits for on exit, so Ctrl+Q during a
        first load (dequantising the GGUF takes half a minute) would wait for it. Nothing is lost
        by leaving mid-load: the engine publishes its model cache only once it is complete."""
        def run() -> None:
            self.load()
            if on_done is not None:
                try:
                    on_done()
                except Exception:  # noqa: BLE001 - the app has closed meanwhile
                    pass

        self._thread = threading.Thread(target=run, name="draftpad-model-load", daemon=True)
        self._thread.start()
        return self._thread

    @property
    def loading(self) -> bool:
        thread = getattr(self, "_thread", None)
        return thread is not None and thread.is_alive()

    def begin(self, activity: str) -> None:
        self.activity, self.activity_since = activity, time.monotonic()

    def end(self) -> None:
        self.activity = ""

    @contextmanager
    def job(self, activity: str) -> Iterator[None]:
        """Hold the model for one generation, with `activity` shown in the status bar meanwhile."""
        with self.busy:
            self.begin(activity)
            try:
                yield
                if self.server is not None:
                    self.server_state = "answers"
            except Exception as exc:
                if self.server is not None and type(exc).__name__ == "ServerError":
                    self.server_state = "not answering"
                raise
            finally:
                self.end()

    def wait(self, timeout: float | None = None) -> bool:
        self._done.wait(timeout)
        return self.ready

    @property
    def name(self) -> str:
        if self.server is not None:
            return self.lm.name if self.lm is not None else f"server {self.server.url}"
        return "SmolLM2-135M" if self.spec == "default" else self.spec.rstrip("/").split("/")[-1]

    def describe(self) -> str:
        if self.lm is None:
            return self.name
        if getattr(self.lm, "is_server", False):
            endpoint = self.lm.endpoint
            # a host other than this machine is said plainly: the document leaves the machine
            where = f"server {endpoint.address}" if endpoint.loopback else f"REMOTE server {endpoint.address}"
            return " · ".join(p for p in (self.name, where, self.server_state) if p)
        device = str(self.lm.device)
        dtype = str(self.lm.dtype).replace("torch.", "")
        if getattr(self.lm, "weights", "") == "fp16":
            dtype += " (fp16 weights)"
        return f"{self.name} · {device} · {dtype}"

    def record(self, stats: Any) -> LastRun:
        """Keep the figures of a finished generation (a GenerationStats)."""
        fields = {name: getattr(stats, name, None) for name in
                  ("tok_s", "tokens_per_forward", "new_tokens", "method", "seconds", "prefill_seconds",
                   "speedup", "baseline_tok_s")}
        return self.record_dict({k: v for k, v in fields.items() if v is not None})

    def record_dict(self, stats: dict) -> LastRun:
        """The same figures from a stored version's stats (the drafting core keeps them as a dict)."""
        self.last = LastRun(float(stats.get("tok_s", 0.0)), float(stats.get("tokens_per_forward", 0.0)),
                            int(stats.get("new_tokens", 0)), speedup_of(stats, self.baseline_tok_s),
                            str(stats.get("method", "")))
        return self.last

    def baseline_tok_s(self) -> float | None:
        """The engine's estimate of plain greedy speed on this device, once it has measured it."""
        if self.lm is None or getattr(self.lm, "is_server", False):  # a server's speed is its own
            return None
        try:
            from engine import baseline_tok_s

            return float(baseline_tok_s(self.lm))
        except Exception:  # noqa: BLE001 - no estimate: the status bar leaves speedup out
            return None


# Below this many new tokens a run's speed is mostly its first forwards and the clock's noise: a
# 13-token redraft showed "0.61x speedup" for a decoder that is 2-3x faster over a section.
MIN_TOKENS_FOR_SPEEDUP = 24


def speedup_of(stats: dict, baseline: Callable[[], float | None]) -> float | None:
    """Decoding speed over plain greedy: the engine's own figure, else decode tok/s / baseline.

    Prefill time is left out so a long prompt does not hide the decoder's gain; plain greedy
    decoding, and a run too short to say, have no speedup to show."""
    if int(stats.get("new_tokens") or 0) < MIN_TOKENS_FOR_SPEEDUP:
        return None
    if stats.get("speedup"):
        return float(stats["speedup"])
    decode_seconds = float(stats.get("seconds", 0.0)) - float(stats.get("prefill_seconds", 0.0))
    if stats.get("method") == "greedy" or decode_seconds <= 0:
        return None
    reference = stats.get("baseline_tok_s") or baseline()
    return float(stats["new_tokens"]) / decode_seconds / float(reference) if reference else None

