"""Issue 15 item 2: a damaged library never hides the sessions that share its database file."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from assistant import drafting
from assistant.drafting.sessions import open_store
from engine.database import open_db, recover_database
from engine.paths import database_path
from retrieval.library import open_library
from tests.fixtures_library import write_docs

ADR = {"title": "Use SQLite", "context": "c", "decision": "d"}
PAGE = 4096


def _checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _smash_page(path: Path, table: str) -> None:
    """Overwrite the root page of `table` with garbage, as a bad sector or a torn write would."""
    conn = sqlite3.connect(path)
    try:
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [table]).fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
    finally:
        conn.close()
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * size)
        handle.write(os.urandom(size))


def test_a_damaged_library_index_is_repaired_and_the_sessions_stay(tmp_path: Path):
    session = drafting.new_session("adr-nygard", values=ADR)
    context = session.sections[1].id
    for text in ("First words.", "Second words."):
        drafting.edit_section(session.id, context, text)
    lib = open_library()
    lib.add_paths([write_docs(tmp_path / "docs")])
    lib.close()
    db_path = database_path()
    _checkpoint(db_path)
    _smash_page(db_path, "library_fts_data")
    damaged = db_path.read_bytes()

    # The drafting core's connection is open (as inside draft_section) when the library is opened.
    store = open_store()
    try:
        lib = open_library()
        try:
            assert any("could not be read" in m and "repaired in place" in m and "1 drafting sessions" in m
                       for m in lib.messages), lib.messages
            hits = lib.search("security deposit refund", k=1)
            assert hits and hits[0].path.endswith("flat-lease.txt")  # the full-text index was rebuilt
            assert len(lib.list_documents()) == 3
        finally:
            lib.close()
        # The connection opened before the repair writes into the repaired file, not a renamed one.
        store.add_version(session.id, context, "Third words, after the repair.", "edited")
    finally:
        store.close()

    assert [v.text for v in drafting.history(session.id, context)] == [
        "First words.", "Second words.", "Third words, after the repair."]
    assert [s.id for s in drafting.list_sessions()] == [session.id]
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = list(db_path.parent.glob(db_path.name + ".corrupt-*"))
    assert [k.name for k in kept if not k.name.endswith(("-wal", "-shm"))] and \
        next(k for k in kept if not k.name.endswith(("-wal", "-shm"))).read_bytes() == damaged


def test_recover_database_salvages_the_readable_rows_and_keeps_the_original(tmp_path: Path):
    path = tmp_path / "d.db"
    db = open_db(path)
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    db.execute("CREATE TABLE other (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    db.execute("CREATE INDEX notes_text ON notes (text)")
    for n in range(3000):
        db.execute("INSERT INTO notes (text) VALUES (?)", [f"note {n} " + "x" * 200])
    db.execute("INSERT INTO other (text) VALUES ('untouched')")
    db.conn.close()
    _checkpoint(path)
    # Damage one leaf page in the middle of `notes` (not its root): part of the table is lost.
    conn = sqlite3.connect(path)
    leaves = [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = 'notes' AND pagetype = 'leaf' "
                                         "ORDER BY path").fetchall()]
    conn.close()
    with open(path, "r+b") as handle:
        handle.seek((leaves[len(leaves) // 2] - 1) * PAGE)
        handle.write(b"\xff" * PAGE)
    original = path.read_bytes()

    recovery = recover_database(path)
    assert recovery.kept.read_bytes() == original
    assert recovery.rows["other"] == 1
    assert 2000 < recovery.rows["notes"] < 3000 and "notes" in recovery.unreadable
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM notes").fetchone()[0] == recovery.rows["notes"]
        assert conn.execute("SELECT text FROM other").fetchone()[0] == "untouched"
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'notes_text'").fetchone()[0] == 1
    finally:
        conn.close()
