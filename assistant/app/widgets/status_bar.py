"""The bottom status line: model, device, loading progress and the last generation's figures."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from assistant.app.model_host import ModelHost


def describe_last(host: ModelHost, now: float | None = None) -> str:
    if host.activity:
        return f"{host.activity} {(now or time.monotonic()) - host.activity_since:.0f}s"
    last = host.last
    if last is None:
        return "no generation yet"
    parts = [f"{last.tok_s:.1f} tok/s", f"{last.tokens_per_forward:.2f} tok/fwd"]
    if last.speedup is not None:
        parts.append(f"{last.speedup:.2f}x speedup")
    return " · ".join(parts)


def describe_model(host: ModelHost, now: float | None = None) -> str:
    state = host.state
    if state == "ready":
        return host.describe()
    if state == "failed":
        return f"model failed: {host.error}"
    if state == "idle":
        return f"{host.name} (not loaded)"
    elapsed = (now or time.monotonic()) - host.started_at
    return f"loading {host.name} … {elapsed:.0f}s"


class StatusBar(Horizontal):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    StatusBar #status-model { width: auto; }
    StatusBar #status-progress { width: 16; margin: 0 1; }
    StatusBar #status-progress Bar { width: 14; }
    StatusBar #status-last { width: 1fr; text-align: right; }
    """

    def __init__(self, host: ModelHost) -> None:
        super().__init__(id="status-bar")
        self.host = host
        self._shown: dict[str, str] = {}  # the text each label shows now

    def compose(self) -> ComposeResult:
        yield Static(describe_model(self.host), id="status-model")
        bar = ProgressBar(total=None, show_eta=False, show_percentage=False, id="status-progress")
        bar.display = self.host.state == "loading"  # right from the first frame, not half a second later
        yield bar
        yield Static(describe_last(self.host), id="status-last")

    def on_mount(self) -> None:
        self.set_interval(0.5, self.refresh_figures)

    def refresh_figures(self) -> None:
        # Only what changed: an update re-lays out the screen, and every stacked screen's bar ticks,
        # which kept an idle app at 7-17% of a core.
        for widget_id, text in (("#status-model", describe_model(self.host)), ("#status-last", describe_last(self.host))):
            if self._shown.get(widget_id) != text:
                self._shown[widget_id] = text
                self.query_one(widget_id, Static).update(text)
        bar = self.query_one("#status-progress")
        loading = self.host.state == "loading"
        if bar.display != loading:
            bar.display = loading
