"""The one place the drafting core calls the engine, so tests can stand in for the model."""

from __future__ import annotations

from typing import Any


def generate(lm: object, messages: list, config: object, **kwargs: object) -> Any:
    from engine import generate as engine_generate

    return engine_generate(lm, messages, config, **kwargs)


def config(**kwargs: object) -> Any:
    from engine import GenerationConfig

    return GenerationConfig(**kwargs)


def prompt_ids(lm: Any, messages: list, lead: str) -> list[int]:
    """The chat prompt's tokens followed by `lead`, so the reply continues those words."""
    from engine import encode_prompt

    # No trailing space: BPE words carry their leading space, so a bare space token derails the model.
    return encode_prompt(lm, messages) + list(lm.tokenizer(lead.rstrip(), add_special_tokens=False)["input_ids"])
