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


def test_text_that_goes_on_with_the_best_suggestion_starts_without_a_forward(lm) -> None:
    from engine.superposed import superposed_decode

    rng = random.Random(7)
    prompt = [rng.randrange(3, lm.vocab_size) for _ in range(40)]
    best = superposed_decode(lm, prompt, k=3, max_tokens=6, stop_at_sentence=False).suggestions[0]
    assert len(best.token_ids) >= 2
    for typed in (best.token_ids[:1], best.token_ids[:2]):  # the first words typed, or the suggestion accepted
        before = lm.state.prefixes.reused_tokens
        seq, logits = prefill(lm, prompt + typed)
        assert seq.forwards == 0 and lm.state.prefixes.reused_tokens - before == len(prompt) + len(typed)
        _, expected = prefill(lm, prompt + typed, reuse=False)
        torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
        # and the cached K/V is the prompt's: the next token's logits match a fresh prefill's too
        torch.testing.assert_close(seq.run([11], keep=1)[-1], prefill(lm, prompt + typed + [11], reuse=False)[1],
                                   rtol=1e-4, atol=1e-4)
    # a word the suggestion did not offer still reuses the prompt and runs only the new token
    other = next(t for t in range(3, lm.vocab_size) if t != best.token_ids[0])
    seq, _ = prefill(lm, prompt + [other])
    assert seq.forwards == 1 and seq.length == len(prompt) + 1


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
    assert cache.longest([1] * 12)[1] == 10  # touching [1]* makes [2]* the oldest
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
