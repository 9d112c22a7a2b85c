"""Turning logits into a token: pure functions shared by every decoding method."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.0
    top_p: float = 1.0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


def target_probs(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """The distribution we sample from: temperature, then nucleus (top-p) truncation. [..., V]"""
    probs = torch.softmax(logits.float() / params.temperature, dim=-1)
    if params.top_p >= 1.0:
        return probs
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    # keep the smallest prefix whose mass reaches top_p (the first token always stays)
    outside = (sorted_probs.cumsum(dim=-1) - sorted_probs) >= params.top_p
    sorted_probs = sorted_probs.masked_fill(outside, 0.0)
    kept = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return kept / kept.sum(dim=-1, keepdim=True)


def draw(probs: torch.Tensor, generator: torch.Generator | None) -> int:
    """One token from a 1-D distribution."""
    return int(torch.multinomial(probs, 1, generator=generator).item())


def pick(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None) -> int:
    """Next token from 1-D logits: argmax when greedy, else a draw from the target distribution."""
    if params.greedy:
        return int(torch.argmax(logits).item())
    return draw(target_probs(logits, params), generator)


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on the model's device: `torch.multinomial` on CUDA/MPS probabilities refuses a
    CPU generator, and drawing there avoids copying every distribution to the host."""
    device = torch.device(device)
    generator = torch.Generator(device=device if device.type in ("cuda", "mps") else "cpu")
    generator.manual_seed(seed if seed is not None else int(torch.seed() % (2**63)))
    return generator
