"""The one place the drafting core calls the engine, so tests can stand in for the model."""

from __future__ import annotations

from typing import Any


def generate(lm: object, messages: list, config: object, *, lead: str = "", **kwargs: object) -> Any:
    """`lead`: words the reply starts with; only what follows them is generated."""
    from engine import generate as engine_generate
    from engine import is_server

    if lead and is_server(lm):
        # the server holds the tokenizer: it continues a last assistant message instead
        messages = messages + [{"role": "assistant", "content": lead.rstrip()}]
    elif lead:
        kwargs["prompt_ids"] = prompt_ids(lm, messages, lead)
    return engine_generate(lm, messages, config, **kwargs)


def partial_or_raise(exc: Exception) -> Any:
    """The text a server streamed before it failed, to keep like a cancelled draft; re-raises
    when there is none worth keeping."""
    partial = getattr(exc, "partial", None)
    if partial is None or not partial.text.strip():
        raise exc
    return partial


def config(**kwargs: object) -> Any:
    from engine import GenerationConfig

    return GenerationConfig(**kwargs)


def prompt_ids(lm: Any, messages: list, lead: str) -> list[int]:
    """The chat prompt's tokens followed by `lead`, so the reply continues those words."""
    from engine import encode_prompt

    # No trailing space: BPE words carry their leading space, so a bare space token derails the model.
    return encode_prompt(lm, messages) + list(lm.tokenizer(lead.rstrip(), add_special_tokens=False)["input_ids"])
