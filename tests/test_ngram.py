"""The n-gram model: counts match a naive count, the store round-trips, survives corruption,
and grows incrementally."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ngram import (DEFAULT_WEIGHTS, NgramModel, NgramTable, count_sequences, load_table, save_table,
                          text_key)


def naive_counts(sequences: list[list[int]], n: int) -> dict[tuple[int, ...], Counter]:
    table: dict[tuple[int, ...], Counter] = {}
    for seq in sequences:
        for j in range(n - 1, len(seq)):
            table.setdefault(tuple(seq[j - n + 1:j]), Counter())[seq[j]] += 1
    return table


def naive_probability(sequences: list[list[int]], history: list[int], token: int,
                      weights: dict[int, float]) -> float:
    total = 0.0
    for n, weight in weights.items():
        if len(history) < n - 1:
            continue
        successors = naive_counts(sequences, n).get(tuple(history[len(history) - n + 1:]), Counter())
        if successors:
            total += weight * successors[token] / sum(successors.values())
    return total


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 6), min_size=0, max_size=30), min_size=1, max_size=4),
       st.lists(st.integers(0, 6), min_size=0, max_size=7))
def test_interpolated_probabilities_match_a_naive_count(sequences: list[list[int]], history: list[int]) -> None:
    table = NgramTable()
    table.add_sequences(sequences)
    model = NgramModel([table])
    candidates = list(range(7))
    got = model.probabilities(history, candidates)
    want = [naive_probability(sequences, history, t, DEFAULT_WEIGHTS) for t in candidates]
    assert np.allclose(got, want)


def test_ngrams_never_span_two_texts() -> None:
    counts = count_sequences([[1, 2], [3, 4]], orders=(2, 3))
    assert len(counts[3]) == 0  # each text is shorter than a trigram
    pairs = {(int(c), int(t)) for c, t in zip(counts[2].ctx, counts[2].nxt)}
    assert len(pairs) == 2  # 1->2 and 3->4, never 2->3


def test_counts_from_two_tables_add_up() -> None:
    one, two = NgramTable(), NgramTable()
    one.add_sequences([[1, 2, 3]])
    two.add_sequences([[1, 2, 4], [1, 2, 4]])
    model = NgramModel([one, two], {2: 1.0})
    assert model.probabilities([9, 2], [3, 4, 5]).tolist() == pytest.approx([1 / 3, 2 / 3, 0.0])


def test_store_round_trips(tmp_path: Path) -> None:
    table = NgramTable()
    table.add_sequences([[5, 6, 7, 8, 9, 10, 11], [5, 6, 7, 1]])
    table.seen.update({text_key("a"), text_key("b")})
    path = tmp_path / "store.npz"
    size = save_table(path, table, {"identity": "m1"})
    assert size == path.stat().st_size > 0
    loaded = load_table(path, expect_meta={"identity": "m1"})
    assert loaded is not None and loaded.seen == table.seen
    for n in table.orders:
        for field in ("ctx", "nxt", "cnt"):
            assert np.array_equal(getattr(loaded.orders[n], field), getattr(table.orders[n], field))
    history = [5, 6, 7]
    assert NgramModel([loaded]).probabilities(history, [8, 1]).tolist() == \
        NgramModel([table]).probabilities(history, [8, 1]).tolist()
    assert not list(tmp_path.glob(".ngram-*"))  # no temp file left behind


@pytest.mark.parametrize("damage", [b"", b"not a zip file at all", None])
def test_corrupt_store_is_ignored_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                  damage: bytes | None) -> None:
    path = tmp_path / "store.npz"
    table = NgramTable()
    table.add_sequences([[1, 2, 3, 4]])
    save_table(path, table, {"identity": "m1"})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage is None else damage)  # None: truncated mid-write
    with caplog.at_level(logging.WARNING, logger="draftpad.ngram"):
        assert load_table(path, expect_meta={"identity": "m1"}) is None
    assert "rebuilt" in caplog.text


def test_store_for_another_model_is_not_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "store.npz"
    save_table(path, NgramTable(), {"identity": "m1"})
    with caplog.at_level(logging.WARNING, logger="draftpad.ngram"):
        assert load_table(path, expect_meta={"identity": "m2"}) is None


def test_pruning_drops_rare_high_order_pairs_only() -> None:
    table = NgramTable()
    table.add_sequences([[1, 2, 3], [1, 2, 3], [7, 8, 9]])
    table.prune(min_count=2, from_order=3)
    model = NgramModel([table], {2: 1.0, 3: 1.0})
    assert model.probabilities([1, 2], [3]).tolist() == [2.0]  # bigram and trigram both kept (count 2)
    assert model.probabilities([7, 8], [9]).tolist() == [1.0]  # the singleton trigram is gone, bigram stays


# ---- the persisted store behind suggestions (assistant/suggestions.py) ----------------------------

@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The suite shares one cache dir; these tests need a store nobody else has written."""
    monkeypatch.setenv("DRAFTPAD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def tiny_lm(tiny_model_dir: Path) -> SimpleNamespace:
    from transformers import AutoTokenizer

    return SimpleNamespace(tokenizer=AutoTokenizer.from_pretrained(tiny_model_dir), identity="tiny|512")


def test_refresh_counts_only_new_texts_and_persists(tiny_lm: SimpleNamespace) -> None:
    from assistant.drafting.suggestions import ngram_for, refresh_store, store_path

    first = refresh_store(tiny_lm, ["The monthly rent is Rs. 28,000.", "The security deposit shall be refunded."])
    assert first.added == 2 and first.known == 2 and first.entries > 0
    assert store_path(tiny_lm).is_file() and first.bytes == store_path(tiny_lm).stat().st_size
    again = refresh_store(tiny_lm, ["The monthly rent is Rs. 28,000."])
    assert again.added == 0 and again.entries == first.entries
    more = refresh_store(tiny_lm, ["The monthly rent is Rs. 28,000.", "We will use PostgreSQL."])
    assert more.added == 1 and more.known == 3
    ids = tiny_lm.tokenizer("The monthly rent is", add_special_tokens=False)["input_ids"]
    following = tiny_lm.tokenizer(" Rs", add_special_tokens=False)["input_ids"][0]
    assert ngram_for(tiny_lm, refresh=False).probabilities(ids, [following])[0] > 0


def test_refresh_rebuilds_after_corruption(tiny_lm: SimpleNamespace, caplog: pytest.LogCaptureFixture) -> None:
    from assistant.drafting.suggestions import refresh_store, store_path

    refresh_store(tiny_lm, ["Backups are simple."])
    store_path(tiny_lm).write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="draftpad.ngram"):
        summary = refresh_store(tiny_lm, ["Backups are simple."])
    assert "ignoring unreadable n-gram store" in caplog.text
    assert summary.added == 1 and summary.entries > 0


def test_document_text_counts_without_touching_the_store(tiny_lm: SimpleNamespace) -> None:
    from assistant.drafting.suggestions import ngram_for, store_path

    model = ngram_for(tiny_lm, "The LESSOR and the LESSEE agree.", refresh=False)
    assert not model.empty
    assert not store_path(tiny_lm).exists()


def test_missing_library_degrades_to_templates(tiny_lm: SimpleNamespace, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.drafting.suggestions as suggestions

    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "lease.toml").write_text('title = "Lease deed"\nbody = "The monthly rent is payable."\n')
    monkeypatch.setattr(suggestions, "TEMPLATES_DIR", folder)

    def broken() -> None:
        raise RuntimeError("library not built")

    import retrieval.library

    monkeypatch.setattr(retrieval.library, "open_library", broken)
    summary = suggestions.refresh_store(tiny_lm)
    assert summary.added == 1 and summary.entries > 0
