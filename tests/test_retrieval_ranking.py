"""Rank fusion, FTS query building, heading likeness and snippets (pure functions)."""

from __future__ import annotations

from retrieval.benchmark import first_relevant_rank, percentile, recall_at
from retrieval.ranking import fts_query, heading_similarity, query_terms, reciprocal_rank_fusion, snippet


def test_rrf_rewards_agreement_between_lists():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["e", "b", "d"]])
    order = [item for item, _ in fused]
    assert order[0] == "b"  # 2nd in both beats 1st in one only
    assert set(order) == {"a", "b", "c", "d", "e"}
    scores = dict(fused)
    assert scores["b"] == 2 / 62
    assert scores["d"] == 1 / 63


def test_rrf_weights():
    fused = dict(reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0, 2.0]))
    assert fused["b"] == 2 * fused["a"]


def test_fts_query_quotes_terms_so_user_text_is_never_syntax():
    q = fts_query('what is "NEAR(a b)" OR title:* AND -x the lease?')
    assert q == '"near" OR "title" OR "lease"'
    assert fts_query("the of and") == ""
    assert query_terms("Lease lease LEASE deed") == ["lease", "deed"]


def test_heading_similarity_ignores_numbering_and_case():
    assert heading_similarity("3. Context", "Decision > context") == 1.0
    assert heading_similarity("Consequences", "Positive Consequences") > 0.3
    assert heading_similarity("Status", "Decision Drivers") == 0.0
    assert heading_similarity("", "Context") == 0.0


def test_snippet_centres_on_query_terms():
    text = "Intro words. " * 40 + "The tenant must pay the security deposit before moving in. " + "Filler. " * 40
    s = snippet(text, ["security", "deposit"], width=120)
    assert "security deposit" in s
    assert s.startswith("… ") and s.endswith(" …")
    assert len(s) <= 125
    assert snippet("short text", ["x"]) == "short text"
    assert snippet("see [the docs](https://example.com/x) and ![img](a.png)", []) == "see the docs and img"


def test_recall_helpers():
    assert first_relevant_rank(["/a/x.md", "/b/y.md#copy2"], "b/y.md") == 2
    assert first_relevant_rank(["/a/x.md"], "zzz.md") is None
    assert recall_at([1, 3, None, 6], 5) == 0.5
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile(list(range(1, 101)), 95) == 95
