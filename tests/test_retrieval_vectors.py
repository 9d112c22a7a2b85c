"""The persisted faiss index: type by size, id bookkeeping, sync against the database, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval import vectors
from retrieval.vectors import VectorIndex, fingerprint_of, index_kind


def unit(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_flat_index_finds_exact_neighbours_and_keeps_ids(tmp_path: Path):
    vecs, ids = unit(50), np.arange(100, 150, dtype=np.int64)
    index = VectorIndex(tmp_path / "i.faiss", 16)
    index.rebuild(vecs, ids)
    assert index_kind(index.index) == "flat"
    scores, found = index.search(vecs[7], 3)
    assert found[0] == 107 and scores[0] == pytest.approx(1.0, abs=1e-3)  # stored as fp16
    assert sorted(index.ids().tolist()) == ids.tolist()


def test_an_fp32_flat_index_from_an_older_version_no_longer_matches_its_kind_so_opening_rebuilds_it():
    import faiss

    old = faiss.IndexIDMap2(faiss.IndexFlatIP(16))
    assert index_kind(old) == "flat-fp32" != vectors.choose_kind(10)


def test_large_index_switches_to_ivf_and_still_finds_neighbours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(vectors, "FLAT_MAX", 500)
    vecs, ids = unit(3000, seed=1), np.arange(3000, dtype=np.int64) * 3 + 1
    index = VectorIndex(tmp_path / "i.faiss", 16)
    index.rebuild(vecs, ids)
    assert index_kind(index.index) == "ivf"
    hits = sum(int(index.search(vecs[i], 1)[1][0] == ids[i]) for i in range(0, 3000, 100))
    assert hits >= 28  # nprobe search of an IVF index is approximate, but close to exact here
    assert sorted(index.ids().tolist()) == ids.tolist()
    index.remove(ids[:10])
    assert index.index.ntotal == 2990 and ids[0] not in set(index.ids().tolist())


def test_sync_adds_missing_and_drops_extra(tmp_path: Path):
    vecs = unit(20, seed=2)
    index = VectorIndex(tmp_path / "i.faiss", 16)
    index.rebuild(vecs[:10], np.arange(10, dtype=np.int64))
    db_ids = np.arange(5, 20, dtype=np.int64)
    added, removed = index.sync(db_ids, lambda ids: vecs[ids])
    assert (added, removed) == (10, 5)
    assert sorted(index.ids().tolist()) == db_ids.tolist()
    assert index.fingerprint == fingerprint_of(db_ids)
    assert index.search(vecs[15], 1)[1][0] == 15


def test_save_and_load_round_trip_and_report_problems(tmp_path: Path):
    path = tmp_path / "i.faiss"
    index = VectorIndex(path, 16)
    assert index.load() == "vector index file is missing"
    index.rebuild(unit(5), np.arange(5, dtype=np.int64))
    index.save()
    again = VectorIndex(path, 16)
    assert again.load() is None
    assert again.fingerprint == index.fingerprint and again.index.ntotal == 5
    path.write_bytes(b"garbage")
    assert "unreadable" in VectorIndex(path, 16).load()
