"""Issue 15, the session store: stable section ids (3), `plan` re-checking under the write lock (3),
no write lock to open an up-to-date database (7), and durable commits of accepted text (8)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant import drafting
from assistant.drafting import model_calls
from engine import GenerationResult, GenerationStats
from engine.errors import UserError
from engine.paths import database_path

ROOT = Path(__file__).resolve().parents[1]
ADR = {"title": "Use SQLite", "context": "c", "decision": "d"}


def ids(session: drafting.Session) -> list[int]:
    return [s.id for s in session.sections]


def test_a_section_is_the_same_section_after_another_process_moves_it():
    drafting.new_session("adr-nygard", values=ADR)  # so ids and positions differ in the second session
    session = drafting.new_session("adr-nygard", values=ADR)
    decision = next(s for s in session.sections if s.title == "Decision")
    assert decision.id != decision.position
    # "The CLI" moves Decision to the top and adds a section before it, while "the editor" holds its id.
    drafting.move_section(session.id, decision.id, 1)
    drafting.add_section(session.id, "Risks", position=1)
    drafting.edit_section(session.id, decision.id, "We use SQLite.")
    drafting.accept(session.id, decision.id)
    after = drafting.get_session(session.id)
    assert after.by_id(decision.id).title == "Decision" and after.by_id(decision.id).position == 2
    assert after.by_id(decision.id).text == "We use SQLite." and after.by_id(decision.id).status == "accepted"
    assert [s.title for s in after.sections if s.text] == ["Decision"]
    assert [v.text for v in drafting.history(session.id, decision.id)] == ["We use SQLite."]
    # An id from another session, or a removed section, is refused rather than taken as a position.
    other = drafting.get_session(1).sections[0].id
    with pytest.raises(UserError, match="no section with id"):
        drafting.edit_section(session.id, other, "wrong place")
    risks = after.section(1).id
    drafting.remove_section(session.id, risks)
    with pytest.raises(UserError, match="no section with id"):
        drafting.move_section(session.id, risks, 3)


def _result(text: str, stop: str = "eos") -> GenerationResult:
    return GenerationResult(text, [], GenerationStats(new_tokens=len(text.split()), stop_reason=stop))


def test_plan_rechecks_for_drafted_sections_inside_its_own_write(monkeypatch: pytest.MonkeyPatch):
    session = drafting.new_session("adr-madr", values={"title": "Pick a queue", "context": "Emails are slow."})
    context = session.sections[1]

    def generate_while_someone_drafts(lm, messages, config, **kwargs):
        # Another process writes a section while the model is still proposing titles.
        drafting.edit_section(session.id, context.id, "Typed in the CLI during planning.")
        return _result("\n".join(f"{n}. {s.title}" for n, s in enumerate(session.sections, start=1)) + "\n")

    monkeypatch.setattr(model_calls, "generate", generate_while_someone_drafts)
    with pytest.raises(UserError, match="already has drafted sections"):
        drafting.plan(session.id, lm=None, use_library=False)
    after = drafting.get_session(session.id)
    assert ids(after) == ids(session)  # the outline was left alone
    assert after.by_id(context.id).text == "Typed in the CLI during planning."


def _in_thread(call) -> tuple[bool, object]:
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            box["value"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=5)
    return not thread.is_alive(), box.get("value")


def test_readers_do_not_wait_for_a_writer_to_check_migrations():
    session = drafting.new_session("adr-nygard", values=ADR)
    drafting.open_log().close()  # every component's migrations are recorded
    writer = sqlite3.connect(database_path(), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock (a long import, say)
    try:
        started = time.monotonic()
        for call in (lambda: drafting.get_session(session.id).title, lambda: len(drafting.list_sessions()),
                     lambda: drafting.open_log().count()):
            done, value = _in_thread(call)
            assert done, "a read waited for the write lock"
            assert not isinstance(value, BaseException), value
        assert time.monotonic() - started < 5
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_the_session_store_commits_with_synchronous_full():
    from assistant.drafting.sessions import open_store

    store = open_store()
    try:
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        store.close()


TRACED = """
import os, sqlite3, sys
from assistant import drafting
from engine.paths import database_path
sid, section = int(sys.argv[1]), int(sys.argv[2])
keep = sqlite3.connect(database_path())  # held open, so no connection close checkpoints the WAL
keep.execute("SELECT count(*) FROM sqlite_master").fetchone()
os.getppid()  # marker in the trace: syncs after it are the edits'
for n in range(3):
    drafting.edit_section(sid, section, f"text {n}")
os.getppid()
"""


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed: cannot count the syncs")
def test_each_saved_edit_is_synced_to_disk_before_it_returns(tmp_path: Path, draftpad_home: Path):
    session = drafting.new_session("adr-nygard", values=ADR)
    section = session.sections[1].id
    trace = tmp_path / "trace.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DRAFTPAD_HOME": str(draftpad_home)}
    proc = subprocess.run(["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=fsync,fdatasync,getppid",
                           sys.executable, "-c", TRACED, str(session.id), str(section)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 and "ptrace" in proc.stderr:
        pytest.skip(f"strace cannot trace here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    lines = trace.read_text().splitlines()
    marks = [n for n, line in enumerate(lines) if "getppid(" in line]
    assert len(marks) >= 2
    syncs = [line for line in lines[marks[0]:marks[-1]] if "fsync(" in line or "fdatasync(" in line]
    assert len(syncs) >= 3, lines[marks[0]:marks[-1]]  # one per committed edit at least
    assert [v.text for v in drafting.history(session.id, section)] == ["text 0", "text 1", "text 2"]
