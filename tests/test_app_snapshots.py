"""Snapshots of the main screens (pytest-textual-snapshot). Deterministic: no model is loaded
(the status bar says so), no clock is shown, and the documents come from the drafting core."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import drafting
from tests.fixtures_app import SIZE, make_app, screen_name, until


def home_loaded(app):
    return any(getattr(s, "loaded", False) for s in app.screen_stack)


async def wait_home(pilot) -> None:
    await until(pilot, lambda: home_loaded(pilot.app), what="home data")
    await pilot.pause()


async def steady(pilot) -> None:
    """A blinking cursor would make the picture depend on the moment it is taken: no focus, no cursor."""
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False
    pilot.app.screen.set_focus(None)
    await pilot.pause()


@pytest.fixture
def model_name(tmp_path: Path) -> Path:
    return tmp_path / "llama"  # never loaded: only its name shows


@pytest.fixture
def adr_session() -> int:
    session = drafting.new_session("adr-nygard", "Use SQLite for local state",
                                   {"title": "Use SQLite for local state", "context": "We need a local store.",
                                    "decision": "Use SQLite."})
    section_id = next(s.id for s in session.sections if s.title == "Context")
    drafting.edit_section(session.id, section_id, "We need an embedded store that needs no server and keeps every "
                                                "draft on this machine.")
    drafting.accept(session.id, section_id)
    return session.id


def test_snapshot_home(snap_compare, model_name: Path) -> None:
    assert snap_compare(make_app(model_name, load_model=False), terminal_size=SIZE, run_before=wait_home)


def test_snapshot_new_document(snap_compare, model_name: Path) -> None:
    async def open_form(pilot) -> None:
        await wait_home(pilot)
        await pilot.press("n", "down", "down", "enter")  # skip the kind heading: the Nygard ADR
        await until(pilot, lambda: screen_name(pilot) == "NewDocumentScreen")
        await steady(pilot)

    assert snap_compare(make_app(model_name, load_model=False), terminal_size=SIZE, run_before=open_form)


def test_snapshot_outline(snap_compare, model_name: Path, adr_session: int) -> None:
    async def open_outline(pilot) -> None:
        await wait_home(pilot)
        pilot.app.open_session(adr_session)
        await until(pilot, lambda: screen_name(pilot) == "OutlineScreen" and pilot.app.screen.session is not None)
        await pilot.pause()

    assert snap_compare(make_app(model_name, load_model=False), terminal_size=SIZE, run_before=open_outline)


def test_snapshot_editor(snap_compare, model_name: Path, adr_session: int) -> None:
    async def open_editor(pilot) -> None:
        await wait_home(pilot)
        pilot.app.open_session(adr_session, drafting.get_session(adr_session).section(2).id)
        await until(pilot, lambda: screen_name(pilot) == "EditorScreen" and pilot.app.screen.section is not None)
        # The side panels fill in from a worker: the examples list starts empty and gets its entries
        # (or the "No examples" line) together with the findings.
        await until(pilot, lambda: pilot.app.screen.query_one("#editor-examples").option_count > 0 and
                    str(pilot.app.screen.query_one("#editor-findings").render()) != "", what="side panels")
        await steady(pilot)

    assert snap_compare(make_app(model_name, load_model=False), terminal_size=SIZE, run_before=open_editor)


def test_snapshot_library(snap_compare, model_name: Path) -> None:
    async def open_library(pilot) -> None:
        await wait_home(pilot)
        await pilot.press("f3")
        await until(pilot, lambda: screen_name(pilot) == "LibraryScreen")
        await until(pilot, lambda: "Loading" not in str(pilot.app.screen.query_one("#library-stats").render()))
        await steady(pilot)

    assert snap_compare(make_app(model_name, load_model=False), terminal_size=SIZE, run_before=open_library)


def test_snapshot_help(snap_compare, model_name: Path) -> None:
    async def open_help(pilot) -> None:
        await wait_home(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(make_app(model_name, load_model=False), terminal_size=SIZE, run_before=open_help)
