"""The library's tables in the shared SQLite database: schema, writes and reads.

Every write of one document happens in one transaction, so a crash or a second process never
leaves a document half imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import sqlite_utils

from engine.database import Migration, migrate


def _v1(db: sqlite_utils.Database) -> None:
    db.execute("""CREATE TABLE library_documents (
        id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, title TEXT NOT NULL,
        source TEXT NOT NULL, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL, imported_at TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}')""")
    db.execute("CREATE INDEX library_documents_kind ON library_documents(kind)")
    db.execute("""CREATE TABLE library_sections (
        id INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES library_documents(id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL, heading TEXT NOT NULL, level INTEGER NOT NULL, text TEXT NOT NULL)""")
    db.execute("CREATE INDEX library_sections_document ON library_sections(document_id, ordinal)")
    db.execute("""CREATE TABLE library_chunks (
        id INTEGER PRIMARY KEY,
        section_id INTEGER NOT NULL REFERENCES library_sections(id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL, text TEXT NOT NULL, embedding BLOB NOT NULL)""")
    db.execute("CREATE INDEX library_chunks_section ON library_chunks(section_id)")
    # rowid = library_sections.id; kept in step by hand (delete before the sections go).
    db.execute("CREATE VIRTUAL TABLE library_fts USING fts5(title, heading, text, tokenize='porter unicode61')")


def _v2(db: sqlite_utils.Database) -> None:
    """The finer kind (form), PDF page spans, and which chunking a document's vectors were made
    with (a document chunked by an older draftpad is re-chunked when it is imported again)."""
    from retrieval.parsing import ParsedDocument, ParsedSection, guess_form

    db.execute("ALTER TABLE library_documents ADD COLUMN form TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE library_documents ADD COLUMN chunking INTEGER NOT NULL DEFAULT 1")
    db.execute("ALTER TABLE library_sections ADD COLUMN page INTEGER")
    db.execute("ALTER TABLE library_sections ADD COLUMN page_end INTEGER")
    db.execute("CREATE INDEX library_documents_form ON library_documents(form)")
    for doc_id, path, kind, title in db.execute("SELECT id, path, kind, title FROM library_documents").fetchall():
        sections = [ParsedSection(h, lvl, t) for h, lvl, t in db.execute(
            "SELECT heading, level, text FROM library_sections WHERE document_id = ? ORDER BY ordinal LIMIT 40",
            [doc_id]).fetchall()]
        form = guess_form(ParsedDocument(title=title, kind=kind, sections=sections), Path(path))
        db.execute("UPDATE library_documents SET form = ? WHERE id = ?", [form, doc_id])


MIGRATIONS = [Migration("001_library_tables", _v1), Migration("002_forms_pages_chunking", _v2)]


def ensure_schema(db: sqlite_utils.Database) -> int:
    return migrate(db, "library", MIGRATIONS)


@dataclass
class NewSection:
    heading: str
    level: int
    text: str
    chunks: list[tuple[int, str, np.ndarray]]  # (ordinal, embedded text, vector); ordinal -1: document summary
    page: int | None = None
    page_end: int | None = None


@dataclass
class DocRow:
    id: int
    path: str
    kind: str
    title: str
    source: str
    sha256: str
    bytes: int
    imported_at: str
    metadata: dict[str, Any]
    form: str = ""
    chunking: int = 1


def _doc(row: Sequence[Any]) -> DocRow:
    return DocRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], json.loads(row[8] or "{}"),
                  row[9], row[10])


_DOC_COLS = "id, path, kind, title, source, sha256, bytes, imported_at, metadata, form, chunking"
_N_DOC_COLS = len(_DOC_COLS.split(","))


def get_document(db: sqlite_utils.Database, path: str) -> DocRow | None:
    row = db.execute(f"SELECT {_DOC_COLS} FROM library_documents WHERE path = ?", [path]).fetchone()
    return _doc(row) if row else None


def list_documents(db: sqlite_utils.Database) -> list[tuple[DocRow, int]]:
    rows = db.execute(f"""SELECT {', '.join('d.' + c.strip() for c in _DOC_COLS.split(','))},
        (SELECT count(*) FROM library_sections s WHERE s.document_id = d.id)
        FROM library_documents d ORDER BY d.kind, d.path""").fetchall()
    return [(_doc(r[:_N_DOC_COLS]), r[_N_DOC_COLS]) for r in rows]


def delete_document(db: sqlite_utils.Database, doc_id: int) -> list[int]:
    """Delete inside the caller's transaction; returns the chunk ids that had vectors."""
    chunk_ids = [r[0] for r in db.execute(
        "SELECT c.id FROM library_chunks c JOIN library_sections s ON s.id = c.section_id WHERE s.document_id = ?",
        [doc_id]).fetchall()]
    db.execute("DELETE FROM library_fts WHERE rowid IN (SELECT id FROM library_sections WHERE document_id = ?)", [doc_id])
    db.execute("DELETE FROM library_documents WHERE id = ?", [doc_id])  # sections, chunks cascade
    return chunk_ids


def write_document(db: sqlite_utils.Database, *, path: str, kind: str, title: str, source: str, sha256: str,
                   size: int, imported_at: str, metadata: dict[str, Any],
                   sections: list[NewSection], form: str = "", chunking: int = 1) -> tuple[int, list[int], list[int]]:
    """Insert (replacing any old version) inside the caller's transaction.

    Returns (document id, new chunk ids, chunk ids of the replaced version)."""
    old = get_document(db, path)
    removed = delete_document(db, old.id) if old else []
    cur = db.execute(
        "INSERT INTO library_documents (path, kind, title, source, sha256, bytes, imported_at, metadata, form, chunking) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [path, kind, title, source, sha256, size, imported_at, json.dumps(metadata, ensure_ascii=False), form, chunking])
    doc_id = cur.lastrowid
    new_chunks: list[int] = []
    for ordinal, section in enumerate(sections):
        cur = db.execute("INSERT INTO library_sections (document_id, ordinal, heading, level, text, page, page_end) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [doc_id, ordinal, section.heading, section.level, section.text, section.page, section.page_end])
        section_id = cur.lastrowid
        db.execute("INSERT INTO library_fts (rowid, title, heading, text) VALUES (?, ?, ?, ?)",
                   [section_id, title, section.heading, section.text])
        for c_ord, text, vec in section.chunks:
            cur = db.execute("INSERT INTO library_chunks (section_id, ordinal, text, embedding) VALUES (?, ?, ?, ?)",
                             [section_id, c_ord, text, np.asarray(vec, np.float32).tobytes()])
            new_chunks.append(cur.lastrowid)
    return doc_id, new_chunks, removed


def chunk_ids(db: sqlite_utils.Database) -> np.ndarray:
    rows = db.execute("SELECT id FROM library_chunks ORDER BY id").fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def chunk_vectors(db: sqlite_utils.Database, ids: np.ndarray | None = None, dim: int = 384) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) for the given chunk ids, or for all chunks."""
    if ids is None:
        rows = db.execute("SELECT id, embedding FROM library_chunks ORDER BY id").fetchall()
    else:
        rows = []
        id_list = [int(i) for i in ids]
        for start in range(0, len(id_list), 900):  # SQLite's bound-parameter limit
            part = id_list[start:start + 900]
            rows += db.execute(f"SELECT id, embedding FROM library_chunks WHERE id IN ({','.join('?' * len(part))})",
                               part).fetchall()
        order = {cid: n for n, cid in enumerate(id_list)}
        rows.sort(key=lambda r: order[r[0]])
    out = np.zeros((len(rows), dim), np.float32)
    for n, (_cid, blob) in enumerate(rows):
        out[n] = np.frombuffer(blob, dtype=np.float32)
    return np.array([r[0] for r in rows], dtype=np.int64), out


def sections_of(db: sqlite_utils.Database, doc_id: int) -> list[tuple[int, str, int, str, int | None, int | None]]:
    return db.execute("SELECT ordinal, heading, level, text, page, page_end FROM library_sections "
                      "WHERE document_id = ? ORDER BY ordinal", [doc_id]).fetchall()


def iter_section_texts(db: sqlite_utils.Database, batch: int = 500) -> Iterator[str]:
    last = 0
    while True:
        rows = db.execute("SELECT id, text FROM library_sections WHERE id > ? ORDER BY id LIMIT ?", [last, batch]).fetchall()
        if not rows:
            return
        for _id, text in rows:
            if text:
                yield text
        last = rows[-1][0]
