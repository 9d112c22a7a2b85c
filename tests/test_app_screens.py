"""Pilot tests of the library, ask, versions, help and palette parts of the app (tiny model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Static

from assistant import drafting
from tests.fixtures_app import SIZE, make_app, ready, screen_name, until

DOCS = {
    "0001-use-postgres.md": "# Use PostgreSQL\n\n## Status\n\nAccepted\n\n## Context\n\nOrders need transactions "
                            "and foreign keys.\n\n## Decision\n\nWe will use PostgreSQL for the order service.\n",
    "0002-queue.md": "# Send emails through a queue\n\n## Context\n\nSlow mail servers slow every page.\n\n"
                     "## Decision\n\nA durable message queue with a retrying worker.\n",
    "lease.md": "# Rent agreement\n\n## Security deposit\n\nThe lessee pays a refundable security deposit of two "
                "months' rent, returned on vacating the premises.\n",
}


@pytest.mark.real_model  # loads the MiniLM embedding model
async def test_library_import_and_search(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    app = make_app(tmp_path / "no-model", load_model=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any(getattr(s, "loaded", False) for s in app.screen_stack), what="home")
        await pilot.press("f3")
        await until(pilot, lambda: screen_name(pilot) == "LibraryScreen")
        library = app.screen
        await pilot.press("ctrl+o")
        await until(pilot, lambda: screen_name(pilot) == "PromptScreen")
        app.screen.query_one(Input).value = str(folder)
        await pilot.press("enter")
        await until(pilot, lambda: library.summary is not None, timeout=180, what="import")
        assert len(library.summary.added) == 3 and not library.importing
        await until(pilot, lambda: "3 documents" in str(library.query_one("#library-stats", Static).render()),
                    what="library summary")
        # the whole query at once: typed key by key, a partial query's hits could be checked first
        library.query_one("#library-search", Input).value = "security deposit refund"
        results = library.query_one("#library-results", OptionList)
        await until(pilot, lambda: bool(library.hits), timeout=60, what="search results")
        assert Path(library.hits[0].path).name == "lease.md"
        results.focus()
        results.highlighted = 0
        await pilot.press("enter")
        await until(pilot, lambda: screen_name(pilot) == "TextViewScreen", what="document view")
        assert "refundable security deposit" in app.screen.markdown
        await pilot.press("escape")
        assert app.screen is library


async def test_ask_streams_an_answer_with_speed(tiny_model_dir: Path) -> None:
    app = make_app(tiny_model_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f4")
        await until(pilot, lambda: screen_name(pilot) == "AskScreen")
        ask = app.screen
        await pilot.press(*"What is an ADR?", "enter")
        await until(pilot, lambda: not ask.generating, timeout=120, what="answer")
        assert ask.answer and "tok/s" in str(ask.query_one("#ask-figures").render())
        assert app.host.last is not None and app.host.last.new_tokens > 0
        # the call is in the generation log, which F6 opens
        await pilot.press("f6")
        await until(pilot, lambda: screen_name(pilot) == "GenerationLogScreen", what="log")
        shown = str(app.screen.query_one("#log-text", Static).render())
        assert "user: What is an ADR?" in shown and ask.answer.strip()[:20] in shown
        await pilot.press("escape")
        assert app.screen is ask


async def test_versions_diff_and_revert(tiny_model_dir: Path) -> None:
    session = drafting.new_session("adr-nygard", "Versions", {"title": "Versions", "context": "A", "decision": "B"})
    section_id = next(s.id for s in session.sections if s.title == "Decision")
    drafting.edit_section(session.id, section_id, "First text.")
    drafting.edit_section(session.id, section_id, "Second text.")
    app = make_app(tiny_model_dir, load_model=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any(getattr(s, "loaded", False) for s in app.screen_stack), what="home")
        app.open_session(session.id, section_id)
        await until(pilot, lambda: screen_name(pilot) == "EditorScreen" and app.screen.section is not None)
        editor = app.screen
        assert editor.area.text == "Second text."
        await pilot.press("ctrl+t")
        await until(pilot, lambda: screen_name(pilot) == "VersionsScreen")
        await pilot.press("d")
        diff = str(app.screen.query_one("#versions-text", Static).render())
        assert "-First text." in diff and "+Second text." in diff
        await pilot.press("down", "enter")  # the older version
        await until(pilot, lambda: screen_name(pilot) == "ConfirmScreen")
        await pilot.press("y")
        await pilot.pause()
        assert editor.area.text == "First text."
        versions = drafting.history(session.id, section_id)
        assert versions[-1].source == "reverted" and versions[-1].reverted_from == 1
        # Undo in the editor brings the replaced text back.
        editor.area.focus()
        await pilot.press("ctrl+z")
        assert editor.area.text == "Second text."


async def test_help_palette_and_themes(tiny_model_dir: Path) -> None:
    app = make_app(tiny_model_dir, load_model=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any(getattr(s, "loaded", False) for s in app.screen_stack), what="home")
        await pilot.press("f1")
        assert screen_name(pilot) == "TextViewScreen"
        assert "New document" in app.screen.markdown and "`f3`" in app.screen.markdown
        await pilot.press("escape")
        names = [name for name, _help, _callback in app.palette_commands(app.screen)]
        assert {"New document", "Library", "Ask", "Help", "Theme", "Quit"} <= set(names)
        before = app.theme
        await pilot.press("f9")
        assert app.theme != before
        await pilot.press("ctrl+p")
        await until(pilot, lambda: screen_name(pilot) == "CommandPalette")
        await pilot.press(*"Library", "enter")
        await until(pilot, lambda: screen_name(pilot) == "LibraryScreen", what="palette action")


async def test_model_load_failure_is_a_notification(tmp_path: Path) -> None:
    app = make_app(tmp_path / "missing-model")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.host.state == "failed", what="load failure")
        await pilot.pause()
        assert any("Could not load the model" in n.message for n in app._notifications)
        assert screen_name(pilot) == "HomeScreen"


async def test_restart_keeps_theme_and_survives_a_missing_document(tmp_path: Path) -> None:
    from assistant.app.last_place import Place, load_place, save_place

    save_place(Place("editor", 999, "1", None))  # a document that no longer exists
    app = make_app(tmp_path / "llama", load_model=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any(getattr(s, "loaded", False) for s in app.screen_stack), what="home")
        await until(pilot, lambda: any("no session 999" in n.message for n in app._notifications), what="the error")
        await until(pilot, lambda: screen_name(pilot) == "HomeScreen" and len(app.screen_stack) == 2,
                    what="back at home")
        await pilot.press("f9")
        theme = app.theme
    assert load_place().theme == theme
    again = make_app(tmp_path / "llama", load_model=False)
    async with again.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any(getattr(s, "loaded", False) for s in again.screen_stack), what="home")
        assert again.theme == theme


async def test_external_editor_round_trip(tmp_path: Path, monkeypatch) -> None:
    import sys

    session = drafting.new_session("adr-nygard", "Ext", {"title": "Ext", "context": "A", "decision": "B"})
    section_id = next(s.id for s in session.sections if s.title == "Decision")
    drafting.edit_section(session.id, section_id, "Draft.")
    script = tmp_path / "fake_editor.py"
    script.write_text("import sys\nwith open(sys.argv[1], 'a') as f:\n    f.write(' Edited outside.')\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.delenv("VISUAL", raising=False)
    app = make_app(tmp_path / "llama", load_model=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any(getattr(s, "loaded", False) for s in app.screen_stack), what="home")
        app.open_session(session.id, section_id)
        await until(pilot, lambda: screen_name(pilot) == "EditorScreen" and app.screen.section is not None)
        await pilot.press("f8")
        await until(pilot, lambda: app.screen.area.text == "Draft. Edited outside.", what="edited text")
    versions = drafting.history(session.id, section_id)
    assert versions[-1].text == "Draft. Edited outside." and versions[-1].source == "edited"
