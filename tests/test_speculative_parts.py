"""The pieces of the speculative engine on their own: the persisted recycling table, the device
cost profile, the planner, suffix matching and tree building."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import engine
from engine.generation import GenerationConfig, generate
from engine.adaptive import CostProfile, _profile_key, best_count, cost_profile
from engine.draft_sources import SuffixIndex, reference_index
from engine.paths import cache_dir
from engine.recycling import RecyclingTable, load_table, save_table, table_path
from engine.tree import Trie, build_template, expand_template, select


pytestmark = pytest.mark.usefixtures("one_thread")


def filled_table(identity: str = "model-a|100", vocab: int = 100) -> RecyclingTable:
    rows = np.random.default_rng(0).integers(-1, vocab, size=(vocab, 8)).astype(np.int32)
    return RecyclingTable(identity, vocab, rows=rows)


def test_table_round_trip() -> None:
    table = filled_table()
    path = save_table(table)
    assert path == table_path("model-a|100", 100) and path.stat().st_size < 2_000_000
    loaded = load_table("model-a|100", 100)
    assert np.array_equal(loaded.rows, table.rows)
    assert not list(path.parent.glob(".tmp-*")), "the temporary file of the atomic write was left behind"


def test_table_size_for_smollm_vocab() -> None:
    path = save_table(RecyclingTable("smol|49152", 49152))
    assert path.stat().st_size <= 2 * 1024 * 1024


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other-model", "other-vocab", "out-of-range"])
def test_bad_table_file_is_ignored_with_a_warning(damage: str) -> None:
    table = filled_table()
    path = save_table(table)
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not a table at all")
    elif damage == "truncated":
        path.write_bytes(data[:-100])
    elif damage == "other-model":
        save_table(filled_table("model-b|100"), path)
    elif damage == "other-vocab":
        save_table(RecyclingTable("model-a|100", 50), path)
    else:
        header = len(data) - 100 * 8 * 4
        path.write_bytes(data[:header] + np.full(800, 10_000, dtype=np.int32).tobytes())
    with pytest.warns(RuntimeWarning, match="ignoring recycling table"):
        loaded = load_table("model-a|100", 100)
    assert loaded.filled_rows() == 0 and loaded.rows.shape == (100, 8)


def test_generation_persists_table_for_next_session(tiny_model_dir: Path) -> None:
    lm = engine.load_model(str(tiny_model_dir))
    generate(lm, "THIS DEED OF LEASE is made", GenerationConfig(max_new_tokens=12, method="recycling"))
    path = table_path(lm.identity, lm.vocab_size)
    assert path.is_file()
    filled = lm.state.recycling_table(lm.identity, lm.vocab_size).filled_rows()
    engine.forget_state(lm)  # a new session: nothing in memory
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lm.state.recycling_table(lm.identity, lm.vocab_size).filled_rows() == filled > 0


def test_a_fresh_state_persists_nothing(tiny_model_dir: Path) -> None:
    lm = engine.load_model(str(tiny_model_dir))
    path = table_path(lm.identity, lm.vocab_size)
    path.unlink(missing_ok=True)
    with engine.fresh_state(lm):
        generate(lm, "THIS DEED OF LEASE is made", GenerationConfig(max_new_tokens=12, method="recycling"))
    assert not path.exists()


def test_table_update_keeps_topk_of_each_position() -> None:
    table = RecyclingTable("m|10", 10, k=3)
    logits = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9.0], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0.0]])
    table.update(torch.tensor([4, 7]), logits)
    assert table.rows[4].tolist() == [9, 8, 7] and table.rows[7].tolist() == [0, 1, 2]
    assert table.rows[0].tolist() == [-1, -1, -1]


def test_cost_profile_is_measured_once_and_cached(tiny_model_dir: Path) -> None:
    lm = engine.load_model(str(tiny_model_dir))
    lm.profiles.clear()
    profile = cost_profile(lm)
    # (ordered costs are measure_profile's own doing: tests/test_cost_profile.py checks that rule)
    assert len(profile.seconds) == len(profile.widths) and all(s > 0 for s in profile.seconds)
    files = [cache_dir("adaptive") / f"{_profile_key(lm)}.json"]
    assert files[0].is_file()
    assert len(profile.per_token) == len(profile.widths)  # the tiny model fits both contexts
    fake = {"widths": list(profile.widths), "seconds": [1.0] * len(profile.widths),
            "per_token": [0.0] * len(profile.widths), "context": 256}
    files[0].write_text(json.dumps(fake))
    lm.profiles.clear()
    assert cost_profile(lm).seconds == (1.0,) * len(profile.widths)  # read back, not re-measured
    del fake["per_token"]  # a profile from before costs followed the context is measured again
    files[0].write_text(json.dumps(fake))
    lm.profiles.clear()
    assert cost_profile(lm).seconds != (1.0,) * len(profile.widths)
    files[0].write_text("{broken")
    lm.profiles.clear()
    assert cost_profile(lm).seconds != (1.0,) * len(profile.widths)  # a bad file is re-measured
    assert engine.adaptive.baseline_tok_s(lm) == pytest.approx(1.0 / cost_profile(lm).seconds[0])


def test_planner_drafts_less_over_a_long_context() -> None:
    # wide forwards grow dearer with the cache faster than a one-token forward does
    profile = CostProfile((1, 2, 4, 8, 16, 32, 64), (0.04, 0.041, 0.042, 0.044, 0.048, 0.056, 0.07),
                          (1e-6, 1e-6, 2e-6, 4e-6, 8e-6, 16e-6, 32e-6), 256)
    probs = np.array([0.9, 0.8, 0.6, 0.5] + [0.3] * 12 + [0.1] * 20)
    assert best_count(probs, profile, context=256) > best_count(probs, profile, context=4096) > 0


def test_planner_drafts_only_when_it_pays() -> None:
    steep = CostProfile((1, 2, 4, 8, 16, 32, 64), (0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.4))
    flat = CostProfile((1, 2, 4, 8, 16, 32, 64), (0.04, 0.04, 0.041, 0.042, 0.043, 0.045, 0.05))
    weak = np.full(20, 0.05)
    strong = np.array([0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.3, 0.1])
    assert best_count(weak, steep) == 0
    assert best_count(strong, steep) >= 5
    assert best_count(weak, flat) == 20


def test_suffix_index_prefers_longest_and_most_recent_match() -> None:
    index = SuffixIndex(max_n=4)
    index.extend([1, 2, 3, 4, 9, 2, 3, 5, 6, 7, 1, 2, 3])
    found = index.lookup([1, 2, 3], length=3)
    assert found[0].tokens == (4, 9, 2) and found[0].match_len == 3
    assert (5, 6, 7) in [c.tokens for c in found[1:]]
    refs = reference_index([[5, 6, 7], [6, 7, 8, 8]])
    assert [c.tokens for c in refs.lookup([6, 7], length=4)] == [(8, 8)]  # the separator ends chains


def test_trie_merges_sources_and_selection_is_ancestor_closed() -> None:
    trie = Trie.rooted(5)
    trie.add_chain((1, 2, 3), np.array([0.9, 0.8, 0.7]), np.array([100, 101, 102]))
    trie.add_chain((1, 2, 4), np.array([0.5, 0.4, 0.3]), np.array([110, 111, 112]))
    trie.add_chain((7,), np.array([0.6]), np.array([120]))
    assert len(trie) == 6 and trie.credit[1] == [100, 110]
    tree = select(trie, 4)
    assert tree.tokens == [5, 1, 2, 3, 7]
    assert tree.parent == [-1, 0, 1, 2, 0]
    assert tree.children[0] == {1: 1, 7: 4}
    for i in range(1, tree.width):
        assert tree.parent[i] < i


def test_template_expansion_follows_table_ranks() -> None:
    template = build_template(16)
    table = np.full((10, 8), -1, dtype=np.int32)
    table[3, :3] = [4, 5, 6]
    table[4, :2] = [7, 8]
    tokens = expand_template(template, table, 3)
    first = [int(t) for t, d in zip(tokens, template.depth) if d == 1 and t >= 0]
    assert first == [4, 5, 6]
    second = {int(t) for t, d in zip(tokens, template.depth) if d == 2 and t >= 0}
    assert second == {7, 8}


def test_cost_tracker_learns_what_wide_steps_really_cost() -> None:
    from engine.adaptive import CostTracker

    profile = CostProfile((1, 2, 4, 8, 16, 32, 64), (0.04, 0.045, 0.05, 0.06, 0.08, 0.12, 0.2))
    tracker = CostTracker(profile)
    assert tracker.cost(8) == pytest.approx(0.06)
    for _ in range(6):
        tracker.observe(1, 0.04)
        tracker.observe(16, 0.24)  # wide steps turn out three times dearer than measured
    assert tracker.cost(1) == pytest.approx(0.04, rel=0.05)
    assert tracker.cost(16) == pytest.approx(0.24, rel=0.1)
    strong = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    assert best_count(strong, tracker) < best_count(strong, profile)
