"""The SQLite plumbing shared by the library (retrieval) and the drafting core: opening the one
database file safely, and applying each component's named migrations."""

from __future__ import annotations

import os
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


# -- recovery -------------------------------------------------------------------------------------

@dataclass
class Recovery:
    """What `recover_database` did: the damaged original is kept, never deleted."""

    kept: Path  # the damaged original, byte for byte (its -wal beside it, if it had one)
    rows: dict[str, int]  # rows recovered, per table
    unreadable: dict[str, str]  # tables (or parts of them) that could not be read, and why
    emptied: tuple[str, ...] = ()  # virtual tables (full-text indexes) recreated empty: their owner refills them
    in_place: bool = True  # False: the file was replaced, so connections open before the repair must reopen


def _copy_rows(src: sqlite3.Connection, dst: sqlite3.Connection, table: str) -> tuple[int, str]:
    """Copy every row of `table` that can still be read, skipping past damaged pages by rowid."""
    quoted = '"' + table.replace('"', '""') + '"'
    columns = [r[1] for r in src.execute(f"PRAGMA table_info({quoted})").fetchall()]
    names = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    insert = f"INSERT OR IGNORE INTO {quoted} (rowid, {names}) VALUES ({', '.join('?' * (len(columns) + 1))})"
    copied, problem, after = 0, "", None
    while True:
        try:
            query = f"SELECT rowid, {names} FROM {quoted}" + (" WHERE rowid > ?" if after is not None else "") \
                + " ORDER BY rowid"
            for row in src.execute(query, [after] if after is not None else []):
                dst.execute(insert, row)
                copied += 1
                after = row[0]
            return copied, problem
        except sqlite3.DatabaseError as exc:
            problem = str(exc)
            # Step over the damaged stretch: probe further and further ahead for a readable row.
            start = after if after is not None else -(2 ** 62)
            step, found = 1, None
            while step < 2 ** 62:
                try:
                    row = src.execute(f"SELECT rowid FROM {quoted} WHERE rowid > ? ORDER BY rowid LIMIT 1",
                                      [start + step]).fetchone()
                except sqlite3.DatabaseError:
                    step *= 2
                    continue
                found = row
                break
            if found is None:
                return copied, problem
            after = found[0] - 1


def recover_database(path: Path | str) -> Recovery:
    """Salvage what SQLite can still read of a damaged database file, in place.

    The damaged original is first copied aside (`<name>.corrupt-<time>`), untouched. Every ordinary
    table is copied row by row into a fresh database, stepping over unreadable pages; indexes are
    rebuilt; virtual tables (full-text indexes, whose content lives elsewhere) are recreated empty and
    listed in `Recovery.emptied` for their owner to refill. The result is then written *into* the
    original file through SQLite's backup API, under SQLite's own locks, so a connection that another
    part of the program already holds keeps working on the repaired data instead of writing into a
    file that was renamed away. Only when the file cannot be opened at all is it replaced.
    """
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    # Hold the write lock while the copies are taken and read: a session saved meanwhile by another
    # connection would be in neither the copy nor the result. A file too damaged to lock has no
    # other users to wait for.
    guard: sqlite3.Connection | None = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    try:
        guard.execute("PRAGMA busy_timeout=30000")
        guard.execute("BEGIN IMMEDIATE")
    except sqlite3.DatabaseError:
        guard.close()
        guard = None
    try:
        return _recover_under(path, kept, stamp, guard)
    finally:
        if guard is not None:
            try:
                guard.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # already released by the install below
            guard.close()


def _recover_under(path: Path, kept: Path, stamp: str, guard: sqlite3.Connection | None) -> Recovery:
    import shutil

    shutil.copy2(path, kept)
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        shutil.copy2(wal, kept.with_name(kept.name + "-wal"))

    # Read a scratch copy, so the kept original is never opened (opening may checkpoint it).
    scratch = path.with_name(f"{path.name}.reading-{stamp}")
    staging = path.with_name(f"{path.name}.recovering-{stamp}")
    for leftover in (scratch, staging):
        leftover.unlink(missing_ok=True)
    shutil.copy2(path, scratch)
    if wal.exists():
        shutil.copy2(wal, scratch.with_name(scratch.name + "-wal"))
    rows: dict[str, int] = {}
    unreadable: dict[str, str] = {}
    emptied: list[str] = []
    dst = sqlite3.connect(str(staging), isolation_level=None)
    try:
        src = sqlite3.connect(str(scratch), isolation_level=None)
        try:
            try:
                schema = src.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
            except sqlite3.DatabaseError as exc:
                schema = []
                unreadable["the schema"] = str(exc)
            virtual = {name for kind, name, _t, sql in schema if kind == "table" and sql.upper().startswith("CREATE VIRTUAL")}

            def shadow(name: str) -> bool:
                return any(name.startswith(v + "_") for v in virtual)

            dst.execute("BEGIN")
            for kind, name, _table, sql in schema:
                if kind != "table" or name.startswith("sqlite_") or shadow(name):
                    continue
                dst.execute(sql)
                if name in virtual:
                    emptied.append(name)
                    continue
                copied, problem = _copy_rows(src, dst, name)
                rows[name] = copied
                if problem:
                    unreadable[name] = problem
            for kind, name, table, sql in schema:
                if kind in ("index", "trigger", "view") and not shadow(table) and not name.startswith("sqlite_"):
                    try:
                        dst.execute(sql)
                    except sqlite3.DatabaseError as exc:  # e.g. a unique index over rows damaged into duplicates
                        unreadable[f"index {name}"] = str(exc)
            dst.execute("COMMIT")
        finally:
            src.close()
        if guard is not None:
            guard.execute("ROLLBACK")  # the backup below takes the lock itself, at once
        in_place = True
        try:
            live = sqlite3.connect(str(path), timeout=30.0)
            try:
                live.execute("PRAGMA busy_timeout=30000")
                dst.backup(live)
                ok = live.execute("PRAGMA integrity_check").fetchone()[0]
                if ok != "ok":
                    raise sqlite3.DatabaseError(ok)
            finally:
                live.close()
        except sqlite3.DatabaseError:
            # The file is past opening (its header is gone): nothing can share it, so replace it.
            in_place = False
            dst.close()
            for suffix in ("-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            os.replace(staging, path)
    finally:
        dst.close()
        for leftover in (scratch, scratch.with_name(scratch.name + "-wal"), scratch.with_name(scratch.name + "-shm"),
                         staging):
            leftover.unlink(missing_ok=True)
    return Recovery(kept, rows, unreadable, tuple(emptied), in_place)
