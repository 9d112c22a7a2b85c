"""The generation log: past model calls, newest first, with the prompt and response of the one highlighted."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from assistant.app.widgets.dialogs import MODAL_CSS


def entry_label(entry: Any) -> Text:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.created))
    what = entry.kind + (f" · {entry.section}" if entry.section else "")
    return Text.assemble((f"#{entry.id}", "bold"), f"  {what}  ",
                         (f"{entry.new_tokens} tokens, {entry.seconds:.1f} s  {when}", "dim"))


def entry_text(entry: Any) -> str:
    return f"PROMPT\n\n{entry.prompt_text()}\n\nRESPONSE\n\n{entry.response}"


class GenerationLogScreen(ModalScreen[None]):
    DEFAULT_CSS = MODAL_CSS.format(name="GenerationLogScreen") + """
    GenerationLogScreen > Vertical { width: 90%; height: 85%; }
    GenerationLogScreen OptionList { height: 10; }
    GenerationLogScreen VerticalScroll { height: 1fr; border: round $primary-darken-2; }
    """
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, entries: list[Any], enabled: bool) -> None:
        super().__init__()
        self.entries = entries
        self.enabled = enabled

    def compose(self) -> ComposeResult:
        state = "" if self.enabled else " (logging is off: `draftpad logs on` turns it back on)"
        with Vertical():
            yield Label(f"Past model calls, newest first{state}. Esc closes.")
            yield OptionList(*[Option(entry_label(e)) for e in self.entries], id="log-list")
            with VerticalScroll():
                yield Static("" if self.entries else "Nothing logged yet.", id="log-text", markup=False)

    def on_mount(self) -> None:
        listing = self.query_one(OptionList)
        if self.entries:
            listing.highlighted = 0
        listing.focus()

    @on(OptionList.OptionHighlighted)
    def show(self, event: OptionList.OptionHighlighted) -> None:
        self.query_one("#log-text", Static).update(entry_text(self.entries[event.option_index]))

    def action_close(self) -> None:
        self.dismiss(None)
