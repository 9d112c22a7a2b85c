"""Prefix reuse across calls: the KV of recent prompts, bounded in bytes, least recently used out.

A suggestion after one more typed word, or the next section of the same document, shares a long
token prefix with an earlier prompt; copying that prefix's K/V (a few milliseconds) replaces
running it through the model again (hundreds). Entries hold our own cache layout
[layers, 2, kv_heads, tokens, head_dim]; the HF fallback does not use them.

An entry may also hold the logits after its last few tokens. A prompt that ends where those are
known needs no forward at all: the same text asked again, or a text that goes on with the words
a suggestion offered (the suggester keeps its best suggestion's checked tokens so).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch

DEFAULT_BUDGET_BYTES = 128 * 2**20


@dataclass
class PrefixEntry:
    tokens: np.ndarray  # int64 [n]
    kv: torch.Tensor  # [layers, 2, kv_heads, n, head_dim]
    logits: torch.Tensor | None = None  # [t, vocab]: the logits after each of the last t tokens

    @property
    def nbytes(self) -> int:
        extra = 0 if self.logits is None else self.logits.numel() * self.logits.element_size()
        return self.kv.numel() * self.kv.element_size() + extra

    def logits_after(self, position: int) -> torch.Tensor | None:
        """The logits after the token at `position`, where this entry knows them."""
        if self.logits is None:
            return None
        first = len(self.tokens) - self.logits.shape[0]
        return self.logits[position - first] if first <= position < len(self.tokens) else None


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.nonzero(a[:n] != b[:n])[0]
    return int(diff[0]) if len(diff) else n


@dataclass
class PrefixCache:
    budget_bytes: int = DEFAULT_BUDGET_BYTES
    entries: "OrderedDict[int, PrefixEntry]" = field(default_factory=OrderedDict)
    hits: int = 0
    reused_tokens: int = 0
    _next: int = 0

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self.entries.values())

    def longest(self, ids: list[int]) -> tuple[PrefixEntry | None, int]:
        """The entry sharing the longest token prefix with `ids`, and that length (marked used)."""
        probe = np.asarray(ids, dtype=np.int64)
        best, best_len, best_key = None, 0, None
        for key, entry in self.entries.items():
            n = common_prefix(entry.tokens, probe)
            if n > best_len:
                best, best_len, best_key = entry, n, key
        if best_key is not None:
            self.entries.move_to_end(best_key)
        return best, best_len

    def put(self, ids: list[int], kv: torch.Tensor, logits: torch.Tensor | None = None) -> None:
        """Remember the K/V of `ids` (kv is copied) and the `logits` [t, vocab] after its last t
        tokens; entries that are a prefix of it are dropped."""
        tokens = np.asarray(ids, dtype=np.int64)
        entry = PrefixEntry(tokens, kv.clone(), None if logits is None else logits.clone())
        if entry.nbytes > self.budget_bytes:
            return
        for key in [k for k, e in self.entries.items() if common_prefix(e.tokens, tokens) == len(e.tokens)]:
            del self.entries[key]
        self.entries[self._next] = entry
        self._next += 1
        while self.nbytes > self.budget_bytes:
            self.entries.popitem(last=False)

    def clear(self) -> None:
        self.entries.clear()
