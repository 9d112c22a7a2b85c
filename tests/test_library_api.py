"""The Library façade on a handful of small documents, with the real embedding model."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from engine.errors import UserError
from retrieval.library import open_library
from tests.fixtures_library import write_docs

pytestmark = pytest.mark.real_model  # every test here uses the MiniLM embedding model


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return write_docs(tmp_path / "docs")


@pytest.fixture
def lib(tmp_path: Path):
    library = open_library(tmp_path / "lib.db")
    yield library
    library.close()


def counts(db_path: Path) -> tuple[int, int, int, int]:
    conn = sqlite3.connect(db_path)
    try:
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[return-value]
                     for t in ("library_documents", "library_sections", "library_chunks", "library_fts"))
    finally:
        conn.close()


def test_import_search_and_filters(lib, docs: Path):
    calls = []
    summary = lib.add_paths([docs], progress=lambda done, total, path: calls.append((done, total)))
    assert len(summary.added) == 3 and not summary.skipped and not summary.updated
    assert calls[-1] == (3, 3)
    kinds = {Path(d.path).name: d.kind for d in lib.list_documents()}
    assert kinds == {"0001-use-postgres.md": "adr", "0002-message-queue.md": "adr", "flat-lease.txt": "legal"}

    hits = lib.search("tenant may not hand the flat over to someone else", k=3)
    assert hits[0].path == str((docs / "leases/flat-lease.txt").resolve())
    assert hits[0].heading == "SUBLETTING" and hits[0].title == "RENT AGREEMENT" and hits[0].kind == "legal"
    assert hits[0].score > 0 and "sublet" in hits[0].snippet

    hits = lib.search("which relational database do we run", k=5, kind="adr")
    assert hits and all(h.kind == "adr" for h in hits)
    assert hits[0].path.endswith("0001-use-postgres.md")
    assert lib.search("database", kind="legal", k=5) == [] or all(h.kind == "legal" for h in lib.search("database", kind="legal"))
    only = lib.search("notice", k=10, source="leases")
    assert only and {Path(h.path).parent.name for h in only} == {"leases"}
    assert lib.search("notice", k=10, source=str(docs / "adrs")) == [] or \
        all("/adrs/" in h.path for h in lib.search("notice", k=10, source=str(docs / "adrs")))
    assert lib.search("   ") == []
    with pytest.raises(UserError):
        lib.search("x", kind="poem")


def test_document_metadata_and_sections(lib, docs: Path):
    lib.add_paths([docs])
    doc = lib.document(docs / "adrs/0002-message-queue.md")
    assert doc.title == "Send notification emails through a message queue"
    assert doc.metadata == {"status": "proposed", "date": "2022-05-06"}
    assert [s.heading for s in doc.sections] == ["Context and Problem Statement", "Decision Outcome"]
    assert "retries delivery" in doc.text
    assert lib.document(docs / "adrs/0001-use-postgres.md").metadata["status"] == "Accepted"
    with pytest.raises(UserError, match="not in the library"):
        lib.document(docs / "nope.md")


def test_reimport_unchanged_is_noop_changed_replaces_and_remove_cleans_up(lib, docs: Path, tmp_path: Path):
    lib.add_paths([docs])
    before = counts(lib.db_path)
    again = lib.add_paths([docs])
    assert len(again.unchanged) == 3 and not again.added and not again.updated
    assert counts(lib.db_path) == before

    target = docs / "adrs/0001-use-postgres.md"
    target.write_text("# 1. Use SQLite\n\n## Decision\n\nWe will embed SQLite in every service instead of a server.\n")
    changed = lib.add_paths([target])
    assert changed.updated == [str(target.resolve())]
    assert [s.heading for s in lib.document(target).sections] == ["Decision"]
    assert not any("PostgreSQL" in t for t in lib.all_section_texts())
    hits = lib.search("embedded database file inside each service", k=1)
    assert hits[0].path == str(target.resolve()) and hits[0].title == "1. Use SQLite"

    assert lib.remove(target) is True
    assert lib.remove(target) is False
    docs_n, sections, chunks, fts = counts(lib.db_path)
    assert docs_n == 2 and sections == fts
    assert lib.vectors.index.ntotal == chunks == lib.stats()["vectors"]
    assert all(h.path != str(target.resolve()) for h in lib.search("SQLite embedded in every service", k=10))


def test_kind_override_and_unknown_kind(lib, docs: Path):
    lib.add_paths([docs / "leases"], kind="other")
    assert {d.kind for d in lib.list_documents()} == {"other"}
    lib.add_paths([docs / "leases"], kind="legal")  # same bytes, new kind: re-imported as that kind
    assert {d.kind for d in lib.list_documents()} == {"legal"}
    with pytest.raises(UserError, match="unknown kind"):
        lib.add_paths([docs], kind="poem")


def test_bad_inputs_are_skipped_with_reasons_and_nothing_is_lost(lib, docs: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch):
    lib.add_paths([docs])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.md").write_bytes(b"")
    (bad / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (bad / "latin1.md").write_bytes("# Caf\u00e9\n\nd\u00e9j\u00e0 vu\n".encode("latin-1"))
    (bad / "big.md").write_text("# Big\n\n" + "word " * 3000)
    (bad / "photo.png").write_bytes(b"\x89PNG")
    (bad / "gone.md").symlink_to(bad / "missing-target.md")
    (bad / "locked.md").write_text("# Locked\n\nsecret")
    real_read = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "locked.md":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr("retrieval.library.MAX_FILE_BYTES", 10_000)
    summary = lib.add_paths([bad, tmp_path / "no-such-folder"])
    reasons = {Path(p).name: r for p, r in summary.skipped}
    assert reasons["empty.md"] == "empty file"
    assert reasons["image.txt"] == "binary file"
    assert reasons["latin1.md"].startswith("not UTF-8 text")
    assert reasons["big.md"] == "larger than the 9.76562 KB limit"
    assert reasons["photo.png"] == "unsupported file type .png"
    assert reasons["gone.md"].startswith("cannot read")
    assert reasons["locked.md"] == "cannot read: Permission denied"
    assert reasons["no-such-folder"] == "no such file or folder"
    assert not summary.added
    assert len(lib.list_documents()) == 3


def test_unreadable_database_is_kept_and_a_new_one_started(tmp_path: Path, docs: Path):
    # Nothing at all can be read here (see tests/test_hardening_repair.py for a partly damaged file).
    db_path = tmp_path / "lib.db"
    db_path.write_bytes(b"this is not a database" * 100)
    lib = open_library(db_path)
    try:
        assert any("could not be read" in m and "original is kept at" in m for m in lib.messages)
        kept = list(tmp_path.glob("lib.db.corrupt-*"))
        assert kept and kept[0].read_bytes().startswith(b"this is not a database")
        assert len(lib.add_paths([docs]).added) == 3
    finally:
        lib.close()


def test_missing_or_stale_index_is_rebuilt_from_the_database(tmp_path: Path, docs: Path):
    db_path = tmp_path / "lib.db"
    lib = open_library(db_path)
    lib.add_paths([docs / "adrs"])
    index_file = lib.index_path
    old_index, old_meta = index_file.read_bytes(), lib.vectors.meta_path.read_bytes()
    lib.add_paths([docs / "leases"])
    chunks = lib.stats()["chunks"]
    lib.close()

    # A stale index (from before the last import) is brought up to date.
    index_file.write_bytes(old_index)
    lib.vectors.meta_path.write_bytes(old_meta)
    lib = open_library(db_path)
    assert any("disagreed with the database" in m for m in lib.messages)
    assert lib.vectors.index.ntotal == chunks
    assert lib.search("security deposit refund", k=1)[0].path.endswith("flat-lease.txt")
    lib.close()

    os.remove(index_file)
    lib = open_library(db_path)
    assert any("missing" in m and "rebuilt" in m for m in lib.messages)
    assert lib.vectors.index.ntotal == chunks
    assert lib.search("security deposit refund", k=1)[0].path.endswith("flat-lease.txt")
    assert lib.reindex()["vectors"] == chunks
    lib.close()
    assert index_file.exists()


def test_examples_favour_matching_headings_one_per_document(lib, docs: Path):
    lib.add_paths([docs])
    found = lib.examples("adr", "Context", "orders are slow to save", k=2)
    assert [e.heading for e in found] == ["Context", "Context and Problem Statement"]
    assert len({e.path for e in found}) == 2
    assert all(e.text and e.score > 0 for e in found)
    legal = lib.examples("legal", "Security deposit", "", k=3)
    assert legal[0].heading == "SECURITY DEPOSIT"
    assert len(legal) == 1  # one document of that kind, one example from it
    assert lib.examples("patent", "Claims", "", k=3) == []


def test_all_section_texts_streams_every_section(lib, docs: Path):
    lib.add_paths([docs])
    texts = list(lib.all_section_texts())
    assert len(texts) == lib.stats()["sections"]
    assert any("written consent of the lessor" in t for t in texts)


def test_large_library_queries_keep_only_selective_words(lib, docs: Path, monkeypatch: pytest.MonkeyPatch):
    lib.add_paths([docs])
    monkeypatch.setattr("retrieval.library.PRUNE_TERMS_FROM", 0)
    sections = lib.stats()["sections"]
    assert sections >= 10
    # "lessee" is in 3 sections (> 10%), "sublet" in one, "zzzz" in none.
    assert lib._selective_terms(["lessee", "sublet", "zzzz"]) == ["sublet"]
    assert lib._selective_terms(["lessee", "zzzz"]) == ["lessee"]  # never left with no words at all
    hits = lib.search("may the lessee sublet the flat", k=1)
    assert hits[0].heading == "SUBLETTING"
