"""Issue 15 in the app: quitting during the first model load (1), an editor that keeps its section
when the CLI moves it (3), and buffers that know the version they were typed on (4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from textual.widgets import Static

from assistant import drafting
from assistant.app import buffers
from tests.fixtures_app import SIZE, make_app, screen_name, until

ROOT = Path(__file__).resolve().parents[1]
ADR = {"title": "Use SQLite", "context": "c", "decision": "d"}

QUIT_WHILE_LOADING = """
import asyncio, threading, time
import engine.loading

never = threading.Event()


def slow_load(*args, **kwargs):
    never.wait(120)  # as slow as dequantising a GGUF on a first run, or slower
    raise RuntimeError("the load was waited for")


engine.loading.load_model = slow_load
from assistant.app.app import DraftpadApp


async def main():
    app = DraftpadApp(model="default")
    async with app.run_test(size=(100, 30)) as pilot:
        started = time.monotonic()
        while app.host.state != "loading":
            assert time.monotonic() - started < 60, "the model load never started"
            await pilot.pause(0.05)
        print("loading", flush=True)
        await pilot.press("ctrl+q")


asyncio.run(main())
print("quit", flush=True)
"""


def test_quit_during_the_first_model_load_is_immediate(draftpad_home: Path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DRAFTPAD_HOME": str(draftpad_home)}
    proc = subprocess.Popen([sys.executable, "-c", QUIT_WHILE_LOADING], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "loading"
        asked = time.monotonic()
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - asked
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.strip() == "quit" and took < 10, (took, err)


class _Interrupted:
    """A model whose save is cut off half-way, as by Ctrl+C or a kill arriving mid-write."""

    hf_quantizer = None

    def save_pretrained(self, folder: Path) -> None:
        (Path(folder) / "model.safetensors").write_bytes(b"\0" * 1024)
        (Path(folder) / "config.json").write_text("{}")
        raise KeyboardInterrupt


def test_an_interrupted_model_cache_write_leaves_nothing_that_looks_complete(tmp_path: Path):
    from engine.loading import STALE_STAGING_SECONDS, _save_plain_copy

    target = tmp_path / "models" / "smollm2-abc"
    target.parent.mkdir()
    stale = target.parent / ".tmp-killed-long-ago"
    stale.mkdir()
    old = time.time() - STALE_STAGING_SECONDS - 60
    os.utime(stale, (old, old))
    with pytest.raises(KeyboardInterrupt):
        _save_plain_copy(_Interrupted(), SimpleNamespace(save_pretrained=lambda folder: None), target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # neither this half copy nor a killed process's staging stays


def _state(app) -> str:
    return str(app.screen.query_one("#editor-state", Static).render())


async def test_the_editor_saves_into_its_section_after_the_cli_moves_it(tmp_path: Path) -> None:
    drafting.new_session("adr-nygard", values=ADR)  # ids and positions differ in the next session
    session = drafting.new_session("adr-nygard", values=ADR)
    decision = next(s for s in session.sections if s.title == "Decision")
    app = make_app(tmp_path / "no-model", load_model=False, resume=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any(getattr(s, "loaded", False) for s in app.screen_stack), what="home")
        app.open_session(session.id, decision.id)
        await until(pilot, lambda: screen_name(pilot) == "EditorScreen" and app.screen.section is not None)
        # Meanwhile the CLI puts a new section first and moves Decision to the end.
        drafting.add_section(session.id, "Risks", position=1)
        drafting.move_section(session.id, decision.id, 5)
        app.screen.area.focus()
        await pilot.press(*"Use SQLite.", "ctrl+s")
        await pilot.pause()
    after = drafting.get_session(session.id)
    assert after.by_id(decision.id).text == "Use SQLite." and after.by_id(decision.id).position == 5
    assert [s.title for s in after.sections if s.text] == ["Decision"]


async def test_a_buffer_typed_on_an_older_version_is_not_restored_silently(tmp_path: Path) -> None:
    session = drafting.new_session("adr-nygard", values=ADR)
    section = session.sections[2]
    drafting.edit_section(session.id, section.id, "Version one.")
    buffers.write_buffer(section.id, "Version one, typed on in the app.", base_version=1)
    drafting.edit_section(session.id, section.id, "Version two, from the CLI.")  # after the app was killed

    app = make_app(tmp_path / "no-model", load_model=False, resume=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any(getattr(s, "loaded", False) for s in app.screen_stack), what="home")
        app.open_session(session.id, section.id)
        # the screen is pushed before its widgets mount: wait for the question itself
        await until(pilot, lambda: screen_name(pilot) == "ConfirmScreen" and bool(app.screen.query(Static)),
                    what="the stale-buffer question")
        assert "v1" in str(app.screen.query_one(Static).render()) and "now v2" in str(app.screen.query_one(Static).render())
        await pilot.press("escape")  # keep the stored version
        await until(pilot, lambda: screen_name(pilot) == "EditorScreen")
        assert app.screen.area.text == "Version two, from the CLI."
        app.pop_screen()
        await pilot.pause()
    assert buffers.read_buffer(section.id) is None
    assert [v.text for v in drafting.history(session.id, section.id)] == ["Version one.", "Version two, from the CLI."]

    # Asked again, the person takes the edits back: they become a new version, v2 stays in the history.
    buffers.write_buffer(section.id, "Version one, typed on in the app.", base_version=1)
    app = make_app(tmp_path / "no-model", load_model=False, resume=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any(getattr(s, "loaded", False) for s in app.screen_stack), what="home")
        app.open_session(session.id, section.id)
        await until(pilot, lambda: screen_name(pilot) == "ConfirmScreen", what="the stale-buffer question")
        await pilot.press("y")
        await until(pilot, lambda: screen_name(pilot) == "EditorScreen")
        assert app.screen.area.text == "Version one, typed on in the app."
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert [v.text for v in drafting.history(session.id, section.id)] == [
        "Version one.", "Version two, from the CLI.", "Version one, typed on in the app."]


async def test_a_buffer_on_the_current_version_is_restored_and_autosaved_is_said_after_the_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = drafting.new_session("adr-nygard", values=ADR)
    section = session.sections[2]
    drafting.edit_section(session.id, section.id, "Stored.")
    buffers.write_buffer(section.id, "Stored. And typed before a crash.", base_version=1)
    app = make_app(tmp_path / "no-model", load_model=False, resume=False)
    said_before_writing: list[str] = []
    write = buffers.write_buffer

    def watched_write(section_id: int, text: str, base_version: int | None = None) -> None:
        said_before_writing.append(_state(app))  # what the person reads while the write is under way
        write(section_id, text, base_version)

    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any(getattr(s, "loaded", False) for s in app.screen_stack), what="home")
        app.open_session(session.id, section.id)
        await until(pilot, lambda: screen_name(pilot) == "EditorScreen" and app.screen.section is not None)
        editor = app.screen
        assert editor.area.text == "Stored. And typed before a crash."  # same base: no question
        await until(pilot, lambda: "autosaved" in _state(app), what="the restored text's autosave")
        monkeypatch.setattr(buffers, "write_buffer", watched_write)
        editor.area.focus()
        await pilot.press("!")
        await until(pilot, lambda: said_before_writing and "autosaved" in _state(app), what="the autosave")
        assert said_before_writing and not any("autosaved" in said for said in said_before_writing)
        saved = json.loads(buffers.buffer_path(section.id).read_text(encoding="utf-8"))
        assert saved == {"base_version": 1, "text": "Stored. And typed before a crash.!"}
