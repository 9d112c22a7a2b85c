"""Every model call's prompt and response, kept in the local database so they can be read back
(`draftpad logs`), like the logs of `llm`. `draftpad logs off` (or DRAFTPAD_LOG=0) stops the
recording; nothing is ever sent anywhere either way.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from engine.database import Migration, migrate, open_db

log = logging.getLogger("draftpad.log")

OFF_VALUES = {"0", "off", "false", "no"}


def _m1(db: sqlite_utils.Database) -> None:
    db.execute("""CREATE TABLE generation_log (
        id INTEGER PRIMARY KEY, created REAL NOT NULL, kind TEXT NOT NULL, model TEXT, method TEXT,
        prompt TEXT NOT NULL, response TEXT NOT NULL, prompt_tokens INTEGER, new_tokens INTEGER,
        seconds REAL, stop_reason TEXT, session_id INTEGER, section TEXT)""")
    db.execute("CREATE INDEX generation_log_created ON generation_log (created)")
    db.execute("CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


MIGRATIONS = [Migration("001_generation_log_settings", _m1)]


@dataclass
class LogEntry:
    id: int
    created: float
    kind: str  # generate | ask | plan | draft
    model: str
    method: str
    prompt: str  # the user's text, or the chat messages as JSON
    response: str
    prompt_tokens: int
    new_tokens: int
    seconds: float
    stop_reason: str
    session_id: int | None
    section: str | None

    def prompt_text(self) -> str:
        """The prompt as readable text: chat messages become `role: content` paragraphs."""
        try:
            messages = json.loads(self.prompt)
        except ValueError:
            return self.prompt
        if not isinstance(messages, list):
            return self.prompt
        return "\n\n".join(f"{m.get('role', '?')}: {m.get('content', '')}" for m in messages if isinstance(m, dict))


class GenerationLog:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        migrate(db, "generation_log", MIGRATIONS)

    def close(self) -> None:
        self.db.conn.close()

    @property
    def enabled(self) -> bool:
        if os.environ.get("DRAFTPAD_LOG", "").strip().lower() in OFF_VALUES:
            return False
        row = self.db.execute("SELECT value FROM settings WHERE key = 'log'").fetchone()
        return row is None or row[0] != "off"

    def set_enabled(self, on: bool) -> None:
        self.db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('log', ?)", ["on" if on else "off"])

    def record(self, kind: str, lm: Any, prompt: str | list, result: Any, *, session_id: int | None = None,
               section: str | None = None) -> int | None:
        """Store one call; None when logging is off."""
        if not self.enabled:
            return None
        stats = result.stats
        cursor = self.db.execute(
            "INSERT INTO generation_log (created, kind, model, method, prompt, response, prompt_tokens, new_tokens,"
            " seconds, stop_reason, session_id, section) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [time.time(), kind, getattr(lm, "identity", ""), stats.method,
             prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False), result.text,
             stats.prompt_tokens, stats.new_tokens, stats.seconds, stats.stop_reason, session_id, section])
        return cursor.lastrowid

    def recent(self, limit: int = 20, search: str | None = None) -> list[LogEntry]:
        where, params = "", []
        if search:
            where, params = "WHERE prompt LIKE ? OR response LIKE ?", [f"%{search}%", f"%{search}%"]
        rows = self.db.execute(f"SELECT * FROM generation_log {where} ORDER BY id DESC LIMIT ?", [*params, limit])
        return [LogEntry(*row) for row in rows.fetchall()]

    def get(self, entry_id: int) -> LogEntry | None:
        row = self.db.execute("SELECT * FROM generation_log WHERE id = ?", [entry_id]).fetchone()
        return LogEntry(*row) if row else None

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM generation_log").fetchone()[0]


def open_log(path: Path | None = None) -> GenerationLog:
    from engine.paths import database_path

    return GenerationLog(open_db(path or database_path()))


def record(kind: str, lm: Any, prompt: str | list, result: Any, *, db: sqlite_utils.Database | None = None,
           session_id: int | None = None, section: str | None = None) -> None:
    """Log one call into `db` (else the default database). A log that cannot be written costs a
    warning, never the generation: the text the user waits for matters more than its record."""
    try:
        target = GenerationLog(db) if db is not None else open_log()
        try:
            target.record(kind, lm, prompt, result, session_id=session_id, section=section)
        finally:
            if db is None:
                target.close()
    except (sqlite3.Error, OSError) as exc:
        log.warning("could not log the generation: %s", exc)
