"""Opening the shared SQLite database safely and applying each component's numbered migrations."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Callable, Sequence

import sqlite_utils

Migration = Callable[[sqlite_utils.Database], None]


def open_db(path: Path | str) -> sqlite_utils.Database:
    """WAL and a busy timeout let two draftpad processes (CLI and app) share one file."""
    conn = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=30000")
    _wal(conn)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    return sqlite_utils.Database(conn)


def _wal(conn: sqlite3.Connection, wait: float = 30.0) -> None:
    """Switch to WAL. Two processes creating the file at once can get "database is locked" here
    without SQLite's busy handler being consulted, so the wait is ours."""
    deadline = time.monotonic() + wait
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def migrate(db: sqlite_utils.Database, component: str, migrations: Sequence[Migration]) -> int:
    """Apply migrations[n] for every n not yet recorded for `component`; each in its own transaction.

    Components (library, sessions, ...) share the database but number their migrations apart.
    Returns the schema version now in force.
    """
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (component TEXT, version INTEGER, PRIMARY KEY (component, version))")
    for version, step in enumerate(migrations, start=1):
        # BEGIN IMMEDIATE takes the write lock first, so two processes starting together
        # cannot both apply the same step; the check happens under that lock.
        db.execute("BEGIN IMMEDIATE")
        try:
            applied = db.execute(
                "SELECT 1 FROM _migrations WHERE component = ? AND version = ?", [component, version]
            ).fetchone()
            if not applied:
                step(db)
                db.execute("INSERT INTO _migrations (component, version) VALUES (?, ?)", [component, version])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return len(migrations)
