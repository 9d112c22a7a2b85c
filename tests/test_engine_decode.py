"""The plain decode loop on tiny random models: exact greedy, streaming, stops, seeded sampling."""

from __future__ import annotations

import threading

import pytest

from engine import GenerationConfig, encode_prompt, generate, load_model
from tests.tiny import reference_greedy

MESSAGES = [{"role": "user", "content": "Write the Context section for: use PostgreSQL for events."}]


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def lm(request, tiny_model_dirs):
    return load_model(str(tiny_model_dirs[request.param]))


def test_greedy_equals_uncached_reference(lm) -> None:
    for i, text in enumerate(["Use PostgreSQL", "THIS DEED OF LEASE is made", "That I am the deponent"]):
        messages = [{"role": "user", "content": text * (i + 1)}]
        ids = encode_prompt(lm, messages)
        result = generate(lm, messages, GenerationConfig(max_new_tokens=24, method="greedy"))
        assert result.token_ids == reference_greedy(lm, ids, 24)
        assert result.stats.forwards == len(result.token_ids) or result.stats.stop_reason == "eos"


def test_streamed_chunks_reassemble_to_the_text(lm) -> None:
    chunks: list[str] = []
    result = generate(lm, MESSAGES, GenerationConfig(max_new_tokens=40, method="greedy"), on_text=chunks.append)
    assert "".join(chunks) == result.text
    assert result.text == lm.tokenizer.decode(result.token_ids, skip_special_tokens=True)
    stats = result.stats
    assert stats.new_tokens == len(result.token_ids) and stats.forwards >= 1 and stats.seconds > 0
    assert stats.tokens_per_forward == pytest.approx(stats.new_tokens / stats.forwards)


def test_stop_string_ends_generation_before_it(lm) -> None:
    full = generate(lm, MESSAGES, GenerationConfig(max_new_tokens=40, method="greedy")).text
    stop = full[10:13]
    assert len(stop) == 3
    result = generate(lm, MESSAGES, GenerationConfig(max_new_tokens=40, method="greedy", stop=(stop,)))
    assert result.stats.stop_reason == "stop"
    assert result.text == full[: full.find(stop)]


def test_max_new_tokens_and_cancel(lm) -> None:
    full = generate(lm, MESSAGES, GenerationConfig(max_new_tokens=40, method="greedy"))
    assert full.stats.new_tokens > 5  # so a limit of 5 is what ends the next one
    five = generate(lm, MESSAGES, GenerationConfig(max_new_tokens=5, method="greedy"))
    assert five.stats.stop_reason == "length" and five.stats.new_tokens == 5
    assert five.token_ids == full.token_ids[:5]
    cancel = threading.Event()
    seen: list[str] = []

    def on_text(chunk: str) -> None:
        seen.append(chunk)
        cancel.set()

    result = generate(lm, MESSAGES, GenerationConfig(max_new_tokens=200, method="greedy"), on_text=on_text, cancel=cancel)
    assert result.stats.stop_reason == "cancelled" and result.stats.new_tokens < 200


def test_seeded_sampling_is_reproducible_and_varies_with_seed(lm) -> None:
    def run(seed: int) -> list[int]:
        config = GenerationConfig(max_new_tokens=30, temperature=1.0, top_p=0.95, seed=seed, method="greedy")
        return generate(lm, MESSAGES, config).token_ids

    assert run(1) == run(1)
    assert len({tuple(run(s)) for s in (1, 2, 3)}) > 1
