"""The generation loop shared by every method: prompt encoding, stopping, streaming, stats."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

from engine.decode import Decoder, PlainDecoder
from engine.detok import IncrementalDecoder, StopMatcher
from engine.errors import UserError
from engine.loading import LoadedModel
from engine.sampling import SamplingParams, make_generator
from engine.speculative import auto_factory, recycling_factory
from engine.stats import GenerationStats

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class GenerationConfig:
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    method: str = "auto"

    @property
    def sampling(self) -> SamplingParams:
        return SamplingParams(self.temperature, self.top_p)


@dataclass
class GenerationResult:
    text: str
    token_ids: list[int]
    stats: GenerationStats = field(default_factory=GenerationStats)


DecoderFactory = Callable[[LoadedModel, GenerationConfig, object, Sequence[str]], Decoder]


def _plain(lm: LoadedModel, config: GenerationConfig, generator: object, references: Sequence[str]) -> Decoder:
    return PlainDecoder(lm, config.sampling, generator)


METHODS: dict[str, DecoderFactory] = {"greedy": _plain, "recycling": recycling_factory, "auto": auto_factory}


def encode_prompt(lm: LoadedModel, prompt: str | Messages) -> list[int]:
    """Messages go through the model's chat template; a plain string is used as it is."""
    tokenizer = lm.tokenizer
    if isinstance(prompt, str):
        return list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    if getattr(tokenizer, "chat_template", None):
        ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=False)
        return list(ids["input_ids"] if isinstance(ids, dict) else ids)
    text = "\n\n".join(f"{m['role']}: {m['content']}" for m in prompt) + "\n\nassistant:"
    return list(tokenizer(text)["input_ids"])


def make_decoder(lm: LoadedModel, config: GenerationConfig, references: Sequence[str] = ()) -> Decoder:
    method = config.method if config.method in METHODS else None
    if method is None:
        raise UserError(f"unknown decoding method '{config.method}' (choose {', '.join(sorted(METHODS))})")
    generator = None if config.sampling.greedy else make_generator(config.seed, lm.device)
    return METHODS[method](lm, config, generator, references)


def generate(
    lm: LoadedModel,
    prompt: str | Messages,
    config: GenerationConfig = GenerationConfig(),
    *,
    on_text: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    reference_texts: Sequence[str] = (),
    prompt_ids: list[int] | None = None,
) -> GenerationResult:
    """Decode up to max_new_tokens; `on_text` receives whole-character chunks as they appear."""
    if getattr(lm, "is_server", False):  # a model behind an OpenAI-compatible server decodes there
        from engine.server import generate as server_generate

        return server_generate(lm, prompt, config, on_text=on_text, cancel=cancel)
    ids = prompt_ids if prompt_ids is not None else encode_prompt(lm, prompt)
    if config.max_new_tokens < 1:
        raise UserError("max_new_tokens must be at least 1")
    decoder = make_decoder(lm, config, reference_texts)
    stats = GenerationStats(method=config.method, prompt_tokens=len(ids))
    detok, stopper = IncrementalDecoder(lm.tokenizer), StopMatcher(tuple(config.stop))
    eos, out = lm.eos_token_ids, []
    emit = on_text or (lambda _chunk: None)

    started = time.perf_counter()
    decoder.prefill(ids)
    stats.prefill_seconds = time.perf_counter() - started
    while not stats.stop_reason:
        if cancel is not None and cancel.is_set():
            stats.stop_reason = "cancelled"
            break
        for token in decoder.step():
            if token in eos:
                stats.stop_reason = "eos"
                break
            out.append(token)
            chunk = stopper.feed(detok.push([token]))
            if chunk:
                emit(chunk)
            if stopper.stopped:
                stats.stop_reason = "stop"
                break
            if len(out) >= config.max_new_tokens:
                stats.stop_reason = "length"
                break
    if not stopper.stopped:
        tail = stopper.feed(detok.flush()) + ("" if stopper.stopped else stopper.finish())
        if tail:
            emit(tail)
    stats.seconds = time.perf_counter() - started
    stats.new_tokens = len(out)
    stats.forwards = decoder.forwards
    stats.accepted_histogram = dict(sorted(Counter(decoder.accepted).items()))
    extra = getattr(decoder, "report", None)
    if callable(extra):
        extra(stats)
    return GenerationResult(stopper.text, out, stats)
