"""Export: Markdown, Word or PDF to a chosen path. Shows what validate says is still missing
before anything is written, and asks before exporting with gaps or replacing a file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from assistant.app import core
from assistant.app.base import attached_only
from assistant.app.widgets.dialogs import MODAL_CSS, ConfirmScreen

FORMATS = ("md", "docx", "pdf")


def default_path(title: str, fmt: str, folder: Path | None = None) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "document"
    return (folder or Path.cwd()) / f"{slug}.{fmt}"


def with_format(path: str, fmt: str) -> str:
    """Swap a .md/.docx/.pdf ending for the chosen format; leave other names alone."""
    stem, dot, ending = path.rpartition(".")
    return f"{stem}.{fmt}" if dot and ending in FORMATS else path


def findings_text(findings: list[Any]) -> str:
    """What stops the export, one finding a line ('' when nothing does)."""
    if not findings:
        return ""
    lines = [f"Still missing ({len(findings)}):"] + [f"• {f.message}" for f in findings[:6]]
    if len(findings) > 6:
        lines.append(f"… and {len(findings) - 6} more (see Validate)")
    return "\n".join(lines)


class ExportScreen(ModalScreen[Path | None]):
    DEFAULT_CSS = MODAL_CSS.format(name="ExportScreen") + (
        "ExportScreen RadioSet { width: 100%; }\n"
        "ExportScreen #export-findings { color: $warning; margin-bottom: 1; height: auto; }\n")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, session: Any) -> None:
        super().__init__()
        self.session = session
        self.blocking: list[Any] | None = None  # None until validate has answered

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Export “{self.session.title}”")
            yield Static("", id="export-findings", markup=False)
            with RadioSet(id="export-format"):
                yield RadioButton("Markdown (.md)", value=True, id="fmt-md")
                yield RadioButton("Word (.docx)", id="fmt-docx")
                yield RadioButton("PDF (.pdf, through LibreOffice)", id="fmt-pdf")
            yield Label("Save to (a file, or a folder to name it automatically)")
            yield Input(str(default_path(self.session.title, "md")), id="export-path")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="export-cancel")
                yield Button("Export", id="export-go", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()
        self.check()

    @work(thread=True, exclusive=True, group="export-check")
    def check(self) -> None:
        try:
            found = core.drafting().export_findings(self.session.id)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, core.message_of(exc), severity="error")
            found = []
        self.app.call_from_thread(self.show_findings, found)

    @attached_only
    def show_findings(self, found: list[Any]) -> None:
        self.blocking = found
        self.query_one("#export-findings", Static).update(findings_text(found))
        self.query_one("#export-go", Button).label = "Export anyway…" if found else "Export"

    @property
    def fmt(self) -> str:
        for fmt in FORMATS:
            if self.query_one(f"#fmt-{fmt}", RadioButton).value:
                return fmt
        return "md"

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
        self.prepare(Path(raw).expanduser(), self.fmt)

    @work(thread=True, exclusive=True, group="export-prepare")
    def prepare(self, path: Path, fmt: str) -> None:
        """Where it would go and what is missing, found off the UI thread, then the questions."""
        try:
            target = core.drafting().export_path(self.session.id, fmt, path)
            blocking = core.drafting().export_findings(self.session.id)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"Export failed: {core.message_of(exc)}", severity="error")
            return
        self.app.call_from_thread(self.ask, path, fmt, target, blocking)

    @attached_only
    def ask(self, path: Path, fmt: str, target: Path, blocking: list[Any]) -> None:
        self.show_findings(blocking)

        def then_overwrite(forced: bool) -> None:
            if target.is_file():
                self.app.push_screen(ConfirmScreen(f"{target} exists. Overwrite it?", yes="Overwrite"),
                                     lambda yes: self.write(path, fmt, True) if yes else None)
            else:
                self.write(path, fmt, forced)

        if blocking:
            question = findings_text(blocking) + "\n\nExport anyway, with these gaps?"
            self.app.push_screen(ConfirmScreen(question, yes="Export anyway"),
                                 lambda yes: then_overwrite(True) if yes else None)
        else:
            then_overwrite(False)

    @work(thread=True, exclusive=True, group="export")
    def write(self, path: Path, fmt: str, force: bool) -> None:
        try:
            written = core.drafting().export(self.session.id, fmt, path, force=force)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"Export failed: {core.message_of(exc)}", severity="error")
            return
        self.app.call_from_thread(self.done, Path(written))

    @attached_only
    def done(self, written: Path) -> None:
        self.notify(f"Exported to {written}")
        self.dismiss(written)
