"""The shared corpus imported once for this module: coverage, recall, filters, examples.

Embedding is the slow part of an import (~11,000 chunks, four and a half minutes on two cores for
the whole corpus), so two libraries are built once here:
- every corpus file with a cheap bag-of-words embedder, for what does not depend on the vectors
  (every document imported, with its kind, and only non-documents skipped);
- with the real embedding model, every project whole except the five largest (the Decentraland,
  NATS and MyMove ADRs, GitHub's site policies, the patents: two thirds of all chunks), of which
  every document a labelled query targets and every sixth other one are imported (of the
  patents, only the targets; the licence texts and the corpus's top-level files not at all, as
  in the drafting bench's library): ~300 documents, so each query still has a hundred or more
  same-kind documents to be confused with. The whole corpus is `draftpad bench-library`'s job.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from retrieval.benchmark import load_queries, measure_recall
from retrieval.library import open_library

pytestmark = pytest.mark.real_model  # the recall tests use the MiniLM embedding model

DATA = Path(__file__).resolve().parents[1] / "assistant" / "bench" / "data"
QUERY_SETS = ["library_queries.jsonl", "paraphrased_queries.jsonl"]
NAMED = ("adr-nats/adr__ADR-12.md",)  # a test below expects it among the examples
THINNED = ("adr-decentraland", "adr-nats", "adr-transcom-mymove", "legal-github-site-policy", "patents-uspto-samples")
TARGETS_ONLY = ("patents-uspto-samples/",)  # 100-180 KB each: only the ones a query targets


class WordHashEmbedder:
    """Unit vectors from hashed words: fast, deterministic, and enough for import bookkeeping."""

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(384, dtype=np.float32)
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            v[int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % 384] += 1
        return v / max(float(np.linalg.norm(v)), 1e-9)

    def embed(self, texts, progress=None) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


def recall_subset(corpus: Path) -> list[Path]:
    targets = {q.expect for name in QUERY_SETS for q in load_queries(DATA / name)} | set(NAMED)
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    chosen, seen = [], 0
    for path in files:
        rel = path.relative_to(corpus).as_posix()
        if "/" not in rel or rel.startswith("LICENSES/"):
            continue  # the corpus's own notes and licence texts: the whole-corpus test reads them
        if any(rel.endswith(t) for t in targets) or rel.split("/")[0] not in THINNED:
            chosen.append(path)
            continue
        if rel.startswith(TARGETS_ONLY):
            continue
        seen += 1
        if seen % 6 == 0:
            chosen.append(path)
    return chosen


@pytest.fixture(scope="module")
def corpus_library(corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    lib = open_library(tmp_path_factory.mktemp("corpus-library") / "library.db")
    summary = lib.add_paths(recall_subset(corpus))
    yield lib, summary
    lib.close()


@pytest.fixture(scope="module")
def whole_corpus_cheaply(corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    lib = open_library(tmp_path_factory.mktemp("whole-corpus") / "library.db", embedder=WordHashEmbedder())
    summary = lib.add_paths([corpus])
    yield lib, summary
    lib.close()


def test_every_corpus_document_is_imported_with_its_kind(whole_corpus_cheaply, corpus: Path):
    lib, summary = whole_corpus_cheaply
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


@pytest.mark.parametrize("name", QUERY_SETS)
def test_recall_on_the_labelled_query_sets(corpus_library, name: str):
    """The shipped queries and the paraphrased ones written later for other documents, by
    someone half-remembering them: the document is first for most, in the top five for nearly all."""
    lib, _ = corpus_library
    queries = load_queries(DATA / name)
    assert len(queries) >= 24
    result = measure_recall(lambda text: [h.path for h in lib.search(text, k=10)], queries, name)
    assert result.at5 >= 0.9 and result.at1 >= 0.7, (result.at1, result.at5, result.missed)


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
    # The section's role counts, but a past section about the same problem may outrank one with
    # the right heading about something else: most, and the first, are Consequences sections.
    assert "consequences" in found[0].heading.lower()
    assert sum("consequences" in e.heading.lower() for e in found) >= 2
    assert all(len(e.text.split()) >= 15 for e in found)
    legal = lib.examples("legal", "Limitation of Liability", "", k=2)
    assert len(legal) == 2 and all("liabil" in e.heading.lower() for e in legal)
    kinds = {d.path: d.kind for d in lib.list_documents()}
    assert all(kinds[e.path] == "legal" for e in legal)


def test_reimporting_unchanged_corpus_folder_is_a_quick_no_op(corpus_library, corpus: Path):
    lib, _ = corpus_library
    again = lib.add_paths([corpus / "adr-moj-cloud-platform"])
    assert not again.added and not again.updated and len(again.unchanged) >= 45
    assert again.seconds < 10


def test_each_decisions_context_gets_examples_about_its_own_problem(corpus_library):
    """The per-section query carries the session's facts and gist: two ADRs' Context sections get
    different examples, each about the problem its facts describe."""
    from assistant.drafting.examples import section_query, template_form
    from assistant.drafting.templates import get_template

    lib, _ = corpus_library
    template = get_template("adr-nygard")
    spec = next(s for s in template.sections if s.id == "context")
    hint = f"{spec.retrieval} {spec.guidance}"
    sessions = {
        "adr__ADR-12.md": {"title": "Encrypt stored stream data at rest",
                           "context": "Messages persisted by the server sit unencrypted on disk; some customers need "
                                      "encryption without an encrypted filesystem.",
                           "decision": "Server-side encryption with a master key"},
        "047-use-karpenter-for-scaling.md": {"title": "Use Karpenter to autoscale cluster nodes",
                                             "context": "Cluster Autoscaler is slow to add nodes for pending pods on "
                                                        "our EKS clusters.",
                                             "decision": "Replace it with Karpenter"},
    }
    found = {}
    for expect, values in sessions.items():
        query = section_query(template, hint, values, spec.uses)
        examples = lib.examples("adr", spec.title, query, k=3, form=template_form(template))
        assert len(examples) == 3 and any(e.path.endswith(expect) for e in examples), [e.path for e in examples]
        found[expect] = {e.path for e in examples}
    first, second = found.values()
    assert not first & second


def test_a_rent_agreements_examples_come_only_from_rent_agreements(corpus_library):
    from assistant.drafting.examples import section_query, template_form
    from assistant.drafting.templates import get_template

    lib, _ = corpus_library
    template = get_template("in-rent-agreement")
    assert template_form(template) == "rent-agreement"
    spec = next(s for s in template.sections if s.id == "termination")
    values = {"property": "Flat 4, Sunrise Apartments, Pune", "rent": "Rs. 25,000", "notice_months": "1"}
    query = section_query(template, f"{spec.retrieval} {spec.guidance}", values, spec.uses)
    examples = lib.examples("legal", spec.title, query, k=3, form="rent-agreement")
    forms = {d.path: d.form for d in lib.list_documents()}
    assert examples and all(forms[e.path] == "rent-agreement" for e in examples)
    # The coarse kind alone pools policies and terms of service with the leases.
    pooled = lib.examples("legal", spec.title, query, k=3)
    assert any(forms[e.path] != "rent-agreement" for e in pooled)
