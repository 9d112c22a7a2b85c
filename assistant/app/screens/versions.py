"""Versions of one section: browse them, diff one with the one before, revert to one."""

from __future__ import annotations

import difflib
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


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), old_name, new_name, lineterm="")
    return "\n".join(lines) or "(no difference)"


def version_label(version: Any) -> Text:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(version.created)) if version.created else ""
    words = len(version.text.split())
    origin = version.source + (f" from v{version.reverted_from}" if version.reverted_from else "")
    return Text.assemble((f"v{version.version}", "bold"), f"  {origin}  ", (f"{words} words  {when}", "dim"))


class VersionsScreen(ModalScreen[int | None]):
    """Returns the version number to revert to, or None."""

    DEFAULT_CSS = MODAL_CSS.format(name="VersionsScreen") + """
    VersionsScreen > Vertical { width: 90%; height: 85%; }
    VersionsScreen OptionList { height: 10; }
    VersionsScreen VerticalScroll { height: 1fr; border: round $primary-darken-2; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("d", "diff", "Diff with previous", tooltip="Show what changed from the version before"),
        Binding("enter", "revert", "Revert to this", tooltip="Make this version the current text"),
    ]

    def __init__(self, title: str, versions: list[Any]) -> None:
        super().__init__()
        self.title_text = title
        self.versions = list(reversed(versions))  # newest first
        self.showing_diff = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Versions of “{self.title_text}”: Enter reverts, D diffs, Esc closes"))
            yield OptionList(*[Option(version_label(v)) for v in self.versions], id="versions-list")
            with VerticalScroll():
                yield Static("", id="versions-text", markup=False)

    def on_mount(self) -> None:
        listing = self.query_one(OptionList)
        if self.versions:
            listing.highlighted = 0
        listing.focus()

    def current(self) -> Any:
        index = self.query_one(OptionList).highlighted
        return self.versions[index] if index is not None and self.versions else None

    @on(OptionList.OptionHighlighted)
    def highlighted(self) -> None:
        self.showing_diff = False
        version = self.current()
        self.query_one("#versions-text", Static).update(version.text if version else "")

    @on(OptionList.OptionSelected)
    def action_revert(self) -> None:
        version = self.current()
        if version is not None:
            self.dismiss(version.version)

    def action_diff(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is None:
            return
        new = self.versions[index]
        old = self.versions[index + 1] if index + 1 < len(self.versions) else None
        text = unified_diff(old.text if old else "", new.text, f"v{old.version}" if old else "(empty)", f"v{new.version}")
        self.query_one("#versions-text", Static).update(Text(text))
        self.showing_diff = True

    def action_close(self) -> None:
        self.dismiss(None)
