"""Export: Markdown or Word to a chosen path, asking before overwriting a file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet

from assistant.app import core
from assistant.app.base import attached_only
from assistant.app.widgets.dialogs import MODAL_CSS, ConfirmScreen

FORMATS = ("md", "docx")


def default_path(title: str, fmt: str, folder: Path | None = None) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "document"
    return (folder or Path.cwd()) / f"{slug}.{fmt}"


def with_format(path: str, fmt: str) -> str:
    """Swap a .md/.docx ending for the chosen format; leave other names alone."""
    stem, dot, ending = path.rpartition(".")
    return f"{stem}.{fmt}" if dot and ending in FORMATS else path


class ExportScreen(ModalScreen[Path | None]):
    DEFAULT_CSS = MODAL_CSS.format(name="ExportScreen") + "ExportScreen RadioSet { width: 100%; }"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, session: Any) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Export “{self.session.title}”")
            with RadioSet(id="export-format"):
                yield RadioButton("Markdown (.md)", value=True, id="fmt-md")
                yield RadioButton("Word (.docx)", id="fmt-docx")
            yield Label("Save to (a file, or a folder to name it automatically)")
            yield Input(str(default_path(self.session.title, "md")), id="export-path")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="export-cancel")
                yield Button("Export", id="export-go", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    @property
    def fmt(self) -> str:
        return "docx" if self.query_one("#fmt-docx", RadioButton).value else "md"

    @on(RadioSet.Changed)
    def format_changed(self) -> None:
        box = self.query_one("#export-path", Input)
        box.value = with_format(box.value, self.fmt)

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-go")
    def go(self) -> None:
        raw = self.query_one("#export-path", Input).value.strip()
        if not raw:
            self.notify("Choose where to save the file.", severity="warning")
            return
        path = Path(raw).expanduser()
        if path.is_file():
            self.app.push_screen(ConfirmScreen(f"{path} exists. Overwrite it?", yes="Overwrite"),
                                 lambda yes: self.write(path) if yes else None)
        else:
            self.write(path)

    @work(thread=True, exclusive=True, group="export")
    def write(self, path: Path) -> None:
        try:
            written = core.drafting().export(self.session.id, self.fmt, path)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"Export failed: {core.message_of(exc)}", severity="error")
            return
        self.app.call_from_thread(self.done, Path(written))

    @attached_only
    def done(self, written: Path) -> None:
        self.notify(f"Exported to {written}")
        self.dismiss(written)
