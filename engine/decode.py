"""Plain KV-cached decoding, one forward per token, in small steps (gpt-fast style).

Every decoding method is a `Decoder`: `prefill` the prompt, then `step` returns the tokens one
forward (or one verification forward) produced. The loop in `engine.generation` owns stopping,
streaming and stats, so methods only differ in how they find tokens.

`forward`, `prefill` and `decode_one` are the transformers-only path (a `DynamicCache`), kept for
references and benches that measure HF itself; decoders run through `engine.sequence`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch
from transformers import DynamicCache

from engine.hf_call import model_call
from engine.loading import LoadedModel
from engine.sampling import SamplingParams, pick


class Decoder(Protocol):
    forwards: int
    accepted: list[int]  # tokens gained per forward, for the histogram

    def prefill(self, prompt_ids: list[int]) -> None: ...

    def step(self) -> list[int]: ...


@torch.inference_mode()
def forward(model: torch.nn.Module, input_ids: torch.Tensor, cache: DynamicCache, keep: int = 0) -> torch.Tensor:
    """Run new tokens [1, n] against the cache; logits of the last `keep` positions (0 = all)."""
    return model_call(model, cache, input_ids=input_ids, logits_to_keep=keep).logits[0]


def prefill(model: torch.nn.Module, prompt_ids: list[int], device: torch.device) -> tuple[DynamicCache, torch.Tensor]:
    cache = DynamicCache()
    ids = torch.tensor([prompt_ids], device=device)
    return cache, forward(model, ids, cache, keep=1)[-1]


def decode_one(model: torch.nn.Module, token: int, cache: DynamicCache, device: torch.device) -> torch.Tensor:
    return forward(model, torch.tensor([[token]], device=device), cache, keep=1)[-1]


@dataclass
class PlainDecoder:
    """One token per forward, greedy or sampled. The prefill's logits give the first token, so
    n tokens cost n forwards and the last token is never run through the model needlessly."""

    lm: LoadedModel
    params: SamplingParams
    generator: torch.Generator | None = None
    forwards: int = 0
    accepted: list[int] = field(default_factory=list)
    _seq: object = None
    _logits: torch.Tensor | None = None
    _pending: int | None = None

    def prefill(self, prompt_ids: list[int]) -> None:
        from engine.sequence import prefill as prefill_sequence

        self._seq, self._logits = prefill_sequence(self.lm, prompt_ids)
        self.forwards += 1

    def step(self) -> list[int]:
        assert self._seq is not None and self._logits is not None, "prefill first"
        if self._pending is not None:
            self._logits = self._seq.run([self._pending], keep=1)[-1]
            self.forwards += 1
        self._pending = pick(self._logits, self.params, self.generator)
        self.accepted.append(1)
        return [self._pending]
