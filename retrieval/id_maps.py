"""Which section and document each chunk belongs to, and each document's summary vector, held in
arrays indexed by id.

A search maps a few hundred nearest chunks to their sections and documents, and filters them by
kind; asked of SQLite that was two to four queries a search (~5 ms of a ~30 ms search at 11k
chunks, and the tail whenever a filter made it look further). Read once per library state, the
lookups are array indexing. The arrays take ~20 bytes a chunk (2 MB at 100k chunks) besides the
summary vectors, one per document.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.chunking import SUMMARY_ORDINAL


@dataclass(frozen=True)
class IdMaps:
    newest_chunk: int  # the largest chunk id when read: a later import changes it
    chunk_section: np.ndarray  # [max chunk id + 1] section id, -1 for no chunk
    chunk_is_summary: np.ndarray  # [max chunk id + 1] bool
    section_document: np.ndarray  # [max section id + 1] document id, -1 for no section
    summary_documents: np.ndarray  # [documents with a summary] document id
    summary_vectors: np.ndarray  # [documents with a summary, dim] unit vectors

    def sections_of(self, chunk_ids: np.ndarray, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(section id, is-summary) per chunk id; -1 where the chunk is unknown or its document is
        not `allowed` (a boolean array by document id; None: all)."""
        ids = np.asarray(chunk_ids, np.int64)
        known = (ids >= 0) & (ids < len(self.chunk_section))
        sections = np.full(len(ids), -1, np.int64)
        sections[known] = self.chunk_section[ids[known]]
        summary = np.zeros(len(ids), bool)
        summary[known] = self.chunk_is_summary[ids[known]]
        if allowed is not None:
            docs = self.documents_of(sections)
            ok = (docs >= 0) & (docs < len(allowed))
            ok[ok] = allowed[docs[ok]]
            sections[~ok] = -1
        return sections, summary

    def documents_of(self, section_ids: np.ndarray) -> np.ndarray:
        """Document id per section id (-1 for none)."""
        ids = np.asarray(section_ids, np.int64)
        known = (ids >= 0) & (ids < len(self.section_document))
        out = np.full(len(ids), -1, np.int64)
        out[known] = self.section_document[ids[known]]
        return out

    def summaries(self, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(document ids, summary vectors), only of `allowed` documents when given."""
        if allowed is None:
            return self.summary_documents, self.summary_vectors
        docs = self.summary_documents
        keep = np.zeros(len(docs), bool)
        inside = docs < len(allowed)
        keep[inside] = allowed[docs[inside]]
        return docs[keep], self.summary_vectors[keep]


def documents_of(maps: IdMaps, section_ids: "set[int] | list[int]") -> dict[int, int]:
    """{section id: document id}."""
    ids = list(section_ids)
    return dict(zip(ids, maps.documents_of(np.array(ids, dtype=np.int64)).tolist()))


def newest_chunk(db) -> int:
    return int(db.execute("SELECT coalesce(max(id), 0) FROM library_chunks").fetchone()[0])


def read_id_maps(db, dim: int) -> IdMaps:
    newest = newest_chunk(db)
    table = np.array(db.execute("SELECT id, section_id, ordinal FROM library_chunks").fetchall(),
                     dtype=np.int64).reshape(-1, 3)
    # an import by another process between the two reads may have added chunks past `newest`
    chunk_section = np.full(max(newest, int(table[:, 0].max(initial=0))) + 1, -1, np.int64)
    chunk_section[table[:, 0]] = table[:, 1]
    chunk_is_summary = np.zeros(len(chunk_section), bool)
    chunk_is_summary[table[:, 0]] = table[:, 2] == SUMMARY_ORDINAL
    # from the sections themselves: a section too short to have a chunk can still match its words
    sections = np.array(db.execute("SELECT id, document_id FROM library_sections").fetchall(), dtype=np.int64).reshape(-1, 2)
    section_document = np.full(int(sections[:, 0].max(initial=0)) + 1, -1, np.int64)
    section_document[sections[:, 0]] = sections[:, 1]
    summary_rows = db.execute("SELECT s.document_id, c.embedding FROM library_chunks c "
                              "JOIN library_sections s ON s.id = c.section_id WHERE c.ordinal = ?",
                              [SUMMARY_ORDINAL]).fetchall()
    docs = np.array([r[0] for r in summary_rows], dtype=np.int64)
    vectors = np.zeros((len(summary_rows), dim), np.float32)
    for n, (_doc, blob) in enumerate(summary_rows):
        vectors[n] = np.frombuffer(blob, dtype=np.float32)
    return IdMaps(newest, chunk_section, chunk_is_summary, section_document, docs, vectors)


def allowed_documents(db, where: str, params: list) -> np.ndarray | None:
    """A boolean array by document id of the documents passing `where` (None when no filter)."""
    if not where:
        return None
    ids = [r[0] for r in db.execute(f"SELECT d.id FROM library_documents d WHERE 1 = 1 {where}", params).fetchall()]
    allowed = np.zeros(max(ids, default=0) + 1, bool)  # a larger id is past the end: not allowed
    allowed[np.array(ids, dtype=np.int64)] = True
    return allowed
