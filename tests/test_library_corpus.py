"""The whole shared corpus imported once for this module: coverage, recall, filters, examples.

Embedding ~560 documents is the slow part (about a minute and a half on two free cores), so the
import happens once here and every test reads the same library.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.benchmark import first_relevant_rank, load_queries, recall_at
from retrieval.library import open_library

QUERIES = Path(__file__).resolve().parents[1] / "assistant" / "data" / "library_queries.jsonl"


@pytest.fixture(scope="module")
def corpus_library(corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    lib = open_library(tmp_path_factory.mktemp("corpus-library") / "library.db")
    summary = lib.add_paths([corpus])
    yield lib, summary
    lib.close()


def test_every_corpus_document_is_imported_with_its_kind(corpus_library, corpus: Path):
    lib, summary = corpus_library
    manifest = [json.loads(line) for line in (corpus / "manifest.jsonl").read_text().splitlines() if line.strip()]
    kinds = {d.path: d.kind for d in lib.list_documents()}
    for row in manifest:
        path = str((corpus / row["file"]).resolve())
        assert path in kinds, row["file"]
        if row["kind"] in ("adr", "legal", "patent"):
            assert kinds[path] == row["kind"], row["file"]
    # Only files that are not documents (license texts without a suffix, the JSONL manifest) are skipped.
    assert all(reason.startswith("unsupported file type") for _path, reason in summary.skipped)
    stats = lib.stats()
    assert stats["vectors"] == stats["chunks"] > stats["documents"] >= len(manifest)


def test_recall_at_5_on_the_shipped_paraphrased_queries(corpus_library):
    lib, _ = corpus_library
    queries = load_queries(QUERIES)
    assert len(queries) >= 25
    ranks = [first_relevant_rank([h.path for h in lib.search(q.query, k=10)], q.expect) for q in queries]
    missed = [q.query for q, r in zip(queries, ranks) if r is None or r > 5]
    assert recall_at(ranks, 5) >= 0.9, missed


def test_kind_and_source_filters(corpus_library, corpus: Path):
    lib, _ = corpus_library
    legal = lib.search("termination for breach with thirty days notice", k=10, kind="legal")
    assert len(legal) == 10 and {h.kind for h in legal} == {"legal"}
    nats = lib.search("client reconnect behaviour", k=5, source="adr-nats")
    assert nats and all("/adr-nats/" in h.path for h in nats)
    by_path = lib.search("client reconnect behaviour", k=5, source=str(corpus / "adr-nats"))
    assert [h.path for h in by_path] == [h.path for h in nats]
    assert len({h.path for h in lib.search("database", k=10)}) == 10  # one hit per document


def test_examples_for_a_section_come_from_that_kind_and_heading(corpus_library):
    lib, _ = corpus_library
    found = lib.examples("adr", "Consequences", "We will move our queues to a managed service.", k=3)
    assert len(found) == 3 and len({e.path for e in found}) == 3
    assert all("consequences" in e.heading.lower() for e in found)
    assert all(len(e.text.split()) >= 15 for e in found)
    legal = lib.examples("legal", "Limitation of Liability", "", k=2)
    assert len(legal) == 2 and all("liabil" in e.heading.lower() for e in legal)
    assert all("/legal-" in e.path for e in legal)


def test_reimporting_unchanged_corpus_folder_is_a_quick_no_op(corpus_library, corpus: Path):
    lib, _ = corpus_library
    again = lib.add_paths([corpus / "adr-nats"])
    assert not again.added and not again.updated and len(again.unchanged) >= 52
    assert again.seconds < 10
