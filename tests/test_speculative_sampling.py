"""Speculative sampling keeps the target distribution exactly (the tree rule), and the test is
strong enough to catch the biased "sample every path, keep the longest" rule."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

import engine
from engine.generation import GenerationConfig, generate
from engine.sampling import SamplingParams, draw, make_generator, target_probs
from engine.speculative import SpeculativeConfig, SpeculativeDecoder
from engine.draft_sources import SuffixIndex
from engine.tree import DraftTree
from tests.tiny import build_tiny_model

PARAMS = SamplingParams(temperature=0.9, top_p=0.95)
PROMPT = "The monthly rent is Rs. 28,000. The monthly rent is"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def peaked_lm(tmp_path_factory: pytest.TempPathFactory) -> engine.LoadedModel:
    # a larger logit scale gives a few likely tokens per step, so drafts are often accepted
    folder = build_tiny_model(tmp_path_factory.mktemp("peaked") / "llama", "llama", seed=3, logit_scale=12.0)
    return engine.load_model(str(folder))


@torch.inference_mode()
def exact_pairs(lm, ids: list[int]) -> np.ndarray:
    """P(x1, x2 | ids) under the target distribution, as a [V, V] matrix."""
    model = lm.model
    first = target_probs(model(input_ids=torch.tensor([ids])).logits[0, -1], PARAMS)
    support = torch.nonzero(first > 0).flatten()
    batch = torch.cat([torch.tensor([ids]).repeat(len(support), 1), support[:, None]], dim=1)
    second = target_probs(model(input_ids=batch).logits[:, -1], PARAMS)
    joint = torch.zeros(len(first), len(first), dtype=torch.float64)
    joint[support] = (first[support, None] * second).double()
    return joint.numpy()


def biased_walk(self: SpeculativeDecoder, tree: DraftTree, logits: torch.Tensor) -> tuple[list[int], int]:
    """The rule the notes warn about: try every root-to-leaf path with its own draws, keep the longest."""
    leaves = [i for i in range(tree.width) if not tree.children[i]]
    best: tuple[list[int], int] | None = None
    for leaf in leaves:
        chain = []
        node = leaf
        while node:
            chain.append(node)
            node = tree.parent[node]
        chain.reverse()
        path, at = [], 0
        for nxt in chain:
            token = draw(target_probs(logits[at], self.params), self.generator)
            if token != tree.tokens[nxt]:
                break
            path.append(nxt)
            at = nxt
        else:
            token = draw(target_probs(logits[at], self.params), self.generator)
        if best is None or len(path) > len(best[0]):
            best = (path, token)
    assert best is not None
    return best


def sample_pairs(lm, ids: list[int], count: int, seed: int) -> tuple[Counter, int]:
    """`count` samples of the two tokens after `ids`; how many of them came out of a tree."""
    generator = make_generator(seed, lm.device)
    decoder = SpeculativeDecoder(lm, PARAMS, generator, (), SpeculativeConfig(fixed_nodes=12, save_table=False))
    decoder.prefill(ids[:-1])  # once: each sample rolls the cache back to this prefix
    base = len(ids) - 1
    pairs: Counter = Counter()
    drafted = 0
    for _ in range(count):
        decoder._root = ids[-1]  # as if the last prompt token had just been emitted
        decoder._context = SuffixIndex()
        decoder._context.extend(ids)
        decoder.accepted = []
        out: list[int] = []
        while len(out) < 2:
            out.extend(decoder.step())
        decoder._seq.truncate(base)
        drafted += decoder.accepted[0] > 1
        pairs[(out[0], out[1])] += 1
    return pairs, drafted


def chi_square_p(pairs: Counter, joint: np.ndarray, count: int) -> float:
    expected = joint * count
    cells = [cell for cell in zip(*np.nonzero(expected >= 5))]
    observed = [pairs.get(cell, 0) for cell in cells]
    exp = [expected[cell] for cell in cells]
    observed.append(count - sum(observed))
    exp.append(count - sum(exp))
    return float(chisquare(observed, exp).pvalue)


def prepare(lm) -> list[int]:
    ids = list(lm.tokenizer(PROMPT, add_special_tokens=False)["input_ids"])
    # fill the shared recycling table so the trees have real candidates
    generate(lm, "", GenerationConfig(max_new_tokens=40, method="recycling"), prompt_ids=ids)
    return ids


def test_tree_sampling_matches_target_distribution(peaked_lm) -> None:
    ids = prepare(peaked_lm)
    joint = exact_pairs(peaked_lm, ids)
    count = 1500
    pairs, drafted = sample_pairs(peaked_lm, ids, count, seed=11)
    assert drafted > count // 4, "too few steps accepted a draft for the test to mean anything"
    assert chi_square_p(pairs, joint, count) > 1e-3


def test_biased_rule_is_detected(peaked_lm, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = prepare(peaked_lm)
    joint = exact_pairs(peaked_lm, ids)
    monkeypatch.setattr(SpeculativeDecoder, "_walk", biased_walk)
    count = 600
    pairs, _ = sample_pairs(peaked_lm, ids, count, seed=12)
    assert chi_square_p(pairs, joint, count) < 1e-6
