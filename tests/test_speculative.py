"""Speculative decoding is lossless: token-identical greedy output, an exact KV cache after tree
acceptance, and the target distribution when sampling."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

import engine
from engine.generation import GenerationConfig, generate
from engine.sequence import prefill
from engine.sampling import SamplingParams
from engine.speculative import SpeculativeConfig, SpeculativeDecoder
from engine.tree import ancestor_mask


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_lms(tiny_model_dirs: dict[str, Path]) -> dict[str, engine.LoadedModel]:
    return {arch: engine.load_model(str(folder)) for arch, folder in tiny_model_dirs.items()}


def random_prompt(rng: random.Random, vocab: int) -> list[int]:
    # repeats inside the prompt give the context source something to match
    ids = [rng.randrange(3, vocab) for _ in range(rng.randrange(4, 50))]
    return ids + ids[: rng.randrange(0, 20)]


def run_decoder(lm, ids: list[int], n: int, spec: SpeculativeConfig, params=SamplingParams(),
                generator=None, references=()) -> tuple[list[int], SpeculativeDecoder]:
    decoder = SpeculativeDecoder(lm, params, generator, references, spec)
    decoder.prefill(ids)
    out: list[int] = []
    while len(out) < n:
        out.extend(decoder.step())
    return out[:n], decoder


def plain_greedy(lm, ids: list[int], n: int) -> list[int]:
    return generate(lm, "", GenerationConfig(max_new_tokens=n, method="greedy"), prompt_ids=ids).token_ids


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gpt2"])
def test_methods_equal_plain_greedy_on_random_prompts(tiny_lms, arch: str) -> None:
    lm = tiny_lms[arch]
    rng = random.Random(arch)
    eos = lm.eos_token_ids
    gained = {"recycling": 0, "auto": 0}  # steps where a method's own drafts were accepted
    for trial in range(12):
        ids = random_prompt(rng, lm.vocab_size)
        expected = plain_greedy(lm, ids, 40)
        for method in ("recycling", "auto"):
            got = generate(lm, "", GenerationConfig(max_new_tokens=40, method=method), prompt_ids=ids)
            assert got.token_ids == expected, (arch, trial, method)
            gained[method] += sum(n for k, n in got.stats.accepted_histogram.items() if k > 1)
        # forced wide trees exercise non-contiguous acceptance regardless of what the planner picks
        forced, decoder = run_decoder(lm, ids, len(expected), SpeculativeConfig(fixed_nodes=24),
                                      references=[lm.tokenizer.decode(ids[::-1])])
        cut = next((i for i, t in enumerate(forced) if t in eos), len(forced))
        assert forced[:cut] == expected[:cut], (arch, trial)
        assert max(decoder.widths) > 1
    # equal output proves little if a method never drafted: the planner's own trees were accepted too
    assert gained["auto"] > 0 and gained["recycling"] > 0, gained


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_cache_after_acceptance_equals_fresh_prefill(tiny_lms, arch: str) -> None:
    lm = tiny_lms[arch]
    rng = random.Random(7)
    checked_gather = False
    for _ in range(6):
        ids = random_prompt(rng, lm.vocab_size)
        # teach the recycling table this text first, so trees have candidates even when this test
        # runs alone (it used to rely on the tests before it having filled the table)
        generate(lm, "", GenerationConfig(max_new_tokens=40, method="recycling"), prompt_ids=ids)
        decoder = SpeculativeDecoder(lm, SamplingParams(), None, (), SpeculativeConfig(fixed_nodes=30))
        decoder.prefill(ids)
        kept: list[list[int]] = []  # the accepted tree nodes of every step, as the cache was told
        keep_path = decoder._seq.keep_path
        decoder._seq.keep_path = lambda start, path, _keep=keep_path: (kept.append(list(path)), _keep(start, path))
        out = list(decoder.step())
        for _ in range(6):
            kept.clear()
            out.extend(decoder.step())
            # the cache holds prompt + everything emitted except the last token (the next root)
            seq = decoder._seq
            assert seq.length == len(ids) + len(out) - 1
            mine = seq.run([out[-1]], keep=1)[-1]
            ref, _ = prefill(lm, ids + out[:-1], reuse=False)
            theirs = ref.run([out[-1]], keep=1)[-1]
            torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-4)
            seq.truncate(seq.length - 1)  # undo the probe so decoding continues from the same state
            # only accepted nodes that are not the tree's first ones (1, 2, ...) must be moved in the
            # cache: a contiguous path would pass even if the gather were wrong
            checked_gather |= any(path and path != list(range(1, len(path) + 1)) for path in kept)
    assert checked_gather, "no step accepted a non-contiguous path, so the gather was never exercised"


def test_ancestor_mask_shape() -> None:
    mask = ancestor_mask([-1, 0, 0, 1, 2, 3])
    assert mask[5].tolist() == [True, True, False, True, False, True]
    assert mask[4].tolist() == [True, False, True, False, True, False]
