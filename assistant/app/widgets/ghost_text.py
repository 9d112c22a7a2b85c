"""A TextArea that offers model continuations as ghost text while the person types.

After a pause in typing it asks a provider for k continuations of the text before the cursor
(in a thread worker, exclusive, so a newer request supersedes an older one) and shows the first
as the TextArea's `suggestion`. Tab accepts, Alt+n / Alt+p cycle (Alt+] / Alt+[ too, where the
terminal passes them on: tmux does not), Esc dismisses, Alt+s lists all of them. Any keypress cancels the pending request, so typing is
never held up by the model.
"""

from __future__ import annotations

import threading
from typing import Callable

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import TextArea

# (prefix, cancel) -> continuations, best first. Runs in a worker thread.
SuggestionProvider = Callable[[str, threading.Event], list[str]]

NEXT_KEYS = ("alt+right_square_bracket", "alt+n")
PREVIOUS_KEYS = ("alt+left_square_bracket", "alt+p")
LIST_KEYS = ("alt+s",)
# Keys that change the text and so start a new typing pause.
EDITING_KEYS = ("enter", "backspace", "delete")


def one_line(text: str) -> str:
    """Ghost text is drawn on the cursor's line only, so a suggestion stops at its first line break."""
    return "".join(ch for ch in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")[0]
                   if ch.isprintable() or ch == "\t")


class GhostTextArea(TextArea):
    """TextArea with Copilot-style suggestions from a pluggable provider."""

    BINDINGS = [
        Binding(",".join(NEXT_KEYS), "next_suggestion", "Next suggestion", show=False,
                tooltip="Show the next ghost-text suggestion"),
        Binding(",".join(PREVIOUS_KEYS), "previous_suggestion", "Previous suggestion", show=False,
                tooltip="Show the previous ghost-text suggestion"),
        Binding(",".join(LIST_KEYS), "list_suggestions", "All suggestions", show=False,
                tooltip="List every suggestion for the text before the cursor"),
    ]

    class SuggestionsReady(Message):
        def __init__(self, area: "GhostTextArea", choices: list[str]) -> None:
            super().__init__()
            self.area = area
            self.choices = choices

    class ListRequested(Message):
        """The person asked to see all suggestions; the screen shows them in a list."""

        def __init__(self, area: "GhostTextArea", choices: list[str]) -> None:
            super().__init__()
            self.area = area
            self.choices = choices

    def __init__(self, text: str = "", *, provider: SuggestionProvider | None = None,
                 pause: float = 0.6, **kwargs: object) -> None:
        super().__init__(text, tab_behavior="focus", **kwargs)  # type: ignore[arg-type]
        self.provider = provider
        self.pause = pause
        self.choices: list[str] = []
        self.choice_index = 0
        self._request = 0
        self._cancel = threading.Event()
        self._timer: Timer | None = None

    # -- typing ---------------------------------------------------------------------------
    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        if self.suggestion and key == "tab":
            event.stop()
            event.prevent_default()
            self.accept_suggestion()
            return
        if self.suggestion and key == "escape":
            event.stop()
            event.prevent_default()
            self.dismiss_suggestion()
            return
        if key in NEXT_KEYS + PREVIOUS_KEYS + LIST_KEYS:
            # bindings handle these; they must not count as typing, and a terminal sends Alt+N as
            # "alt+n" with the character "n", which TextArea's own handler would insert
            event.prevent_default()
            return
        self._supersede()
        await super()._on_key(event)
        if not self.read_only and (event.is_printable or key in EDITING_KEYS):
            self._schedule()

    def _supersede(self) -> None:
        """A new keypress makes any pending suggestion request stale."""
        self._request += 1
        self._cancel.set()
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _schedule(self) -> None:
        if self.provider is None:
            return
        # The TextArea keeps the unmatched rest of a suggestion the person is typing through.
        self.choices = [self.suggestion] if self.suggestion else []
        self.choice_index = 0
        self._timer = self.set_timer(self.pause, self._fetch)

    def _fetch(self) -> None:
        self._timer = None
        if self.provider is None or self.read_only:
            return
        prefix = self.document.get_text_range((0, 0), self.cursor_location)
        if not prefix.strip():
            return
        self._cancel = threading.Event()
        request, cancel, provider = self._request, self._cancel, self.provider

        def work() -> None:
            try:
                found = provider(prefix, cancel)
            except Exception as exc:  # noqa: BLE001 - a failed suggestion must never disturb typing
                self.app.call_from_thread(self.notify, f"suggestions failed: {exc}", severity="warning")
                return
            if not cancel.is_set():
                self.app.call_from_thread(self._show, request, found)

        self.run_worker(work, thread=True, exclusive=True, group="ghost-text", name="suggest")

    def _show(self, request: int, found: list[str]) -> None:
        if request != self._request or not self.is_attached:
            return
        unique = [text for text in dict.fromkeys(one_line(t) for t in found) if text.strip()]
        self.choices = unique
        self.choice_index = 0
        self.suggestion = unique[0] if unique else ""
        self.post_message(self.SuggestionsReady(self, unique))

    def on_unmount(self) -> None:
        self._supersede()  # a pending request would only compute for a widget that is gone

    # -- accepting and cycling ------------------------------------------------------------
    def accept_suggestion(self) -> None:
        text = self.suggestion
        self._supersede()
        self.choices = []
        if text:
            self.insert(text)
        self.suggestion = ""

    def dismiss_suggestion(self) -> None:
        self._supersede()
        self.choices = []
        self.suggestion = ""

    def _cycle(self, step: int) -> None:
        if len(self.choices) < 2:
            return
        self.choice_index = (self.choice_index + step) % len(self.choices)
        self.suggestion = self.choices[self.choice_index]

    def action_next_suggestion(self) -> None:
        self._cycle(1)

    def action_previous_suggestion(self) -> None:
        self._cycle(-1)

    def action_list_suggestions(self) -> None:
        if self.choices:
            self.post_message(self.ListRequested(self, list(self.choices)))
        else:
            self.notify("No suggestions yet: pause after typing to get some.")

    def use_choice(self, text: str) -> None:
        """Insert one picked from the list of all suggestions."""
        self._supersede()
        self.choices = []
        self.suggestion = ""
        self.insert(text)

    def cancel_suggestions(self) -> None:
        """Used when the text is replaced from outside (a generation streaming in)."""
        self._supersede()
        self.choices = []
        self.suggestion = ""
