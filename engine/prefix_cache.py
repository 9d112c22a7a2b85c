"""Prefix reuse across calls: the KV of recent prompts, bounded in bytes, least recently used out.

A suggestion after one more typed word, or the next section of the same document, shares a long
token prefix with an earlier prompt; copying that prefix's K/V (a few milliseconds) replaces
running it through the model again (hundreds). Entries hold our own cache layout
[layers, 2, kv_heads, tokens, head_dim]; the HF fallback does not use them.

An entry is a trunk of tokens and, after it, a tree of tokens the model has already been run on
(a suggestion's check runs all k drafts as one tree), with the logits after the trunk and after
each tree node. A prompt that ends on the trunk's end or on a tree node needs no forward at all:
the same text asked again, or a text that goes on with the first words of any suggestion offered.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch

DEFAULT_BUDGET_BYTES = 128 * 2**20


@dataclass
class PrefixEntry:
    tokens: np.ndarray  # int64 [n]: the trunk
    kv: torch.Tensor  # [layers, 2, kv_heads, n - 1 + nodes, head_dim]: the trunk, then tree nodes 1..
    logits: torch.Tensor | None = None  # [nodes, vocab]: after the trunk's end (node 0), after each node
    children: tuple[dict[int, int], ...] = ({},)  # per node, {token: child node}; node 0 is the trunk's end

    @property
    def nbytes(self) -> int:
        extra = 0 if self.logits is None else self.logits.numel() * self.logits.element_size()
        return self.kv.numel() * self.kv.element_size() + extra

    def walk(self, ids: np.ndarray) -> tuple[int, list[int]]:
        """How many of `ids` the trunk shares, and the tree nodes the rest follows (trunk whole)."""
        shared, path = common_prefix(self.tokens, ids), []
        if shared == len(self.tokens):
            node = 0
            for token in ids[shared:].tolist():
                node = self.children[node].get(token, -1)
                if node < 0:
                    break
                path.append(node)
        return shared, path


@dataclass(frozen=True)
class Match:
    """The longest reusable prefix of a prompt: `length` tokens, from `entry`'s trunk and `path`."""

    entry: PrefixEntry | None = None
    length: int = 0
    path: tuple[int, ...] = ()

    @property
    def logits(self) -> torch.Tensor | None:
        """The logits after the match's last token, where the entry knows them."""
        entry = self.entry
        if entry is None or entry.logits is None or self.length < len(entry.tokens):
            return None
        return entry.logits[self.path[-1] if self.path else 0]

    def copy_into(self, kv: torch.Tensor, count: int) -> None:
        """Write the K/V of the match's first `count` tokens into `kv` [layers, 2, kv_heads, >= count, d]."""
        assert self.entry is not None and count <= self.length
        trunk = min(count, len(self.entry.tokens))
        kv[:, :, :, :trunk] = self.entry.kv[:, :, :, :trunk]
        if count > trunk:
            rows = torch.tensor(self.path[:count - trunk], device=kv.device) + (trunk - 1)
            kv[:, :, :, trunk:count] = self.entry.kv.index_select(3, rows)


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

    def longest(self, ids: list[int]) -> Match:
        """The entry (trunk and tree path) sharing the longest prefix with `ids` (marked used)."""
        probe = np.asarray(ids, dtype=np.int64)
        best, best_key = Match(), None
        for key, entry in self.entries.items():
            shared, path = entry.walk(probe)
            if shared + len(path) > best.length:
                best, best_key = Match(entry, shared + len(path), tuple(path)), key
        if best_key is not None:
            self.entries.move_to_end(best_key)
        return best

    def put(self, ids: list[int], kv: torch.Tensor, logits: torch.Tensor | None = None,
            children: list[dict[int, int]] | None = None) -> None:
        """Remember the trunk `ids` and the tree after it (`children` per node, node 0 = the trunk's
        last token; none: no tree), with kv [.., n - 1 + nodes, ..] and the `logits` [nodes, vocab]
        after each node (all copied). Entries whose trunk this one's extends are dropped."""
        tokens = np.asarray(ids, dtype=np.int64)
        tree = tuple(dict(c) for c in children) if children else ({},)
        if kv.shape[3] != len(tokens) - 1 + len(tree) or (logits is not None and logits.shape[0] != len(tree)):
            raise ValueError("prefix entry: K/V and logits must cover the trunk and every tree node")
        entry = PrefixEntry(tokens, kv.clone(), None if logits is None else logits.clone(), tree)
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
