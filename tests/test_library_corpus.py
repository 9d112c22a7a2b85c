"""The whole shared corpus imported once for this module: coverage, recall, filters, examples.

Embedding ~560 documents is the slow part (about a minute and a half on two free cores), so the
import happens once here and every test reads the same library.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.benchmark import load_queries, measure_recall
from retrieval.library import open_library

pytestmark = pytest.mark.real_model  # every test here uses the MiniLM embedding model

DATA = Path(__file__).resolve().parents[1] / "assistant" / "bench" / "data"
QUERY_SETS = ["library_queries.jsonl", "paraphrased_queries.jsonl"]


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
    assert all("/legal-" in e.path for e in legal)


def test_reimporting_unchanged_corpus_folder_is_a_quick_no_op(corpus_library, corpus: Path):
    lib, _ = corpus_library
    again = lib.add_paths([corpus / "adr-nats"])
    assert not again.added and not again.updated and len(again.unchanged) >= 52
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
