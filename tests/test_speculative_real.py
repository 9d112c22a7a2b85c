"""End to end on the embedded SmolLM2: `auto` writes exactly what plain greedy writes (fp32)."""

from __future__ import annotations

import pytest

from assistant.bench import DEFAULT_PROMPTS
from assistant.bench.decoding import load_prompts
from engine.generation import GenerationConfig, encode_prompt, generate

pytestmark = pytest.mark.real_model


def test_auto_equals_plain_greedy_on_shipped_prompts(real_lm) -> None:
    assert str(real_lm.dtype) == "torch.float32"
    # every other shipped prompt: the whole set is `draftpad bench`'s job (it checks identity too),
    # and five real-model decodes of each method keep the suite's time for other tests
    prompts = load_prompts(DEFAULT_PROMPTS)[::2]
    gained = 0.0
    for prompt in prompts:
        ids = encode_prompt(real_lm, prompt.prompt)
        assert 200 <= len(ids) <= 400, (prompt.id, len(ids))
        plain = generate(real_lm, prompt.prompt, GenerationConfig(max_new_tokens=64, method="greedy"), prompt_ids=ids)
        auto = generate(real_lm, prompt.prompt, GenerationConfig(max_new_tokens=64, method="auto"), prompt_ids=ids,
                        reference_texts=prompt.references)
        assert auto.token_ids == plain.token_ids, prompt.id
        assert auto.text == plain.text
        gained += auto.stats.tokens_per_forward
    # drafting prompts repeat their context a lot: speculation must actually be accepting drafts
    assert gained / len(prompts) > 1.5
