"""The app's export screen (Pilot): it shows what is missing before exporting, asks before
exporting with gaps and before replacing a file, and writes the chosen format."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import Button, Input, RadioButton, Static

from assistant import drafting
from assistant.app.screens.export import ExportScreen, findings_text, with_format
from tests.fixtures_app import until
from tests.test_export import FULL_RENT, fixed_rent_session


class Host(App):
    def __init__(self, session: object) -> None:
        super().__init__()
        self.session = session
        self.results: list[object] = []

    def on_mount(self) -> None:
        self.push_screen(ExportScreen(self.session), self.results.append)


def name(app: App) -> str:
    return type(app.screen).__name__


async def test_export_screen_shows_gaps_and_asks_before_writing(tmp_path: Path) -> None:
    sid = fixed_rent_session({k: v for k, v in FULL_RENT.items() if k != "place"})
    app = Host(drafting.get_session(sid))
    target = tmp_path / "lease.docx"
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.blocking is not None, what="findings")
        shown = str(screen.query_one("#export-findings", Static).render())
        assert "Still missing" in shown and "field 'place'" in shown
        assert str(screen.query_one("#export-go", Button).label) == "Export anyway…"
        screen.query_one("#fmt-docx", RadioButton).value = True
        await pilot.pause()
        box = screen.query_one("#export-path", Input)
        assert box.value.endswith(".docx")
        box.value = str(target)
        await pilot.press("enter")
        await until(pilot, lambda: name(app) == "ConfirmScreen", what="the question about gaps")
        await pilot.press("escape")  # no: nothing is written
        await until(pilot, lambda: name(app) == "ExportScreen")
        assert not target.exists()
        target.write_bytes(b"old")
        await pilot.press("enter")
        await until(pilot, lambda: name(app) == "ConfirmScreen", what="the question about gaps")
        await pilot.press("y")
        await until(pilot, lambda: name(app) == "ConfirmScreen" and "Overwrite" in str(
            app.screen.query_one("#yes", Button).label), what="the overwrite question")
        await pilot.press("y")
        await until(pilot, lambda: app.results != [], what="export")
    assert app.results == [target] and target.read_bytes()[:2] == b"PK"


def test_findings_text_and_format_swap() -> None:
    assert findings_text([]) == ""
    assert with_format("/x/lease.docx", "pdf") == "/x/lease.pdf" and with_format("/x/notes.txt", "pdf") == "/x/notes.txt"
