"""One sequence's KV state and the forwards that extend it, whichever forward the model runs.

Every decoding method talks to a `Sequence`: `run` new tokens (a causal chain, or a draft tree
given by parent indices, whose positions are the cached length plus each node's depth),
`keep_path` after a tree (keep the root and the accepted nodes), `truncate`. `OwnSequence` runs
our Llama-family forward over a cache the engine owns; `HFSequence` runs any other architecture
through transformers with a `DynamicCache`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence as Seq

import torch
from transformers import DynamicCache

from engine import llama_forward as lf
from engine.hf_call import model_call
from engine.verify import keep_accepted, tree_forward, tree_mask_inputs

MIN_ROOM = 256  # free entries a new cache gets beyond the prompt: most generations never regrow


class Sequence(Protocol):
    length: int
    forwards: int

    def run(self, tokens: Seq[int], parents: Seq[int] | None = None, depth: Seq[int] | None = None,
            keep: int = 0) -> torch.Tensor: ...

    def run_embeds(self, embeds: torch.Tensor, keep: int = 0) -> torch.Tensor: ...

    def keep_path(self, start: int, path: list[int]) -> None: ...

    def truncate(self, length: int) -> None: ...


@dataclass
class OwnSequence:
    weights: lf.Weights
    cache: lf.KVCache
    device: torch.device
    forwards: int = 0

    @property
    def length(self) -> int:
        return self.cache.length

    def _inputs(self, width: int, parents: Seq[int] | None, depth: Seq[int] | None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        start = self.cache.length
        lf.reserve(self.cache, start + width, self.weights.shape.max_positions)
        if parents is None or width == 1:  # a lone token sees the whole cache: no mask to build
            positions = torch.arange(start, start + width, device=self.device)
            return positions, None if width == 1 else lf.chain_visibility(width, self.device)
        shape = torch.tensor([list(parents), list(depth)], device=self.device)  # one host-to-device copy
        return shape[1] + start, lf.tree_visibility(shape[0], int(max(depth)))

    @torch.inference_mode()
    def run(self, tokens: Seq[int], parents: Seq[int] | None = None, depth: Seq[int] | None = None,
            keep: int = 0) -> torch.Tensor:
        ids = torch.as_tensor(tokens, device=self.device)
        positions, inside = self._inputs(len(ids), parents, depth)
        self.forwards += 1
        return lf.forward(self.weights, self.cache, lf.embed(self.weights, ids), positions, inside, keep)

    @torch.inference_mode()
    def run_embeds(self, embeds: torch.Tensor, keep: int = 0) -> torch.Tensor:
        positions, inside = self._inputs(embeds.shape[0], None, None)
        self.forwards += 1
        return lf.forward(self.weights, self.cache, embeds, positions, inside, keep)

    @torch.inference_mode()
    def keep_path(self, start: int, path: list[int]) -> None:
        lf.commit_path(self.cache, start, torch.tensor(path, dtype=torch.long, device=self.device))

    def truncate(self, length: int) -> None:
        self.cache.length = min(length, self.cache.length)

    def kv(self) -> torch.Tensor:
        return self.cache.data[:, :, :, :self.cache.length]


@dataclass
class HFSequence:
    model: torch.nn.Module
    device: torch.device
    dtype: torch.dtype
    cache: DynamicCache = field(default_factory=DynamicCache)
    forwards: int = 0

    @property
    def length(self) -> int:
        return self.cache.get_seq_length()

    @torch.inference_mode()
    def run(self, tokens: Seq[int], parents: Seq[int] | None = None, depth: Seq[int] | None = None,
            keep: int = 0) -> torch.Tensor:
        ids = torch.tensor([list(tokens)], device=self.device)
        self.forwards += 1
        if parents is None:
            return model_call(self.model, self.cache, input_ids=ids, logits_to_keep=keep).logits[0]
        mask, positions = tree_mask_inputs(list(parents), list(depth), self.length, self.dtype, self.device)
        logits = tree_forward(self.model, ids, self.cache, mask, positions)
        return logits[-keep:] if keep else logits

    @torch.inference_mode()
    def run_embeds(self, embeds: torch.Tensor, keep: int = 0) -> torch.Tensor:
        self.forwards += 1
        return model_call(self.model, self.cache, inputs_embeds=embeds[None], logits_to_keep=keep).logits[0]

    def keep_path(self, start: int, path: list[int]) -> None:
        keep_accepted(self.cache, start, path)

    def truncate(self, length: int) -> None:
        if length < self.length:
            self.cache.crop(length - self.length)


def new_sequence(lm, room: int = MIN_ROOM) -> Sequence:
    """An empty sequence on the model's forward (ours when the architecture allows)."""
    weights = lm.own_weights
    if weights is None:
        return HFSequence(lm.model, lm.device, lm.dtype)
    capacity = min(max(room, 1), weights.shape.max_positions)
    return OwnSequence(weights, lf.new_cache(weights.shape, capacity, lm.dtype, lm.device), lm.device)


def prefill(lm, prompt_ids: list[int], room: int = MIN_ROOM, reuse: bool = True) -> tuple[Sequence, torch.Tensor]:
    """A sequence holding the prompt and the logits after its last token. With our forward, the
    longest prefix shared with a recent prompt (or with one and a suggestion tree run after it) is
    copied from the model's prefix cache instead of recomputed, all of it with no forward where
    the cache knows the logits after the prompt's last token; this prompt is remembered for the
    next call."""
    if not prompt_ids:
        raise ValueError("cannot prefill an empty prompt")
    seq = new_sequence(lm, len(prompt_ids) + room)
    prefixes = lm.state.prefixes if reuse and isinstance(seq, OwnSequence) else None
    start, known, n = 0, None, len(prompt_ids)
    if prefixes is not None:
        match = prefixes.longest(prompt_ids)
        known = match.logits if match.length == n else None
        start = n if known is not None else min(match.length, n - 1)  # else the last token runs, for its logits
        if start > 0:
            match.copy_into(seq.cache.data, start)
            seq.cache.length = start
            prefixes.hits += 1
            prefixes.reused_tokens += start
    if known is not None:
        return seq, known.clone()
    logits = seq.run(prompt_ids[start:], keep=1)[-1]
    if prefixes is not None:
        remember(lm, seq, prompt_ids, logits[None])
    return seq, logits


def remember(lm, seq: Sequence, ids: list[int], logits: torch.Tensor,
             children: list[dict[int, int]] | None = None) -> None:
    """Keep the K/V of `ids` and of the tree after it (all of seq's; see PrefixCache.put) in the
    model's prefix cache, with `logits` [nodes, vocab] after each tree node. Only our forward's
    sequences: the HF fallback does not reuse them."""
    if isinstance(seq, OwnSequence):
        lm.state.prefixes.put(ids, seq.kv(), logits, children)
