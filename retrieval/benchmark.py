"""Measuring the library: import rate, query latency at real and scaled-up sizes, recall@k.

Scaling is by duplication: the real library's documents are copied (new paths, same text, so
FTS5 has as many rows to rank as a real library of that size) and each copy's vectors are the
originals plus small Gaussian noise, renormalised, so faiss cannot shortcut exact duplicates.
Recall is measured on the real library only; scaled copies serve latency.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from engine.errors import UserError

NOISE = 0.05  # per-dimension sigma before renormalising: cosine to the original ~0.6-0.7


@dataclass(frozen=True)
class LabelledQuery:
    query: str
    expect: str  # a suffix of the relevant document's path


def load_queries(path: Path) -> list[LabelledQuery]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"cannot read the query file {path}: {exc.strerror}") from None
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(LabelledQuery(str(row["query"]), str(row["expect"])))
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{path}:{n}: expected a JSON object with \"query\" and \"expect\"") from None
    if not out:
        raise UserError(f"{path} holds no queries")
    return out


def first_relevant_rank(paths: Sequence[str], expect: str) -> int | None:
    """1-based rank of the first result whose path ends with `expect` (a copy's '#n' ignored)."""
    for rank, path in enumerate(paths, start=1):
        if path.split("#copy", 1)[0].endswith(expect):
            return rank
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mean_reciprocal_rank(ranks: Sequence[int | None]) -> float:
    """Mean of 1/rank of the first relevant result (0 where none was found in the results)."""
    return sum(1.0 / r for r in ranks if r) / len(ranks) if ranks else 0.0


@dataclass
class RecallResult:
    name: str  # the query file's name
    queries: int
    at1: float
    at5: float
    at10: float
    mrr: float
    missed: list[str]  # queries whose document was not in the top 5


def measure_recall(search: Callable[[str], Sequence[str]], queries: Sequence[LabelledQuery], name: str) -> RecallResult:
    """Recall@1/5/10 and MRR of `search` (query -> result paths, best first, at least 10 asked)."""
    ranks = [first_relevant_rank(search(q.query), q.expect) for q in queries]
    missed = [q.query for q, r in zip(queries, ranks) if r is None or r > 5]
    return RecallResult(name, len(queries), recall_at(ranks, 1), recall_at(ranks, 5), recall_at(ranks, 10),
                        mean_reciprocal_rank(ranks), missed)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def time_queries(search: Callable[[str], object], queries: Sequence[str], rounds: int,
                 cpu: list[float] | None = None) -> list[float]:
    """Wall seconds per call, after one untimed warm-up call; CPU seconds go to `cpu` if given
    (on a shared machine CPU time shows the cost that wall time mixes with waiting)."""
    if queries:
        search(queries[0])
    times = []
    for _ in range(rounds):
        for q in queries:
            start, start_cpu = time.perf_counter(), time.process_time()
            search(q)
            times.append(time.perf_counter() - start)
            if cpu is not None:
                cpu.append(time.process_time() - start_cpu)
    return times


def scale_database(src_db: Path, dst_db: Path, target_chunks: int, seed: int = 0) -> int:
    """Copy the library database and duplicate its documents until it holds >= target_chunks
    chunks. Returns the chunk count reached. The vector index is left for open_library to build."""
    from engine.database import open_db

    shutil.copyfile(src_db, dst_db)
    for suffix in ("-wal", "-shm"):
        extra = src_db.with_name(src_db.name + suffix)
        if extra.exists():
            shutil.copyfile(extra, dst_db.with_name(dst_db.name + suffix))
    db = open_db(dst_db)
    rng = np.random.default_rng(seed)
    try:
        base = db.execute("SELECT count(*) FROM library_chunks").fetchone()[0]
        if base == 0:
            raise UserError("the library to scale holds no chunks")
        docs = db.execute("SELECT id FROM library_documents ORDER BY id").fetchall()
        total, copy = base, 0
        while total < target_chunks:
            copy += 1
            db.execute("BEGIN IMMEDIATE")
            for (doc_id,) in docs:
                if total >= target_chunks:
                    break
                total += _copy_document(db, doc_id, copy, rng)
            db.execute("COMMIT")
        return total
    finally:
        db.conn.close()


def _copy_document(db, doc_id: int, copy: int, rng: np.random.Generator) -> int:
    cur = db.execute(
        "INSERT INTO library_documents (path, kind, title, source, sha256, bytes, imported_at, metadata, form, chunking) "
        "SELECT path || '#copy' || ?, kind, title, source, sha256, bytes, imported_at, metadata, form, chunking "
        "FROM library_documents WHERE id = ?", [copy, doc_id])
    new_doc = cur.lastrowid
    added = 0
    for sid, ordinal, heading, level, text, page, page_end, title in db.execute(
            "SELECT s.id, s.ordinal, s.heading, s.level, s.text, s.page, s.page_end, d.title FROM library_sections s "
            "JOIN library_documents d ON d.id = s.document_id WHERE s.document_id = ?", [doc_id]).fetchall():
        new_sid = db.execute("INSERT INTO library_sections (document_id, ordinal, heading, level, text, page, page_end) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", [new_doc, ordinal, heading, level, text, page, page_end]).lastrowid
        db.execute("INSERT INTO library_fts (rowid, title, heading, text) VALUES (?, ?, ?, ?)",
                   [new_sid, title, heading, text])
        for c_ord, ctext, blob in db.execute(
                "SELECT ordinal, text, embedding FROM library_chunks WHERE section_id = ?", [sid]).fetchall():
            vec = np.frombuffer(blob, dtype=np.float32) + rng.normal(0, NOISE, 384).astype(np.float32)
            vec /= np.linalg.norm(vec)
            db.execute("INSERT INTO library_chunks (section_id, ordinal, text, embedding) VALUES (?, ?, ?, ?)",
                       [new_sid, c_ord, ctext, vec.astype(np.float32).tobytes()])
            added += 1
    return added


@dataclass
class SizeResult:
    label: str
    documents: int
    chunks: int
    index_type: str
    p50_ms: float
    p95_ms: float
    cpu_p50_ms: float
    cpu_p95_ms: float
    embed_p50_ms: float
    ann_recall: float  # share of the exact (fp32, brute-force) top-10 chunks the index returned


def latency_row(lib, label: str, queries: Sequence[str], rounds: int) -> SizeResult:
    stats = lib.stats()
    cpu: list[float] = []
    times = time_queries(lambda q: lib.search(q, k=10), queries, rounds, cpu)
    embed_times = time_queries(lib.embedder.embed_query, queries, 1)
    return SizeResult(label, stats["documents"], stats["chunks"], stats["index_type"],
                      1000 * percentile(times, 50), 1000 * percentile(times, 95),
                      1000 * percentile(cpu, 50), 1000 * percentile(cpu, 95),
                      1000 * statistics.median(embed_times), ann_recall(lib, queries))


def ann_recall(lib, queries: Sequence[str], k: int = 10) -> float:
    """How much of the exact (brute-force) top-k the vector index finds, averaged over queries."""
    from retrieval import store

    ids, vecs = store.chunk_vectors(lib.db)
    found = 0
    for q in queries:
        qv = lib.embedder.embed_query(q)
        exact = set(ids[np.argsort(-(vecs @ qv))[:k]].tolist())
        found += len(exact & set(lib.vectors.search(qv, k)[1].tolist()))
    return found / (k * len(queries)) if queries else 1.0
