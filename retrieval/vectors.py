"""The faiss index over chunk embeddings, persisted next to the database.

The database holds every embedding (the store of record); this file is a fast copy of them. It
carries a fingerprint of the chunk ids it holds, so opening the library can tell whether it still
agrees with the database and rebuild it when it does not.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

# Below this many vectors an exhaustive (flat) search is fast enough (~1.3 ms per 10k on one core)
# and needs no training; above it an inverted-file index keeps 100k+ vectors at a few milliseconds.
# The flat index stores fp16: half the bytes to stream per query (17 MB -> 8.5 MB at 11k chunks,
# 2.1 -> 1.3 ms here, and less of the cache the query encoder's weights need is evicted), the same
# top-10 on the corpus queries, cosines within ~1e-3.
FLAT_MAX = 30_000
NPROBE = 24


@dataclass(frozen=True)
class Fingerprint:
    count: int
    id_sum: int
    id_max: int

    def as_dict(self) -> dict[str, int]:
        return {"count": self.count, "id_sum": self.id_sum, "id_max": self.id_max}


def read_fingerprint(meta_path: Path) -> Fingerprint:
    """The fingerprint saved beside an index file (raises OSError, ValueError or KeyError)."""
    meta = json.loads(meta_path.read_text())
    return Fingerprint(int(meta["count"]), int(meta["id_sum"]), int(meta["id_max"]))


def fingerprint_of(ids: np.ndarray) -> Fingerprint:
    ids = np.asarray(ids, dtype=np.int64)
    return Fingerprint(int(ids.size), int(ids.sum()) if ids.size else 0, int(ids.max()) if ids.size else 0)


def choose_kind(n: int) -> str:
    return "flat" if n <= FLAT_MAX else "ivf"


def build_index(vectors: np.ndarray, ids: np.ndarray):
    """A new index of the type that suits len(vectors)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    dim = vectors.shape[1]
    if choose_kind(len(vectors)) == "flat":
        index = faiss.IndexIDMap2(faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16,
                                                             faiss.METRIC_INNER_PRODUCT))
    else:
        nlist = int(4 * np.sqrt(len(vectors)))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = vectors[rng.choice(len(vectors), size=min(len(vectors), nlist * 40), replace=False)]
        index.train(sample)
        index.nprobe = NPROBE
    if len(vectors):
        index.add_with_ids(vectors, ids)
    return index


def index_kind(index) -> str:
    """"flat", "ivf", or "flat-fp32" for an index written before flat ones stored fp16 (it does
    not match choose_kind, so opening the library rebuilds it)."""
    import faiss

    inner = faiss.downcast_index(index)
    if isinstance(inner, (faiss.IndexIDMap, faiss.IndexIDMap2)):
        inner = faiss.downcast_index(inner.index)
    if isinstance(inner, faiss.IndexIVF):
        return "ivf"
    return "flat-fp32" if isinstance(inner, faiss.IndexFlat) else "flat"


class VectorIndex:
    """An id-mapped faiss index plus the fingerprint of the ids it holds."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.meta_path = path.with_name(path.name + ".json")
        self.dim = dim
        self.index = build_index(np.zeros((0, dim), np.float32), np.zeros(0, np.int64))
        self.fingerprint = Fingerprint(0, 0, 0)

    def load(self) -> str | None:
        """Read the files; returns a reason when they are missing or unreadable."""
        import faiss

        if not self.path.exists() or not self.meta_path.exists():
            return "vector index file is missing"
        try:
            index = faiss.read_index(str(self.path))
            fp = read_fingerprint(self.meta_path)
        except Exception as exc:  # noqa: BLE001 - faiss raises RuntimeError, json ValueError, ...
            return f"vector index file is unreadable ({type(exc).__name__})"
        if index.d != self.dim or index.ntotal != fp.count:
            return "vector index file does not match its fingerprint"
        self.index, self.fingerprint = index, fp
        return None

    def rebuild(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self.index = build_index(vectors, ids)
        self.fingerprint = fingerprint_of(ids)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.ascontiguousarray(ids, np.int64))
            fp = self.fingerprint
            self.fingerprint = Fingerprint(fp.count + len(ids), fp.id_sum + int(np.sum(ids)), max(fp.id_max, int(np.max(ids))))

    def remove(self, ids: np.ndarray) -> None:
        import faiss

        if len(ids):
            self.index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(ids, np.int64)))
            self.fingerprint = fingerprint_of(self.ids())

    def ids(self) -> np.ndarray:
        """Every id the index holds (read from its id map or inverted lists)."""
        import faiss

        index = faiss.downcast_index(self.index)
        if isinstance(index, faiss.IndexIVF):
            lists = index.invlists
            parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                     for i in range(lists.nlist) if lists.list_size(i)]
            return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
        return faiss.vector_to_array(index.id_map).astype(np.int64)

    def sync(self, db_ids: np.ndarray, fetch: "Callable[[np.ndarray], np.ndarray]") -> tuple[int, int]:
        """Make the index hold exactly `db_ids`: add what is missing (vectors from fetch(ids)),
        drop what the database no longer has. Returns (added, removed)."""
        have = self.ids()
        missing = np.setdiff1d(db_ids, have, assume_unique=True)
        extra = np.setdiff1d(have, db_ids, assume_unique=True)
        if len(extra):
            self.remove(extra)
        if len(missing):
            self.add(fetch(missing), missing)
        self.fingerprint = fingerprint_of(db_ids)
        return len(missing), len(extra)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k nearest, best first; ids of -1 pad a short answer."""
        k = min(k, self.index.ntotal)
        if k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        import faiss

        # One query gains nothing from OpenMP threads, and on a busy CPU they wait on each other:
        # measured here, a 10k flat search took ~60 ms with two threads and ~0.4 ms with one.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self.index.search(np.ascontiguousarray(query.reshape(1, -1), np.float32), k)
        finally:
            faiss.omp_set_num_threads(threads)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def save(self) -> None:
        """Written to a temporary name, then renamed, so a reader never sees half a file."""
        import faiss

        tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        faiss.write_index(self.index, str(tmp))
        os.replace(tmp, self.path)
        tmp_meta = self.meta_path.with_name(self.meta_path.name + f".tmp{os.getpid()}")
        tmp_meta.write_text(json.dumps({**self.fingerprint.as_dict(), "kind": index_kind(self.index)}))
        os.replace(tmp_meta, self.meta_path)
