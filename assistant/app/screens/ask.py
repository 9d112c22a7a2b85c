"""Ask: one prompt, the answer streaming from the model, with its speed shown."""

from __future__ import annotations

import threading

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Input, Label, Static

from assistant.app import core
from assistant.app.base import DraftpadScreen, attached_only
from assistant.app.stream_relay import StreamRelay


class AskScreen(DraftpadScreen):
    place_name = "ask"
    HELP = "Type a question and press Enter; the answer streams in. Esc stops it."
    BINDINGS = [
        Binding("escape", "stop", "Stop / back", tooltip="Stop the answer being generated, or go back"),
        Binding("ctrl+l", "clear", "Clear", tooltip="Clear the answer"),
    ]
    DEFAULT_CSS = """
    AskScreen #ask-prompt { margin: 1 1 0 1; }
    AskScreen #ask-answer-box { margin: 1; border: round $primary; height: 1fr; padding: 0 1; }
    AskScreen #ask-figures { margin: 0 1; color: $text-muted; height: 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.cancel = threading.Event()
        self.answer = ""
        self.generating = False
        self.relay = StreamRelay(self, self._append)

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="Ask the local model anything, then press Enter", id="ask-prompt")
        with VerticalScroll(id="ask-answer-box"):
            yield Static("", id="ask-answer", markup=False)
        yield Label("", id="ask-figures")

    def on_mount(self) -> None:
        self.query_one("#ask-prompt", Input).focus()

    @on(Input.Submitted, "#ask-prompt")
    def submit(self, event: Input.Submitted) -> None:
        prompt = event.value.strip()
        if not prompt:
            self.notify("Type a question first.", severity="warning")
            return
        if not self.dp.host.ready:
            self.notify("The model is still loading; try again in a moment.", severity="warning")
            return
        self.answer = ""
        self.query_one("#ask-answer", Static).update("")
        self.query_one("#ask-figures", Label).update("generating… (Esc stops)")
        self.cancel = threading.Event()
        self.generating = True
        self.relay = StreamRelay(self, self._append)
        self.ask(prompt, self.cancel, self.relay)

    @work(thread=True, exclusive=True, group="ask")
    def ask(self, prompt: str, cancel: threading.Event, relay: StreamRelay) -> None:
        app, host = self.app, self.dp.host  # self.app no longer resolves here once the screen is left
        try:
            with host.job("answering…"):
                result = core.drafting().ask(host.lm, prompt, max_new_tokens=256, cancel=cancel,
                                             on_text=relay.push)
        except Exception as exc:  # noqa: BLE001 - errors become notifications
            app.call_from_thread(self._failed, core.first_line(exc))
            return
        app.call_from_thread(self._finished, result.stats)

    @attached_only
    def _append(self, chunk: str) -> None:
        self.answer += chunk
        self.query_one("#ask-answer", Static).update(self.answer)

    @attached_only
    def _finished(self, stats: object) -> None:
        self.relay.flush()
        self.generating = False
        last = self.dp.host.record(stats)
        reason = getattr(stats, "stop_reason", "")
        self.query_one("#ask-figures", Label).update(
            f"{last.new_tokens} tokens · {last.tok_s:.1f} tok/s · {last.tokens_per_forward:.2f} tokens/forward"
            + (" · stopped" if reason == "cancelled" else ""))

    @attached_only
    def _failed(self, message: str) -> None:
        self.relay.flush()  # the answer so far stays on screen
        self.generating = False
        self.query_one("#ask-figures", Label).update("")
        self.notify(f"Generation failed: {message}", severity="error")

    def on_unmount(self) -> None:
        self.cancel.set()  # leaving or quitting stops the model instead of leaving it running

    def action_stop(self) -> None:
        if self.generating:
            self.cancel.set()
        else:
            self.dp.action_home()

    def action_clear(self) -> None:
        self.answer = ""
        self.query_one("#ask-answer", Static).update("")
        self.query_one("#ask-figures", Label).update("")
