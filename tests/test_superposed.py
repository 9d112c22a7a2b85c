"""Superposed decoding: k distinct suggestions, exactly greedy at k = 1 without n-grams, cancellable."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest
import torch

from engine import GenerationConfig, generate, load_model
from engine.ngram import NgramModel, NgramTable
from engine.superposed import (DEFAULT_CHECK, DEFAULT_SHARPNESS, DEFAULT_TEMPERATURE, Suggestion, suggest, suggestion_prompt_ids,
                               superposed_decode)
from tests.tiny import TRAINING_TEXT, build_tiny_model

PREFIX = "We need a durable store for events. The team knows SQL. Operations already run"


@pytest.fixture(scope="module")
def peaked_tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A peaked random model makes greedy continuations long and free of near-ties.
    return build_tiny_model(tmp_path_factory.mktemp("peaked") / "llama", "llama", seed=3, logit_scale=8.0)


def greedy_ids(lm, prompt_ids: list[int], n: int) -> list[int]:
    return generate(lm, "", GenerationConfig(max_new_tokens=n, method="greedy"), prompt_ids=prompt_ids).token_ids


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gpt2"])
def test_one_draft_without_ngrams_is_exactly_greedy(tiny_model_dirs: dict[str, Path], arch: str) -> None:
    lm = load_model(str(tiny_model_dirs[arch]))
    ids = suggestion_prompt_ids(lm, PREFIX)
    out = superposed_decode(lm, ids, k=1, max_tokens=24, alpha=0.0, stop_at_sentence=False)
    assert len(out.suggestions) == 1
    assert out.suggestions[0].token_ids == greedy_ids(lm, ids, 24)


def test_one_draft_with_an_empty_ngram_weight_is_greedy_even_with_a_table(peaked_tiny_dir: Path) -> None:
    lm = load_model(str(peaked_tiny_dir))
    table = NgramTable()
    table.add_sequences([lm.tokenizer(TRAINING_TEXT, add_special_tokens=False)["input_ids"]])
    ids = suggestion_prompt_ids(lm, PREFIX)
    out = superposed_decode(lm, ids, k=1, max_tokens=20, ngram=NgramModel([table]), alpha=0.0,
                            stop_at_sentence=False)
    assert out.suggestions[0].token_ids == greedy_ids(lm, ids, 20)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_k_distinct_suggestions_best_first(tiny_model_dir: Path, k: int) -> None:
    lm = load_model(str(tiny_model_dir))
    table = NgramTable()
    table.add_sequences([lm.tokenizer(TRAINING_TEXT, add_special_tokens=False)["input_ids"]])
    got = suggest(lm, PREFIX, k=k, max_tokens=8, ngram=NgramModel([table]), alpha=0.3)
    assert len(got) == k
    assert all(isinstance(s, Suggestion) and s.text.strip() for s in got)
    assert len({s.text.strip() for s in got}) == k
    # suggestions that reached their natural end come first, then those the check cut short
    assert [s.complete for s in got] == sorted((s.complete for s in got), reverse=True)
    for group in (True, False):
        scores = [s.score for s in got if s.complete is group]
        assert scores == sorted(scores, reverse=True)
    for s in got:
        assert lm.tokenizer.decode(s.token_ids, skip_special_tokens=True) == s.text
        assert 1 <= len(s.token_ids) <= 8


def test_one_forward_per_step(tiny_model_dir: Path) -> None:
    lm = load_model(str(tiny_model_dir), forward="hf")  # HF's forward hooks count the calls
    calls = []
    hook = lm.model.register_forward_hook(lambda module, args, kwargs_out: calls.append(1))
    try:
        out = superposed_decode(lm, suggestion_prompt_ids(lm, PREFIX), k=3, max_tokens=10, alpha=0.0,
                                stop_at_sentence=False)
    finally:
        hook.remove()
    # the prefill, one superposed position per further step, then the check of all drafts, which
    # also gives the last token: one forward per token, as greedy decoding
    assert out.steps == 9 and out.forwards == len(calls) == 10
    assert max(len(s.token_ids) for s in out.suggestions) == 10


def test_superposed_input_is_the_weighted_mix_of_embeddings(tiny_model_dir: Path) -> None:
    lm = load_model(str(tiny_model_dir), forward="hf")  # HF's pre-hook sees inputs_embeds
    seen: list[torch.Tensor] = []

    def grab(module, args, kwargs):
        if kwargs.get("inputs_embeds") is not None:
            seen.append(kwargs["inputs_embeds"].detach().clone())

    hook = lm.model.register_forward_pre_hook(grab, with_kwargs=True)
    try:
        superposed_decode(lm, suggestion_prompt_ids(lm, PREFIX), k=3, max_tokens=3, alpha=0.0, stop_at_sentence=False)
    finally:
        hook.remove()
    assert seen and all(t.shape == (1, 1, lm.model.config.hidden_size) for t in seen)
    # expected first mix: the prompt's top-3 tokens (top-9 renormalised at the scoring temperature),
    # weighted by softmax(sharpness · score)
    ids = suggestion_prompt_ids(lm, PREFIX)
    with torch.no_grad():
        logits = lm.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
        top_lp, top_ids = torch.topk(torch.log_softmax(logits / DEFAULT_TEMPERATURE, -1), 9)
        top_lp = top_lp - torch.logsumexp(top_lp, 0)
        weights = torch.softmax(DEFAULT_SHARPNESS * top_lp[:3], 0)
        expected = (weights[:, None] * lm.model.get_input_embeddings()(top_ids[:3])).sum(0)
    assert torch.allclose(seen[0][0, 0], expected, atol=1e-5)
    assert weights.max() < 0.999  # a genuine mixture, not one token


def test_our_forward_gives_the_suggestions_hf_gives(tiny_model_dir: Path) -> None:
    ours, theirs = load_model(str(tiny_model_dir)), load_model(str(tiny_model_dir), forward="hf")
    assert ours.forward_name == "own" and theirs.forward_name == "hf"
    ids = suggestion_prompt_ids(ours, PREFIX)
    got = [superposed_decode(lm, ids, k=3, max_tokens=10, alpha=0.0, stop_at_sentence=False)
           for lm in (ours, theirs)]
    assert [s.token_ids for s in got[0].suggestions] == [s.token_ids for s in got[1].suggestions]
    assert got[0].forwards == got[1].forwards


def _violations(lm, prompt_ids: list[int], suggestions: list[Suggestion], share: float) -> int:
    """Tokens whose probability, given the prompt and the suggestion's own earlier tokens, is below
    `share` of the best token's there: what the check promises never to return."""
    count = 0
    for s in suggestions:
        with torch.no_grad():
            logits = lm.model(input_ids=torch.tensor([prompt_ids + s.token_ids])).logits[0].float()
        logprobs = torch.log_softmax(logits[len(prompt_ids) - 1:-1], -1)
        for row, token in zip(logprobs, s.token_ids):
            count += int(row[token] < row.max() + math.log(share) - 1e-4)
    return count


def test_the_check_keeps_only_tokens_the_model_finds_plausible(peaked_tiny_dir: Path) -> None:
    lm = load_model(str(peaked_tiny_dir))
    ids = suggestion_prompt_ids(lm, PREFIX)
    # branching at every step (branch share 0) makes drafts the blend follows badly
    unchecked = superposed_decode(lm, ids, k=4, max_tokens=12, check=0.0, branch=0.0,
                                  stop_at_sentence=False).suggestions
    checked = superposed_decode(lm, ids, k=4, max_tokens=12, check=DEFAULT_CHECK, branch=0.0,
                                stop_at_sentence=False).suggestions
    # the mixed input misleads the drafts after their first token; the tree forward catches it
    assert _violations(lm, ids, unchecked, DEFAULT_CHECK) > 0
    assert _violations(lm, ids, checked, DEFAULT_CHECK) == 0
    assert len(checked) == 4 and all(s.token_ids for s in checked)
    # the drafts branch at their first token instead of sharing one stem
    assert len({s.token_ids[0] for s in unchecked}) == 4


def test_no_suggestion_is_just_the_start_of_another(tiny_model_dir: Path) -> None:
    lm = load_model(str(tiny_model_dir))
    got = suggest(lm, PREFIX, k=5, max_tokens=10, stop_at_sentence=False)
    texts = [s.text for s in got]
    assert all(not a.startswith(b) for a in texts for b in texts if a is not b)


def test_a_set_cancel_stops_before_any_forward(tiny_model_dir: Path) -> None:
    lm = load_model(str(tiny_model_dir))
    cancel = threading.Event()
    cancel.set()
    out = superposed_decode(lm, suggestion_prompt_ids(lm, PREFIX), k=3, max_tokens=16, cancel=cancel)
    assert out.cancelled and out.forwards == 0 and out.suggestions == []


def test_cancel_during_decoding_stops_at_the_next_step(tiny_model_dir: Path) -> None:
    lm = load_model(str(tiny_model_dir))
    cancel = threading.Event()
    updates: list[list[Suggestion]] = []

    def on_update(current: list[Suggestion]) -> None:
        updates.append(current)
        if len(updates) == 3:
            cancel.set()

    out = superposed_decode(lm, suggestion_prompt_ids(lm, PREFIX), k=3, max_tokens=16, alpha=0.0,
                            stop_at_sentence=False, on_update=on_update, cancel=cancel)
    assert out.cancelled and out.steps == 3 and len(updates) == 3
    assert all(len(s.token_ids) <= 3 for s in out.suggestions)


def test_updates_stream_growing_drafts(tiny_model_dir: Path) -> None:
    lm = load_model(str(tiny_model_dir))
    updates: list[list[Suggestion]] = []
    final = suggest(lm, PREFIX, k=3, max_tokens=6, alpha=0.0, stop_at_sentence=False, on_update=updates.append)
    assert len(updates) == 6  # one per step (the check gives the sixth token), then the checked result
    for step, drafts in enumerate(updates[:-1], 1):
        assert [len(s.token_ids) for s in drafts] == [step] * 3
    assert updates[-1] == final and max(len(s.token_ids) for s in final) == 6


def test_empty_text_gives_no_suggestions(tiny_model_dir: Path) -> None:
    lm = load_model(str(tiny_model_dir))
    assert suggest(lm, "   \n", k=3) == []


def test_chat_style_prompt_prefills_the_last_line(tiny_model_dir: Path) -> None:
    lm = load_model(str(tiny_model_dir))
    ids = suggestion_prompt_ids(lm, "## Context\nWe need a durable store", style="chat")
    text = lm.tokenizer.decode(ids)
    assert text.rstrip().endswith("<|im_start|>assistant\nWe need a durable store")
    assert "## Context" in text


@pytest.mark.real_model
def test_real_model_one_draft_is_greedy_and_three_are_distinct(real_lm) -> None:
    from assistant.drafting.suggestions import document_table

    prefix = ("## Decision\n\nWe will use PostgreSQL as the primary datastore for the order service because")
    ids = suggestion_prompt_ids(real_lm, prefix)
    one = superposed_decode(real_lm, ids, k=1, max_tokens=16, alpha=0.0, stop_at_sentence=False)
    assert one.suggestions[0].token_ids == greedy_ids(real_lm, ids, 16)

    ngram = NgramModel([document_table(real_lm, prefix + "\n" + TRAINING_TEXT)])
    three = suggest(real_lm, prefix, k=3, max_tokens=16, ngram=ngram)
    assert len(three) == 3 and len({s.text.strip() for s in three}) == 3
    assert _violations(real_lm, ids, three, DEFAULT_CHECK) == 0
    # suggestions stop at a line or sentence end, so ghost text never runs into a new paragraph
    assert all("\n" not in s.text for s in three)


def test_one_token_suggestions_stay_one_token(tiny_model_dir: Path) -> None:
    lm = load_model(str(tiny_model_dir))
    got = superposed_decode(lm, suggestion_prompt_ids(lm, PREFIX), k=3, max_tokens=1, stop_at_sentence=False)
    assert len(got.suggestions) == 3 and all(len(s.token_ids) == 1 for s in got.suggestions)
