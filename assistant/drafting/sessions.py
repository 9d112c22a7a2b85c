"""Drafting sessions in the shared SQLite database: fields, outline and every version of every section.

Versions are append-only: an edit, a regeneration or an undo (revert) adds a row, so nothing a
person or the model wrote is ever lost. Each write is its own committed transaction, so a process
killed mid-generation leaves the session exactly as it was after the last completed write.

Sections are addressed by their stable row id (`OutlineSection.id`): another process may move or
add sections at any time, so a position is only good for display and for what a person types.
The store's connection commits with `synchronous=FULL`: once a write returns, it survives a power
loss too, not just a crash (WAL's NORMAL can lose the last commits to a power cut).
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import sqlite_utils

from engine.errors import UserError
from engine.database import Migration, migrate, open_db

STATUSES = ("planned", "drafted", "accepted")


@dataclass(frozen=True)
class SectionVersion:
    id: int
    section_id: int
    version: int  # 1, 2, 3 ... per outline section
    text: str
    source: str  # fixed | generated | edited | reverted
    model: str = ""
    method: str = ""
    stats: dict = field(default_factory=dict)
    created: float = 0.0
    reverted_from: int | None = None


@dataclass(frozen=True)
class OutlineSection:
    id: int
    position: int  # 1-based place in the outline
    key: str  # the template section id, or "" for a section the person or the planner added
    title: str
    guidance: str
    status: str  # planned | drafted | accepted
    current: SectionVersion | None = None

    @property
    def text(self) -> str:
        return self.current.text if self.current else ""

    @property
    def undrafted(self) -> bool:
        """No text yet, or only the model's empty try: not a section the person emptied on purpose."""
        return self.current is None or (self.current.source == "generated" and not self.current.text.strip())


@dataclass(frozen=True)
class Session:
    id: int
    template_id: str
    variant: str
    title: str
    values: dict[str, str]
    sections: tuple[OutlineSection, ...]
    created: float = 0.0
    updated: float = 0.0

    def section(self, position: int) -> OutlineSection:
        """By 1-based position: for what a person types (the CLI's N); code holds ids."""
        if not 1 <= position <= len(self.sections):
            raise UserError(f"session {self.id} has no section {position} (it has {len(self.sections)})")
        return self.sections[position - 1]

    def by_id(self, section_id: int) -> OutlineSection:
        """By stable id: the same section wherever it has moved to."""
        for section in self.sections:
            if section.id == section_id:
                return section
        raise UserError(f"session {self.id} has no section with id {section_id} (it was removed, or belongs "
                        "to another session)")


@dataclass(frozen=True)
class SessionSummary:
    id: int
    template_id: str
    title: str
    sections: int
    drafted: int
    accepted: int
    updated: float


def _m1(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE drafting_sessions (id INTEGER PRIMARY KEY, template_id TEXT NOT NULL, variant TEXT NOT NULL DEFAULT '',"
        " title TEXT NOT NULL, values_json TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL, updated REAL NOT NULL)"
    )
    db.execute(
        "CREATE TABLE drafting_outline (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES drafting_sessions(id),"
        " position INTEGER NOT NULL, key TEXT NOT NULL DEFAULT '', title TEXT NOT NULL, guidance TEXT NOT NULL DEFAULT '',"
        " status TEXT NOT NULL DEFAULT 'planned', removed INTEGER NOT NULL DEFAULT 0)"
    )
    db.execute(
        "CREATE TABLE drafting_versions (id INTEGER PRIMARY KEY, section_id INTEGER NOT NULL REFERENCES drafting_outline(id),"
        " version INTEGER NOT NULL, text TEXT NOT NULL, source TEXT NOT NULL, model TEXT NOT NULL DEFAULT '',"
        " method TEXT NOT NULL DEFAULT '', stats_json TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL,"
        " reverted_from INTEGER, UNIQUE (section_id, version))"
    )
    db.execute("CREATE INDEX drafting_outline_session ON drafting_outline (session_id, removed, position)")


MIGRATIONS = [Migration("001_sessions_outline_versions", _m1)]


class SessionStore:
    """All reads and writes of drafting sessions; one instance per open database connection."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        # Per connection, outside any transaction: every commit of this store waits for the disk.
        db.execute("PRAGMA synchronous=FULL")
        migrate(db, "sessions", MIGRATIONS)

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _touch(self, session_id: int) -> None:
        self.db.execute("UPDATE drafting_sessions SET updated = ? WHERE id = ?", [time.time(), session_id])

    # -- sessions -------------------------------------------------------------------------------

    def create(self, template_id: str, variant: str, title: str, values: dict[str, str],
               outline: list[tuple[str, str, str]]) -> int:
        """outline: (key, title, guidance) per section, in order."""
        now = time.time()
        with self._write():
            cursor = self.db.execute(
                "INSERT INTO drafting_sessions (template_id, variant, title, values_json, created, updated) VALUES (?,?,?,?,?,?)",
                [template_id, variant, title, json.dumps(values, ensure_ascii=False), now, now],
            )
            session_id = int(cursor.lastrowid)
            for position, (key, section_title, guidance) in enumerate(outline, start=1):
                self.db.execute(
                    "INSERT INTO drafting_outline (session_id, position, key, title, guidance) VALUES (?,?,?,?,?)",
                    [session_id, position, key, section_title, guidance],
                )
        return session_id

    def get(self, session_id: int) -> Session:
        if not -(2 ** 63) <= session_id < 2 ** 63:  # SQLite's integers: a typed id past them names no session
            raise UserError(f"no session {session_id} (see `draftpad sessions`)")
        row = self.db.execute(
            "SELECT id, template_id, variant, title, values_json, created, updated FROM drafting_sessions WHERE id = ?",
            [session_id],
        ).fetchone()
        if row is None:
            raise UserError(f"no session {session_id} (see `draftpad sessions`)")
        sections = []
        for sid, position, key, title, guidance, status in self.db.execute(
            "SELECT id, position, key, title, guidance, status FROM drafting_outline"
            " WHERE session_id = ? AND removed = 0 ORDER BY position", [session_id],
        ).fetchall():
            sections.append(OutlineSection(sid, position, key, title, guidance, status, self.latest(sid)))
        return Session(row[0], row[1], row[2], row[3], json.loads(row[4]), tuple(sections), row[5], row[6])

    def list(self) -> list[SessionSummary]:
        rows = self.db.execute(
            "SELECT s.id, s.template_id, s.title, s.updated,"
            " SUM(o.id IS NOT NULL), SUM(o.status = 'drafted'), SUM(o.status = 'accepted')"
            " FROM drafting_sessions s LEFT JOIN drafting_outline o ON o.session_id = s.id AND o.removed = 0"
            " GROUP BY s.id ORDER BY s.updated DESC"
        ).fetchall()
        return [SessionSummary(r[0], r[1], r[2], int(r[4] or 0), int(r[5] or 0), int(r[6] or 0), r[3]) for r in rows]

    def set_values(self, session_id: int, values: dict[str, str], title: str | None = None) -> None:
        with self._write():
            self.db.execute("UPDATE drafting_sessions SET values_json = ? WHERE id = ?",
                            [json.dumps(values, ensure_ascii=False), session_id])
            if title is not None:
                self.db.execute("UPDATE drafting_sessions SET title = ? WHERE id = ?", [title, session_id])
            self._touch(session_id)

    # -- outline --------------------------------------------------------------------------------

    def _ids(self, session_id: int) -> list[int]:
        return [r[0] for r in self.db.execute(
            "SELECT id FROM drafting_outline WHERE session_id = ? AND removed = 0 ORDER BY position", [session_id]
        ).fetchall()]

    def _renumber(self, ids: list[int]) -> None:
        for position, sid in enumerate(ids, start=1):
            self.db.execute("UPDATE drafting_outline SET position = ? WHERE id = ?", [position, sid])

    def replace_outline(self, session_id: int, outline: list[tuple[str, str, str]]) -> None:
        """Used by plan: retires the current (undrafted) sections and writes the new outline.

        Planning takes a while; another process may draft a section meanwhile, so the check that
        nothing is drafted is made again here, under the write lock, where it cannot go stale."""
        with self._write():
            drafted = self.db.execute(
                "SELECT o.position, o.title FROM drafting_outline o WHERE o.session_id = ? AND o.removed = 0"
                " AND EXISTS (SELECT 1 FROM drafting_versions v WHERE v.section_id = o.id) ORDER BY o.position LIMIT 1",
                [session_id]).fetchone()
            if drafted is not None:
                raise UserError(f"session {session_id} already has drafted sections (section {drafted[0]} "
                                f"'{drafted[1]}'): change the outline with `draftpad outline`")
            self.db.execute("UPDATE drafting_outline SET removed = 1 WHERE session_id = ? AND removed = 0", [session_id])
            for position, (key, title, guidance) in enumerate(outline, start=1):
                self.db.execute(
                    "INSERT INTO drafting_outline (session_id, position, key, title, guidance) VALUES (?,?,?,?,?)",
                    [session_id, position, key, title, guidance],
                )
            self._touch(session_id)

    def add_section(self, session_id: int, title: str, guidance: str = "", position: int | None = None) -> None:
        with self._write():
            ids = self._ids(session_id)
            cursor = self.db.execute(
                "INSERT INTO drafting_outline (session_id, position, key, title, guidance) VALUES (?,?,?,?,?)",
                [session_id, len(ids) + 1, "", title, guidance],
            )
            at = len(ids) if position is None else min(max(position, 1), len(ids) + 1) - 1
            ids.insert(at, int(cursor.lastrowid))
            self._renumber(ids)
            self._touch(session_id)

    def _live_ids(self, session_id: int, section_id: int) -> list[int]:
        """The outline's ids, read under the caller's write lock; the section must still be in it."""
        ids = self._ids(session_id)
        if section_id not in ids:
            raise UserError(f"session {session_id} has no section with id {section_id} (another window may "
                            "have removed it)")
        return ids

    def remove_section(self, session_id: int, section_id: int) -> None:
        # Soft delete: the section's versions stay in the database.
        with self._write():
            ids = self._live_ids(session_id, section_id)
            self.db.execute("UPDATE drafting_outline SET removed = 1 WHERE id = ?", [section_id])
            ids.remove(section_id)
            self._renumber(ids)
            self._touch(session_id)

    def move_section(self, session_id: int, section_id: int, new_position: int) -> None:
        """Move the section to `new_position` (1-based, clamped to the outline)."""
        with self._write():
            ids = self._live_ids(session_id, section_id)
            ids.remove(section_id)
            ids.insert(min(max(new_position, 1), len(ids) + 1) - 1, section_id)
            self._renumber(ids)
            self._touch(session_id)

    def rename_section(self, section_id: int, session_id: int, title: str) -> None:
        with self._write():
            self.db.execute("UPDATE drafting_outline SET title = ? WHERE id = ?", [title, section_id])
            self._touch(session_id)

    def set_status(self, section_id: int, session_id: int, status: str) -> None:
        assert status in STATUSES
        with self._write():
            self.db.execute("UPDATE drafting_outline SET status = ? WHERE id = ?", [status, section_id])
            self._touch(session_id)

    # -- versions -------------------------------------------------------------------------------

    def add_version(self, session_id: int, section_id: int, text: str, source: str, model: str = "",
                    method: str = "", stats: dict | None = None, reverted_from: int | None = None) -> SectionVersion:
        """Appends a version and marks the section drafted, in one committed transaction."""
        with self._write():
            (last,) = self.db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM drafting_versions WHERE section_id = ?", [section_id]
            ).fetchone()
            now = time.time()
            cursor = self.db.execute(
                "INSERT INTO drafting_versions (section_id, version, text, source, model, method, stats_json, created,"
                " reverted_from) VALUES (?,?,?,?,?,?,?,?,?)",
                [section_id, last + 1, text, source, model, method, json.dumps(stats or {}), now, reverted_from],
            )
            self.db.execute("UPDATE drafting_outline SET status = 'drafted' WHERE id = ?", [section_id])
            self._touch(session_id)
        return SectionVersion(int(cursor.lastrowid), section_id, last + 1, text, source, model, method,
                              stats or {}, now, reverted_from)

    def _version(self, row: tuple) -> SectionVersion:
        return SectionVersion(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]), row[8], row[9])

    _COLUMNS = "id, section_id, version, text, source, model, method, stats_json, created, reverted_from"

    def latest(self, section_id: int) -> SectionVersion | None:
        row = self.db.execute(
            f"SELECT {self._COLUMNS} FROM drafting_versions WHERE section_id = ? ORDER BY version DESC LIMIT 1",
            [section_id],
        ).fetchone()
        return self._version(row) if row else None

    def versions(self, section_id: int) -> list[SectionVersion]:
        rows = self.db.execute(
            f"SELECT {self._COLUMNS} FROM drafting_versions WHERE section_id = ? ORDER BY version", [section_id]
        ).fetchall()
        return [self._version(r) for r in rows]


def open_store(path: Path | None = None) -> SessionStore:
    from engine.paths import database_path

    return SessionStore(open_db(path or database_path()))
