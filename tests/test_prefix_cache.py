"""Prefix reuse across calls: the longest shared token prefix of a recent prompt is copied, not
recomputed; the result is the same; memory stays within its budget, least recently used out."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

import engine
from engine.generation import GenerationConfig, generate
from engine.prefix_cache import PrefixCache, common_prefix
from engine.sequence import prefill

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def lm(tiny_model_dir: Path) -> engine.LoadedModel:
    return engine.load_model(str(tiny_model_dir))


def test_common_prefix() -> None:
    a = np.array([1, 2, 3, 4])
    assert common_prefix(a, np.array([1, 2, 9])) == 2
    assert common_prefix(a, np.array([1, 2, 3, 4, 5])) == 4
    assert common_prefix(a, np.array([7])) == 0 and common_prefix(a, np.array([], dtype=np.int64)) == 0


def test_a_prompt_plus_one_word_reuses_the_shared_prefix_and_gives_the_same_logits(lm) -> None:
    rng = random.Random(0)
    first = [rng.randrange(3, lm.vocab_size) for _ in range(80)]
    second = first + [rng.randrange(3, lm.vocab_size) for _ in range(3)]
    prefill(lm, first)
    prefixes = lm.state.prefixes
    assert prefixes.hits == 0 and len(prefixes.entries) == 1
    seq, logits = prefill(lm, second)
    assert prefixes.hits == 1 and prefixes.reused_tokens == len(first)
    assert seq.forwards == 1 and seq.length == len(second)
    _, expected = prefill(lm, second, reuse=False)
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
    # the longer prompt replaced the one it extends
    assert len(prefixes.entries) == 1


def test_the_same_prompt_again_runs_no_forward(lm) -> None:
    ids = list(range(5, 60))
    _, first = prefill(lm, ids)
    seq, again = prefill(lm, ids)
    assert seq.forwards == 0 and seq.length == len(ids) and lm.state.prefixes.reused_tokens == len(ids)
    assert torch.equal(again, first)
    again.add_(1.0)  # the caller's copy: the cached logits stay as they were
    assert torch.equal(prefill(lm, ids)[1], first)
    _, expected = prefill(lm, ids, reuse=False)
    torch.testing.assert_close(first, expected, rtol=1e-4, atol=1e-4)
    # one token shorter: its logits are not known, so that token runs again
    seq, _ = prefill(lm, ids[:-1])
    assert seq.forwards == 1 and lm.state.prefixes.reused_tokens == 2 * len(ids) + len(ids) - 2


def test_text_that_goes_on_with_any_suggestion_starts_without_a_forward(lm) -> None:
    from engine.superposed import NEXT_WORDS, superposed_decode

    rng = random.Random(7)
    prompt = [rng.randrange(3, lm.vocab_size) for _ in range(40)]
    suggestions = superposed_decode(lm, prompt, k=3, max_tokens=6, stop_at_sentence=False).suggestions
    assert len(suggestions) >= 2 and len(suggestions[0].token_ids) >= 2
    first_tokens = {tuple(s.token_ids[:1]) for s in suggestions}
    assert len(first_tokens) >= 2  # the check tree branches, so a hit on another branch is tested
    # the first words typed of each suggestion, or the best one accepted (less its replaced last token)
    typed_cases = [s.token_ids[:1] for s in suggestions] + [suggestions[0].token_ids[:2]]
    for typed in typed_cases:
        before = lm.state.prefixes.reused_tokens
        seq, logits = prefill(lm, prompt + typed)
        assert seq.forwards == 0 and lm.state.prefixes.reused_tokens - before == len(prompt) + len(typed)
        _, expected = prefill(lm, prompt + typed, reuse=False)
        torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
        # and the cached K/V is the prompt's and the path's: the next token's logits match a fresh prefill's
        torch.testing.assert_close(seq.run([11], keep=1)[-1], prefill(lm, prompt + typed + [11], reuse=False)[1],
                                   rtol=1e-4, atol=1e-4)
    # the model's likeliest next tokens ran in the check too, offered or not
    _, after_prompt = prefill(lm, prompt, reuse=False)
    likely = torch.topk(after_prompt, NEXT_WORDS).indices.tolist()
    for token in likely:
        seq, logits = prefill(lm, prompt + [token])
        assert seq.forwards == 0
        torch.testing.assert_close(logits, prefill(lm, prompt + [token], reuse=False)[1], rtol=1e-4, atol=1e-4)
    # a word neither offered nor likely still reuses the prompt and runs only the new token
    other = next(t for t in range(3, lm.vocab_size) if (t,) not in first_tokens and t not in likely)
    seq, _ = prefill(lm, prompt + [other])
    assert seq.forwards == 1 and seq.length == len(prompt) + 1


def test_a_match_follows_the_trunk_then_the_tree() -> None:
    cache = PrefixCache()
    # trunk [5, 6, 7]; tree after 7: 8 -> (9 | 10), and 11; rows: trunk 0..2, nodes 1..4 at 3..6
    kv = torch.arange(7, dtype=torch.float32).view(1, 1, 1, 7, 1).expand(1, 2, 1, 7, 1).contiguous()
    logits = torch.arange(5, dtype=torch.float32)[:, None].repeat(1, 4)
    cache.put([5, 6, 7], kv, logits, [{8: 1, 11: 4}, {9: 2, 10: 3}, {}, {}, {}])
    match = cache.longest([5, 6, 7, 8, 10])
    assert (match.length, match.path) == (5, (1, 3)) and torch.equal(match.logits, logits[3])
    out = torch.full((1, 2, 1, 5, 1), -1.0)
    match.copy_into(out, 5)
    assert out[0, 0, 0, :, 0].tolist() == [0, 1, 2, 3, 5]  # the trunk, then the rows of nodes 1 and 3
    partial = cache.longest([5, 6, 7, 11, 12])
    assert (partial.length, partial.path) == (4, (4,)) and torch.equal(partial.logits, logits[4])
    assert torch.equal(cache.longest([5, 6, 7]).logits, logits[0])
    short = cache.longest([5, 6])
    assert short.length == 2 and short.logits is None  # inside the trunk: no logits kept there
    assert cache.longest([9]).entry is None
    with pytest.raises(ValueError):
        cache.put([1, 2], kv, logits, [{}])  # K/V that does not match the tree


def test_generation_after_reuse_is_identical(lm) -> None:
    rng = random.Random(3)
    base = [rng.randrange(3, lm.vocab_size) for _ in range(60)]
    generate(lm, "", GenerationConfig(max_new_tokens=4, method="greedy"), prompt_ids=base)
    later = base + [11, 12]
    with engine.fresh_state(lm):
        expected = generate(lm, "", GenerationConfig(max_new_tokens=24, method="greedy"), prompt_ids=later).token_ids
    for method in ("greedy", "auto"):
        hits = lm.state.prefixes.hits
        got = generate(lm, "", GenerationConfig(max_new_tokens=24, method=method), prompt_ids=later).token_ids
        assert got == expected and lm.state.prefixes.hits == hits + 1


def test_memory_is_bounded_and_least_recently_used_goes_first() -> None:
    per_token = 2 * 2 * 4 * 4  # layers x (k, v) x head_dim x 4 bytes, one kv head
    cache = PrefixCache(budget_bytes=per_token * 25)
    kv = lambda n: torch.zeros(2, 2, 1, n, 4)
    cache.put([1] * 10, kv(10))
    cache.put([2] * 10, kv(10))
    assert cache.longest([1] * 12).length == 10  # touching [1]* makes [2]* the oldest
    cache.put([3] * 10, kv(10))
    assert cache.nbytes <= cache.budget_bytes
    assert [int(e.tokens[0]) for e in cache.entries.values()] == [1, 3]
    cache.put([4] * 30, kv(30))  # bigger than the whole budget: not kept
    assert [int(e.tokens[0]) for e in cache.entries.values()] == [1, 3]


def test_fresh_state_starts_without_cached_prompts(lm) -> None:
    ids = list(range(5, 50))
    prefill(lm, ids)
    with engine.fresh_state(lm):
        prefill(lm, ids)
        assert lm.state.prefixes.hits == 0
