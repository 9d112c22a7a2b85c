"""Repairing a library database that SQLite cannot read.

The library shares its file with the drafting sessions and the generation log, so a damaged
library must never cost those: the file is recovered in place (`engine.database.recover_database`,
which keeps the damaged original), then the library's own derived parts are rebuilt from their
sources — the full-text index from the stored sections, orphaned rows dropped — and the vector
index is brought in line with the chunks at the next open, as always.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

FTS_TABLE = "library_fts"


def _rebuild_fts(db: sqlite3.Connection) -> int:
    """Refill the full-text index from library_sections (its rowid is the section id, as on import)."""
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [FTS_TABLE]).fetchone()
    if not exists:
        return 0  # a schema that never had one: the library's migrations create it
    db.execute(f"DELETE FROM {FTS_TABLE}")
    db.execute(f"INSERT INTO {FTS_TABLE} (rowid, title, heading, text) SELECT s.id, d.title, s.heading, s.text "
               "FROM library_sections s JOIN library_documents d ON d.id = s.document_id")
    return db.execute(f"SELECT count(*) FROM {FTS_TABLE}").fetchone()[0]


def _drop_orphans(db: sqlite3.Connection) -> int:
    """Sections whose document was lost, and chunks whose section was: search joins would trip on them."""
    gone = db.execute("DELETE FROM library_sections WHERE document_id NOT IN (SELECT id FROM library_documents)").rowcount
    gone += db.execute("DELETE FROM library_chunks WHERE section_id NOT IN (SELECT id FROM library_sections)").rowcount
    return gone


def repair_database(db_path: Path, problem: Exception) -> list[str]:
    """Recover `db_path` in place; returns the messages for `Library.messages`."""
    from engine.database import recover_database

    recovery = recover_database(db_path)
    conn = sqlite3.connect(str(db_path), timeout=30.0, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
        indexed = dropped = 0
        if {"library_documents", "library_sections", "library_chunks"} <= tables:
            conn.execute("BEGIN IMMEDIATE")
            try:
                dropped = _drop_orphans(conn)
                indexed = _rebuild_fts(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        sessions = conn.execute("SELECT count(*) FROM drafting_sessions").fetchone()[0] \
            if "drafting_sessions" in tables else 0
        versions = conn.execute("SELECT count(*) FROM drafting_versions").fetchone()[0] \
            if "drafting_versions" in tables else 0
        documents = conn.execute("SELECT count(*) FROM library_documents").fetchone()[0] \
            if "library_documents" in tables else 0
    finally:
        conn.close()
    lost = ""
    if recovery.unreadable:
        lost = f"; could not read part of: {', '.join(sorted(recovery.unreadable))} (import those documents again)"
    orphans = f"; dropped {dropped} library rows whose document was lost" if dropped else ""
    message = (f"the database {db_path} could not be read ({problem}); it was repaired in place: {sessions} drafting "
               f"sessions ({versions} versions) and {documents} library documents recovered, the search index rebuilt "
               f"({indexed} sections){orphans}{lost}. The damaged original is kept at {recovery.kept}")
    return [message]
