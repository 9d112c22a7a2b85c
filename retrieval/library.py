"""The public façade of the user's document library (the drafting core and the TUI code against it).

Interface (stable names):
    open_library(db_path=None) -> Library
    Library.add_paths(paths, kind=None, progress=None) -> ImportSummary
    Library.search(query, k=10, kind=None, source=None) -> list[Hit]   (kind: a kind or a form)
    Library.examples(kind, heading, text="", k=3, form=None) -> list[Example]
    Library.document(path) -> Document
    Library.stats() -> dict
    Library.list_documents() -> list[DocumentInfo]
    Library.remove(path) -> bool
    Library.all_section_texts() -> Iterator[str]
    Library.close()
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from engine.errors import UserError
from retrieval import store
from retrieval.chunking import CHUNKING_VERSION, Chunk, chunk_section, summary_chunk
from retrieval.embedding import DIM, Embedder
from retrieval.id_maps import IdMaps, allowed_documents, documents_of, newest_chunk, read_id_maps
from retrieval.parsing import FORMS, KINDS, MAX_FILE_BYTES, SUPPORTED_SUFFIXES, ParsedDocument, Skip, parse_bytes
from retrieval.ranking import (MAX_QUERY_TERMS, fts_any, heading_similarity, query_terms, reciprocal_rank_fusion,
                               snippet)
from retrieval.vectors import VectorIndex, choose_kind, fingerprint_of, index_kind, read_fingerprint

# progress(done, total, path): called while importing; `path` is the file being processed.
Progress = Callable[[int, int, str], None]


@dataclass
class Hit:
    """One search result: a section of an imported document."""

    path: str  # absolute path of the imported file
    title: str
    heading: str  # the section's heading path, " > "-joined ("" for text before any heading)
    snippet: str
    score: float  # fused score, higher is better
    kind: str
    form: str = ""  # the finer kind: rent-agreement, affidavit, nda, adr, ... ("" if none was recognised)
    page: int | None = None  # PDFs: the page the section starts on


@dataclass
class Example:
    """A past section offered to the drafting core as a few-shot example."""

    path: str
    title: str
    heading: str
    text: str
    score: float
    page: int | None = None  # PDFs: the pages the section spans, for citing it
    page_end: int | None = None

    @property
    def citation(self) -> str:
        """'Title › Heading, p. 3' (pages only for PDFs): where the example comes from."""
        where = f"{self.title} › {self.heading.split(' > ')[-1]}" if self.heading else self.title
        if self.page is None:
            return where
        pages = f"p. {self.page}" if self.page_end in (None, self.page) else f"pp. {self.page}–{self.page_end}"
        return f"{where}, {pages}"


@dataclass
class Section:
    ordinal: int
    heading: str
    text: str
    page: int | None = None
    page_end: int | None = None


@dataclass
class Document:
    path: str
    title: str
    kind: str
    metadata: dict[str, Any]
    sections: list[Section]
    text: str
    form: str = ""


@dataclass
class DocumentInfo:
    path: str
    title: str
    kind: str
    source: str
    sections: int
    imported_at: str
    form: str = ""


@dataclass
class ImportSummary:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)  # e.g. "index rebuilt: ..."


# A document's score: its best chunk's cosine, its summary's cosine and its best section's BM25
# (relative to the query's best), weighted. Fused on scores rather than ranks: cosines mean the
# same across documents, and a document far ahead on one signal should stay ahead. Measured on the
# two labelled query sets after importing the corpus: rank fusion of the same three signals gave
# MRR 0.78 / 0.87, these weights 0.87 / 0.96 (see `draftpad bench-library`).
SCORE_WEIGHTS = (0.5, 1.0, 0.1)
SUMMARY_CANDIDATES = 50  # documents taken on their summary alone, besides those the words or chunks find
# What an example's heading matching the section's adds to its content score (an RRF sum, at most
# 2/61): one top rank's worth, so a section of the same role wins among close matches, but a
# "Context" about something else does not outrank the past decision on the same problem.
HEADING_BONUS = 1.0 / 61
EXAMPLE_QUERY_CHARS = 900  # of the context given to examples(); the vector sees ~100 words of it anyway
PRUNE_TERMS_FROM = 20_000  # sections; below this every query word goes to BM25
MAX_SELECTIVE_TERMS = 8

_EMBEDDER: Embedder | None = None
_EMBEDDER_LOCK = threading.Lock()


def shared_embedder() -> Embedder:
    """One model per process: the app and tests open many libraries, the model loads once."""
    global _EMBEDDER
    with _EMBEDDER_LOCK:
        if _EMBEDDER is None:
            _EMBEDDER = Embedder()
        return _EMBEDDER


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in KINDS and kind not in FORMS:
        raise UserError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)} or a form "
                        f"({', '.join(f for f in FORMS if f not in KINDS)})")


def index_path_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.stem + ".library.faiss")


def open_library(db_path: Path | None = None, embedder: Embedder | None = None) -> "Library":
    """Open (creating if needed) the library in `db_path`, default `engine.paths.database_path()`.

    A database that SQLite cannot read is repaired in place (`retrieval.repair`: sessions kept, the
    damaged original copied aside, the search index rebuilt);
    a missing or stale vector index is rebuilt from the database. What was repaired is listed in
    `Library.messages`.
    """
    if db_path is None:
        from engine.paths import database_path

        db_path = database_path()
    db_path = Path(db_path).expanduser().absolute()
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the data folder {db_path.parent}: {exc.strerror}") from None
    messages: list[str] = []
    try:
        db = _open_checked(db_path)
    except sqlite3.OperationalError as exc:
        # Locked, read-only, disk full: the file may be fine, so it is never moved aside for these.
        raise UserError(f"cannot open the library database {db_path}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        # The file also holds the drafting sessions: recover it in place (keeping the damaged
        # original) rather than moving it aside, which would hide every session with it.
        from retrieval.repair import repair_database

        messages.extend(repair_database(db_path, exc))
        try:
            db = _open_checked(db_path)
        except sqlite3.DatabaseError as again:
            raise UserError(f"the library database {db_path} could not be repaired ({again}); "
                            f"{messages[-1].split('. ')[-1]}") from None
    lib = Library(db, db_path, embedder or shared_embedder(), messages)
    lib._open_index()
    return lib


def _open_checked(db_path: Path):
    from engine.database import open_db

    db = open_db(db_path)
    try:
        store.ensure_schema(db)
        db.execute("SELECT count(*) FROM library_documents").fetchone()
        db.execute("SELECT count(*) FROM library_fts").fetchone()
    except BaseException:
        db.conn.close()
        raise
    return db


def _size_text(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n / 1024:g} KB"


@dataclass
class _Pending:
    path: str
    source: str
    sha256: str
    size: int
    doc: ParsedDocument
    chunks: list[list[Chunk]]  # per section
    existed: bool


class Library:
    """The user's imported documents. Safe to share between threads (one lock serialises calls)."""

    FLUSH_CHUNKS = 128  # embed and write this many chunks at a time during an import

    def __init__(self, db, db_path: Path, embedder: Embedder, messages: list[str]) -> None:
        self.db = db
        self.db_path = db_path
        self.index_path = index_path_for(db_path)
        self.embedder = embedder
        self.messages = messages
        self.vectors = VectorIndex(self.index_path, DIM)
        self._lock = threading.RLock()
        self._saved_fp = None
        self._sections_estimate: int | None = None
        self._maps: IdMaps | None = None
        self._embedding_thread: ThreadPoolExecutor | None = None

    # --- vector index upkeep -----------------------------------------------------------------

    def _fetch(self, ids: np.ndarray) -> np.ndarray:
        return store.chunk_vectors(self.db, ids, DIM)[1]

    def _open_index(self) -> None:
        db_ids = store.chunk_ids(self.db)
        problem = self.vectors.load()
        if problem:
            self._rebuild()
            if len(db_ids):
                self.messages.append(f"{problem}; rebuilt it from the database ({len(db_ids)} vectors)")
            return
        if choose_kind(len(db_ids)) != index_kind(self.vectors.index):
            self._rebuild()
            return
        if self.vectors.fingerprint != fingerprint_of(db_ids):
            added, removed = self.vectors.sync(db_ids, self._fetch)
            self.messages.append(f"vector index disagreed with the database; updated it "
                                 f"({added} vectors added, {removed} removed)")
            self._save_index()
        self._saved_fp = self.vectors.fingerprint

    def _rebuild(self) -> None:
        ids, vecs = store.chunk_vectors(self.db, None, DIM)
        self.vectors.rebuild(vecs, ids)
        self._save_index()

    def _save_index(self) -> None:
        try:
            self.vectors.save()
            self._saved_fp = self.vectors.fingerprint
        except (OSError, RuntimeError) as exc:
            # The database is the store of record: the index is rebuilt at the next open.
            self.messages.append(f"could not write the vector index {self.index_path} ({exc})")

    def _sync_index(self) -> None:
        """After a write: bring the index in line with the database and save it, under the
        database's write lock so two processes importing at once take turns at the file."""
        self._sections_estimate = None
        self._maps = None
        self.db.execute("BEGIN IMMEDIATE")
        try:
            on_disk = self._disk_fingerprint()
            if on_disk is not None and on_disk != self._saved_fp:
                fresh = VectorIndex(self.index_path, DIM)
                if fresh.load() is None:
                    self.vectors = fresh  # another process wrote it since we last did
            db_ids = store.chunk_ids(self.db)
            if choose_kind(len(db_ids)) != index_kind(self.vectors.index):
                ids, vecs = store.chunk_vectors(self.db, None, DIM)
                self.vectors.rebuild(vecs, ids)
            elif self.vectors.fingerprint != fingerprint_of(db_ids):
                self.vectors.sync(db_ids, self._fetch)
            self._save_index()
        finally:
            self.db.execute("COMMIT")

    def _disk_fingerprint(self):
        try:
            return read_fingerprint(self.vectors.meta_path)
        except (OSError, ValueError, KeyError):
            return None

    # --- import ------------------------------------------------------------------------------

    def add_paths(self, paths: Iterable[Path | str], kind: str | None = None,
                  progress: Progress | None = None) -> ImportSummary:
        """Import files and folders (recursively). Unchanged files (same sha256) are no-ops; changed
        ones replace their previous version; unreadable/binary/empty/too-large files are skipped
        with a reason. `kind` is adr|legal|patent|other or a form (rent-agreement, affidavit, ...),
        guessed when None."""
        _check_kind(kind)
        started = time.perf_counter()
        summary = ImportSummary(messages=self.messages)
        with self._lock:
            files = self._expand(paths, summary)
            pending: list[_Pending] = []
            n_chunks = 0
            for done, path in enumerate(files, start=1):
                item = self._prepare(path, kind, summary)
                if item is not None:
                    pending.append(item)
                    n_chunks += sum(len(c) for c in item.chunks)
                if n_chunks >= self.FLUSH_CHUNKS or done == len(files):
                    self._flush(pending, summary)
                    pending, n_chunks = [], 0
                if progress:
                    progress(done, len(files), str(path))
            if summary.added or summary.updated:
                self._sync_index()
        summary.seconds = time.perf_counter() - started
        return summary

    def _expand(self, paths: Iterable[Path | str], summary: ImportSummary) -> list[Path]:
        files: list[Path] = []
        seen: set[Path] = set()
        for raw in paths:
            path = Path(raw).expanduser().absolute()
            if path.is_dir():
                found: list[Path] = []

                def unreadable(err: OSError) -> None:
                    summary.skipped.append((str(err.filename), f"cannot read folder: {err.strerror}"))

                for root, dirs, names in os.walk(path, onerror=unreadable):
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    for name in sorted(names):
                        if name.startswith("."):
                            continue
                        child = Path(root) / name
                        if child.suffix.lower() in SUPPORTED_SUFFIXES - {""}:
                            found.append(child)
                        else:
                            summary.skipped.append((str(child), f"unsupported file type {child.suffix or '(none)'}"))
                candidates = found
            elif path.exists():
                candidates = [path]
            else:
                summary.skipped.append((str(path), "no such file or folder"))
                continue
            for child in candidates:
                resolved = child.resolve() if child.exists() else child  # a broken link keeps its name
                if resolved not in seen:
                    seen.add(resolved)
                    files.append(resolved)
        return files

    def _prepare(self, path: Path, kind: str | None, summary: ImportSummary) -> _Pending | None:
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise Skip(f"larger than the {_size_text(MAX_FILE_BYTES)} limit")
            data = path.read_bytes()
        except Skip as exc:
            summary.skipped.append((str(path), str(exc)))
            return None
        except OSError as exc:
            summary.skipped.append((str(path), f"cannot read: {exc.strerror or exc}"))
            return None
        digest = hashlib.sha256(data).hexdigest()
        old = store.get_document(self.db, str(path))
        if (old is not None and old.sha256 == digest and (kind is None or kind in (old.kind, old.form))
                and old.chunking >= CHUNKING_VERSION):
            summary.unchanged.append(str(path))
            return None
        try:
            doc = parse_bytes(path, data, kind)
        except Skip as exc:
            summary.skipped.append((str(path), str(exc)))
            return None
        chunks = [chunk_section(doc.title, s.heading, s.text) for s in doc.sections]
        chunks[0].insert(0, summary_chunk(doc.title, [(s.heading, s.text) for s in doc.sections]))
        return _Pending(str(path), path.parent.name, digest, len(data), doc, chunks, old is not None)

    def _flush(self, pending: list[_Pending], summary: ImportSummary) -> None:
        texts = [c.text for item in pending for section in item.chunks for c in section]
        vectors = self.embedder.embed(texts)
        at = 0
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        for item in pending:
            sections = []
            for parsed, chunks in zip(item.doc.sections, item.chunks):
                pairs = [(c.ordinal, c.text, vectors[at + n]) for n, c in enumerate(chunks)]
                at += len(chunks)
                sections.append(store.NewSection(parsed.heading, parsed.level, parsed.text, pairs,
                                                 parsed.page, parsed.page_end))
            self.db.execute("BEGIN IMMEDIATE")
            try:
                store.write_document(self.db, path=item.path, kind=item.doc.kind, title=item.doc.title,
                                     source=item.source, sha256=item.sha256, size=item.size, imported_at=now,
                                     metadata=item.doc.metadata, sections=sections, form=item.doc.form,
                                     chunking=CHUNKING_VERSION)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            (summary.updated if item.existed else summary.added).append(item.path)

    # --- search ------------------------------------------------------------------------------

    def _filters(self, kind: str | None, source: str | None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if kind:
            clauses.append("d.kind = ?" if kind in KINDS else "d.form = ?")
            params.append(kind)
        if source:
            prefix = str(Path(source).expanduser().resolve())
            clauses.append("(d.source = ? OR d.path = ? OR d.path LIKE ? ESCAPE '\\')")
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params += [source, prefix, escaped.rstrip("/") + "/%"]
        return (" AND " + " AND ".join(clauses)) if clauses else "", params

    def _selective_terms(self, terms: list[str]) -> list[str]:
        """BM25 scores every section holding any query term, so its cost follows the commonest
        term. In a large library, terms in more than a tenth of the sections (weak evidence
        anyway) are left out and the rarest few kept; counting one term's sections is cheap."""
        total = self._section_count()
        freq = {t: self.db.execute("SELECT count(*) FROM library_fts WHERE library_fts MATCH ?",
                                   [fts_any([t])]).fetchone()[0] for t in terms}
        present = sorted((t for t in terms if freq[t]), key=lambda t: freq[t])
        keep = [t for t in present if freq[t] <= 0.1 * total][:MAX_SELECTIVE_TERMS]
        return keep or present[:2]

    def _section_count(self) -> int:
        # max(id) is an index lookup where count(*) walks the table; close enough to size things.
        if self._sections_estimate is None:
            self._sections_estimate = self.db.execute("SELECT coalesce(max(id), 0) FROM library_sections").fetchone()[0]
        return self._sections_estimate

    def _section_rows(self, section_ids: list[int]) -> dict[int, tuple]:
        if not section_ids:
            return {}
        rows = self.db.execute(
            "SELECT s.id, d.path, d.title, s.heading, s.text, d.kind, d.form, s.page, s.page_end FROM library_sections s "
            f"JOIN library_documents d ON d.id = s.document_id WHERE s.id IN ({','.join('?' * len(section_ids))})",
            section_ids).fetchall()
        return {r[0]: r for r in rows}

    def search(self, query: str, k: int = 10, kind: str | None = None,
               source: str | None = None) -> list[Hit]:
        """Hybrid search, one hit per document, best first: each document is scored on its best
        chunk's vector, its summary's vector and its best section's BM25 (SCORE_WEIGHTS), and shown
        by its best-matching section. `kind` (a kind or a form) and `source` (a source folder name
        or a path prefix) filter."""
        if not query.strip() or k <= 0:
            return []
        _check_kind(kind)
        with self._lock:
            if self._empty():
                return []
            where, params = self._filters(kind, source)
            depth = max(50, 3 * k)
            # what needs no query vector is read while the vector is computed
            qvec, (fts, maps, allowed) = self._embed_during(query, lambda: (
                self._fts_scored(query, where, params, 4 * depth), self._id_maps(),
                allowed_documents(self.db, where, params)))
            chunk_best, floor = self._vector_scored(qvec, maps, allowed, depth)
            summary_doc, summary_vecs = maps.summaries(allowed)
            summary_cos = summary_vecs @ qvec
            vec = sorted(chunk_best, key=lambda sid: -chunk_best[sid])
            doc_of = documents_of(maps, set(fts) | set(vec))
            best_chunk: dict[int, float] = {}
            for sid, score in chunk_best.items():
                d = doc_of[sid]
                best_chunk[d] = max(best_chunk.get(d, -1.0), score)
            top_bm25 = max(fts.values(), default=0.0)
            words: dict[int, float] = {}
            for sid, score in fts.items():
                d = doc_of[sid]
                words[d] = max(words.get(d, 0.0), score / top_bm25 if top_bm25 > 0 else 0.0)
            summary_of = dict(zip(summary_doc.tolist(), summary_cos.tolist()))
            candidates = set(best_chunk) | set(words)
            candidates |= set(summary_doc[np.argsort(-summary_cos)[:SUMMARY_CANDIDATES]].tolist())
            w_chunk, w_summary, w_words = SCORE_WEIGHTS
            scored = sorted(((w_chunk * best_chunk.get(d, floor) + w_summary * summary_of.get(d, 0.0)
                              + w_words * words.get(d, 0.0), d) for d in candidates), key=lambda x: (-x[0], x[1]))[:k]
            section_score = dict(reciprocal_rank_fusion([sorted(fts, key=lambda sid: -fts[sid]), vec]))
            best: dict[int, int] = {}
            for sid, _score in sorted(section_score.items(), key=lambda kv: kv[1]):
                best[doc_of[sid]] = sid  # ascending, so the best section is written last
            missing = [d for _s, d in scored if d not in best]
            best.update(self._opening_sections(missing))  # found on its summary alone: its opening
            rows = self._section_rows([best[d] for _s, d in scored if d in best])
            terms = query_terms(query)
            return [Hit(path=r[1], title=r[2], heading=r[3], snippet=snippet(r[4], terms), score=round(score, 6),
                        kind=r[5], form=r[6], page=r[7])
                    for score, d in scored if d in best and (r := rows.get(best[d]))]

    def _embed_during(self, query: str, work: Callable[[], Any]) -> tuple[np.ndarray, Any]:
        """(the query's vector, work()), the embedding on a worker thread meanwhile: the encoder
        runs on one core (more threads lose to their own synchronisation on a short query) and
        the word ranking, in SQLite, on the other; both release the GIL while they compute."""
        if self._embedding_thread is None:
            self._embedding_thread = ThreadPoolExecutor(1, thread_name_prefix="draftpad-embed-query")
        pending = self._embedding_thread.submit(self.embedder.embed_query, query)
        try:
            result = work()
        finally:
            qvec = pending.result()
        return qvec, result

    def _fts_scored(self, text: str, where: str, params: list[Any], limit: int,
                    columns: str = "") -> dict[int, float]:
        """{section id: -bm25} of the best `limit` sections, best first (higher is better);
        `columns` ("{title text}") limits which columns are matched."""
        terms = query_terms(text)[:MAX_QUERY_TERMS]
        if self._section_count() >= PRUNE_TERMS_FROM:
            terms = self._selective_terms(terms)
        match = fts_any(terms)
        if not match:
            return {}
        if columns:
            match = f"{columns} : ({match})"
        if not where:
            # Joins evaluated for every matching row cost twice the ranking itself; rowid is the section id.
            rows = self.db.execute("SELECT rowid, -bm25(library_fts, 3.0, 2.0, 1.0) AS score FROM library_fts "
                                   "WHERE library_fts MATCH ? ORDER BY score DESC LIMIT ?", [match, limit]).fetchall()
        else:
            rows = self.db.execute(
                "SELECT s.id, -bm25(library_fts, 3.0, 2.0, 1.0) AS score FROM library_fts f "
                "JOIN library_sections s ON s.id = f.rowid JOIN library_documents d ON d.id = s.document_id "
                f"WHERE library_fts MATCH ? {where} ORDER BY score DESC LIMIT ?", [match, *params, limit]).fetchall()
        return {sid: float(score) for sid, score in rows}

    def _id_maps(self) -> IdMaps:
        if self._maps is None or self._maps.newest_chunk != newest_chunk(self.db):
            self._maps = read_id_maps(self.db, DIM)
        return self._maps

    def _vector_scored(self, qvec: np.ndarray, maps: IdMaps, allowed: np.ndarray | None,
                       limit: int) -> tuple[dict[int, float], float]:
        """({section id: its best chunk's cosine} for the nearest chunks, best first; the lowest
        cosine seen): a document none of whose chunks came back is taken to score at most that."""
        # Long legal sections hold many chunks each: 3 chunks per wanted section left a fifth of
        # the corpus queries short, and a second search costs more than a deeper first one.
        want = limit * (18 if allowed is not None else 9)
        best: dict[int, float] = {}
        floor = 0.0
        for _attempt in range(3):
            scores, ids = self.vectors.search(qvec, want)
            sections, summary = maps.sections_of(ids, allowed)
            best = {}
            for score, sid in zip(scores[~summary].tolist(), sections[~summary].tolist()):
                if sid >= 0 and sid not in best:
                    best[sid] = score  # scores come best first: the first is the section's best
            floor = float(scores[-1]) if len(scores) else 0.0
            if len(best) >= limit or want >= self.vectors.index.ntotal:
                break
            want *= 8  # filters dropped most of what came back: look further down
        return best, floor

    def _opening_sections(self, doc_ids: list[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for start in range(0, len(doc_ids), 900):
            part = doc_ids[start:start + 900]
            out.update(self.db.execute(
                "SELECT document_id, id FROM library_sections WHERE document_id IN "
                f"({','.join('?' * len(part))}) AND ordinal = 0", part).fetchall())
        return out

    def examples(self, kind: str, heading: str, text: str = "", k: int = 3, form: str | None = None) -> list[Example]:
        """The k most useful past sections for drafting a section called `heading` in a document of
        `kind` (only documents of `form`, when given: affidavits for an affidavit), given what the
        section is about (`text`: its facts, the document's gist, its guidance, or the text written
        so far); sections whose heading matches are favoured, sections too short to teach anything
        are left out, and at most one section comes from a document."""
        if k <= 0:
            return []
        with self._lock:
            where, params = self._filters(form or kind, None)
            query = f"{heading}\n{text[:EXAMPLE_QUERY_CHARS]}".strip()
            if not query or self._empty():
                return []  # an empty library needs no embedding model loaded to say so
            # Content only: the heading's likeness is weighed on its own below, and a query that
            # names the role ("context problem") would otherwise rank every "Context and Problem
            # Statement" above the one past section about the same problem.
            qvec, (fts_scores, maps, allowed) = self._embed_during(query, lambda: (
                self._fts_scored(query, where, params, 100, columns="{title text}"), self._id_maps(),
                allowed_documents(self.db, where, params)))
            fts = list(fts_scores)
            vec = list(self._vector_scored(qvec, maps, allowed, 100)[0])
            # Sections whose heading says the same thing, however they rank on content.
            named: list[int] = []
            head_terms = query_terms(heading)
            if head_terms:
                match = f"heading : ({fts_any(head_terms)})"
                named = [r[0] for r in self.db.execute(
                    "SELECT s.id FROM library_fts f JOIN library_sections s ON s.id = f.rowid "
                    "JOIN library_documents d ON d.id = s.document_id "
                    f"WHERE library_fts MATCH ? {where} LIMIT 400", [match, *params]).fetchall()]
            pool = list(dict.fromkeys(fts + vec + named))
            rows = self._section_rows(pool)
            # Rank the whole pool by content likeness exactly, so heading matches compete on content too.
            content = self._exact_ranking(qvec, pool)
            fused = dict(reciprocal_rank_fusion([fts, content]))
            bonus = HEADING_BONUS
            scored = []
            for sid in pool:
                row = rows.get(sid)
                if row is None or len(row[4].split()) < 15:
                    continue
                score = fused.get(sid, 0.0) + bonus * heading_similarity(heading, row[3])
                scored.append((score, sid))
            scored.sort(reverse=True)
            out: list[Example] = []
            used: set[str] = set()
            for score, sid in scored:
                row = rows[sid]
                if row[1] in used:
                    continue
                used.add(row[1])
                out.append(Example(path=row[1], title=row[2], heading=row[3], text=row[4], score=round(score, 6),
                                   page=row[7], page_end=row[8]))
                if len(out) == k:
                    break
            return out

    def _exact_ranking(self, qvec: np.ndarray, section_ids: list[int]) -> list[int]:
        if not section_ids:
            return []
        best: dict[int, float] = {}
        for start in range(0, len(section_ids), 900):
            part = section_ids[start:start + 900]
            for sid, blob in self.db.execute(
                    "SELECT section_id, embedding FROM library_chunks "
                    f"WHERE ordinal >= 0 AND section_id IN ({','.join('?' * len(part))})", part).fetchall():
                score = float(np.frombuffer(blob, dtype=np.float32) @ qvec)
                if score > best.get(sid, -2.0):
                    best[sid] = score
        return sorted(best, key=lambda s: -best[s])

    # --- documents ---------------------------------------------------------------------------

    def _stored_path(self, path: Path | str) -> str:
        p = Path(path).expanduser()
        for candidate in (str(p.absolute().resolve()) if p.exists() else None, str(p.absolute()), str(path)):
            if candidate and store.get_document(self.db, candidate) is not None:
                return candidate
        return str(p.absolute())

    def document(self, path: Path | str) -> Document:
        """The full imported document (raises UserError if it is not in the library)."""
        with self._lock:
            row = store.get_document(self.db, self._stored_path(path))
            if row is None:
                raise UserError(f"{path} is not in the library")
            sections = [Section(o, h, t, page, page_end)
                        for o, h, _lvl, t, page, page_end in store.sections_of(self.db, row.id)]
            text = "\n\n".join((f"{s.heading.split(' > ')[-1]}\n\n{s.text}" if s.heading else s.text)
                               for s in sections)
            return Document(path=row.path, title=row.title, kind=row.kind, metadata=row.metadata,
                            sections=sections, text=text, form=row.form)

    def stats(self) -> dict:
        with self._lock:
            q = lambda sql: self.db.execute(sql).fetchone()[0]  # noqa: E731
            by_kind = dict(self.db.execute("SELECT kind, count(*) FROM library_documents GROUP BY kind").fetchall())
            by_form = dict(self.db.execute("SELECT form, count(*) FROM library_documents WHERE form != '' "
                                           "GROUP BY form").fetchall())
            size = lambda p: p.stat().st_size if p.exists() else 0  # noqa: E731
            return {
                "documents": q("SELECT count(*) FROM library_documents"),
                "by_kind": by_kind,
                "by_form": by_form,
                "sections": q("SELECT count(*) FROM library_sections"),
                "chunks": q("SELECT count(*) FROM library_chunks"),
                "vectors": int(self.vectors.index.ntotal),
                "index_type": index_kind(self.vectors.index),
                "database": str(self.db_path),
                "database_bytes": size(self.db_path) + size(self.db_path.with_name(self.db_path.name + "-wal")),
                "index_file": str(self.index_path),
                "index_bytes": size(self.index_path),
                "embedding_model": "all-MiniLM-L6-v2",
            }

    def list_documents(self) -> list[DocumentInfo]:
        with self._lock:
            return [DocumentInfo(d.path, d.title, d.kind, d.source, n, d.imported_at, d.form)
                    for d, n in store.list_documents(self.db)]

    def remove(self, path: Path | str) -> bool:
        """Remove a document with its sections, chunks and vectors; False if it was not there."""
        with self._lock:
            row = store.get_document(self.db, self._stored_path(path))
            if row is None:
                return False
            self.db.execute("BEGIN IMMEDIATE")
            try:
                store.delete_document(self.db, row.id)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self._sync_index()
            return True

    def reindex(self) -> dict:
        """Rebuild the vector index from the stored embeddings and compact the word index."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self._rebuild()
                self.db.execute("INSERT INTO library_fts(library_fts) VALUES ('optimize')")
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            return {"vectors": int(self.vectors.index.ntotal), "index_type": index_kind(self.vectors.index)}

    def common_headings(self, kind: str, min_documents: int = 2, limit: int = 60) -> list[tuple[str, int]]:
        """(heading, documents using it) for documents of `kind` (a kind or a form), most used first;
        headings fewer than `min_documents` documents use are left out."""
        column = "form" if kind not in ("adr", "legal", "patent", "other") else "kind"
        with self._lock:
            rows = self.db.execute(
                f"SELECT s.heading, count(DISTINCT s.document_id) AS n FROM library_sections s "
                f"JOIN library_documents d ON d.id = s.document_id WHERE d.{column} = ? AND s.heading != '' "
                f"GROUP BY lower(s.heading) HAVING n >= ? ORDER BY n DESC, s.heading LIMIT ?",
                [kind, min_documents, limit]).fetchall()
        return [(str(heading), int(n)) for heading, n in rows]

    def _empty(self) -> bool:
        return self.db.execute("SELECT 1 FROM library_documents LIMIT 1").fetchone() is None

    def all_section_texts(self) -> Iterator[str]:
        """Every section's text, streamed (used to build the suggestions' n-gram model)."""
        return store.iter_section_texts(self.db)

    def close(self) -> None:
        with self._lock:
            if self._embedding_thread is not None:
                self._embedding_thread.shutdown(wait=True)
                self._embedding_thread = None
            try:
                self.db.conn.close()
            except sqlite3.Error:
                pass

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
