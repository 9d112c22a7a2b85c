"""The SQLite plumbing shared by the library (retrieval) and the drafting core: opening the one
database file safely, and applying each component's named migrations."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import sqlite_utils

from engine.errors import UserError


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


@dataclass(frozen=True)
class Migration:
    """One schema step. `name` starts with its number ("001_sessions"), which is its version."""

    name: str
    apply: Callable[[sqlite_utils.Database], None]

    @property
    def version(self) -> int:
        return int(self.name.split("_", 1)[0])


def schema_version(db: sqlite_utils.Database, component: str) -> int:
    """The newest migration recorded for `component` (0 for none); a read, no lock taken."""
    if not db["_migrations"].exists():
        return 0
    row = db.execute("SELECT MAX(version) FROM _migrations WHERE component = ?", [component]).fetchone()
    return int(row[0] or 0)


def migrate(db: sqlite_utils.Database, component: str, migrations: Sequence[Migration]) -> int:
    """Apply every migration not yet recorded for `component`, each in its own transaction.

    Components (library, sessions, ...) share the database but number their migrations apart.
    An up-to-date database costs one read and takes no write lock, so readers never queue behind
    each other. A database written by a newer draftpad is refused rather than misread.
    Returns the schema version now in force.
    """
    for number, step in enumerate(migrations, start=1):
        if step.version != number:
            raise ValueError(f"{component} migration {step.name!r} is out of sequence (expected {number:03d}_…)")
    known = len(migrations)
    current = schema_version(db, component)
    if current > known:
        raise UserError(f"{db.conn.execute('PRAGMA database_list').fetchone()[2]} was written by a newer draftpad "
                        f"({component} schema {current}, this version knows {known}): upgrade draftpad to open it")
    if current == known:
        return known
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (component TEXT, version INTEGER, name TEXT, "
               "PRIMARY KEY (component, version))")
    if "name" not in db["_migrations"].columns_dict:
        db.execute("ALTER TABLE _migrations ADD COLUMN name TEXT")
    for step in migrations:
        # BEGIN IMMEDIATE takes the write lock first, so two processes starting together
        # cannot both apply the same step; the check happens under that lock.
        db.execute("BEGIN IMMEDIATE")
        try:
            applied = db.execute(
                "SELECT 1 FROM _migrations WHERE component = ? AND version = ?", [component, step.version]
            ).fetchone()
            if not applied:
                step.apply(db)
                db.execute("INSERT INTO _migrations (component, version, name) VALUES (?, ?, ?)",
                           [component, step.version, step.name])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return known
