"""Helpers shared by the app's Pilot tests: start the app on the tiny model and wait for things."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from textual.pilot import Pilot

from assistant.app.app import DraftpadApp
from assistant.app.stream_relay import StreamRelay

SIZE = (120, 40)


def make_app(model_dir: Path, **kwargs: object) -> DraftpadApp:
    return DraftpadApp(model=str(model_dir), **kwargs)  # type: ignore[arg-type]


async def until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    """Let the app run until condition() holds; fail with `what` after `timeout` seconds."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.05)


async def ready(pilot: Pilot) -> None:
    """The model is loaded and the home screen has its data."""
    app = pilot.app
    await until(pilot, lambda: app.host.state in ("ready", "failed"), what="model load")
    assert app.host.ready, app.host.error
    await until(pilot, lambda: any(getattr(s, "loaded", False) for s in app.screen_stack), what="home data")
    await pilot.pause()


async def open_editor(pilot: Pilot, session_id: int, section_id: int):
    """The app's editor on one section of a session, once the model is ready and the section shown."""
    app = pilot.app
    await ready(pilot)
    app.open_session(session_id, section_id)
    await until(pilot, lambda: screen_name(pilot) == "EditorScreen" and app.screen.section is not None)
    return app.screen


def screen_name(pilot: Pilot) -> str:
    return type(pilot.app.screen).__name__


class Gate:
    """Holds the model mid-generation: once `when()` is true, the worker that streams the model's
    text into the app waits (inside its next hand-over of text, StreamRelay.push) until released,
    so a test can press keys while a generation is certainly still running. It holds the worker,
    not a forward, so it works whichever forward the engine runs (ours or transformers'). The
    hand-over is patched for the whole class until release(). `after_chars`: hold once that
    much text has been handed over (the screen shows streamed text a few times a second, so a
    fast tiny model may finish before the screen shows any)."""

    def __init__(self, app: DraftpadApp, when: Callable[[], bool] | None = None, after_chars: int = 0) -> None:
        self.pushed = 0
        self.when = when or (lambda: self.pushed >= after_chars)
        self.reached = threading.Event()
        self.opened = threading.Event()
        self._original = original = StreamRelay.push

        def push(relay: StreamRelay, chunk: str) -> None:
            # always a worker thread. One hold: once reached, `when` is not asked again (it may
            # read widgets of a screen the test has since left, from another worker's hand-over)
            self.pushed += len(chunk)
            if not self.reached.is_set() and self.when():
                self.reached.set()
                self.opened.wait(timeout=120)
            original(relay, chunk)

        StreamRelay.push = push  # type: ignore[method-assign]

    def release(self) -> None:
        StreamRelay.push = self._original  # type: ignore[method-assign]
        self.opened.set()
