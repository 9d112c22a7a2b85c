"""Interpolated n-gram model (orders 2..6) over a model's token ids, for scoring suggestions.

Counts live in flat sorted numpy arrays per order (context hash, next token, count) rather than in
Python dicts: a library of ~1M tokens then counts in seconds, saves as one small .npz and loads in
milliseconds. Contexts are hashed to 64 bits (a 5-token context needs 80 bits at a 49k vocabulary);
at a few million entries a collision is a one-in-a-million event that only perturbs one score.

A model is a list of tables whose counts are summed on lookup, so the user's library (persisted,
grown incrementally) and the document being typed (rebuilt as it changes) need no merge.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

log = logging.getLogger("draftpad.ngram")

ORDERS = (2, 3, 4, 5, 6)
# Superposed Decoding's published interpolation weights for orders 2..6.
DEFAULT_WEIGHTS: dict[int, float] = {2: 0.01, 3: 0.04, 4: 0.15, 5: 0.18, 6: 0.12}
FORMAT_VERSION = 1

_MULT = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _finish(h: np.ndarray) -> np.ndarray:
    # splitmix64's finaliser: spreads the bits so sorted order and collisions don't depend on token ids
    h = h ^ (h >> np.uint64(30))
    h = h * _MIX1
    h = h ^ (h >> np.uint64(27))
    h = h * _MIX2
    return h ^ (h >> np.uint64(31))


def _window_hashes(tokens: np.ndarray, width: int) -> np.ndarray:
    """Hash of every run of `width` consecutive tokens: entry j covers tokens[j : j + width]."""
    count = len(tokens) - width + 1
    h = np.zeros(max(count, 0), dtype=np.uint64)
    if count <= 0:
        return h
    with np.errstate(over="ignore"):
        for i in range(width):
            h = h * _MULT + (tokens[i:i + count].astype(np.uint64) + np.uint64(1))
        return _finish(h)


def context_hash(context: Sequence[int]) -> int:
    """The same hash as the counting code, for one context at lookup time."""
    return int(_window_hashes(np.asarray(context, dtype=np.int64), len(context))[0])


@dataclass
class OrderCounts:
    """Counts of one order, sorted by (context hash, next token)."""

    ctx: np.ndarray  # uint64
    nxt: np.ndarray  # int32
    cnt: np.ndarray  # uint32

    @staticmethod
    def empty() -> "OrderCounts":
        return OrderCounts(np.zeros(0, np.uint64), np.zeros(0, np.int32), np.zeros(0, np.uint32))

    def __len__(self) -> int:
        return len(self.ctx)

    def successors(self, ctx_hash: int) -> tuple[np.ndarray, np.ndarray]:
        key = np.uint64(ctx_hash)
        lo = int(np.searchsorted(self.ctx, key, side="left"))
        hi = int(np.searchsorted(self.ctx, key, side="right"))
        return self.nxt[lo:hi], self.cnt[lo:hi]


def _aggregate(ctx: np.ndarray, nxt: np.ndarray, cnt: np.ndarray) -> OrderCounts:
    """Sum counts of equal (context, next) pairs and sort them for binary search."""
    if len(ctx) == 0:
        return OrderCounts.empty()
    order = np.lexsort((nxt, ctx))
    ctx, nxt, cnt = ctx[order], nxt[order], cnt[order].astype(np.uint64)
    starts = np.ones(len(ctx), dtype=bool)
    starts[1:] = (ctx[1:] != ctx[:-1]) | (nxt[1:] != nxt[:-1])
    idx = np.flatnonzero(starts)
    sums = np.add.reduceat(cnt, idx)
    return OrderCounts(ctx[idx], nxt[idx].astype(np.int32), np.minimum(sums, 2**32 - 1).astype(np.uint32))


def count_sequences(sequences: Iterable[Sequence[int]], orders: Sequence[int] = ORDERS) -> dict[int, OrderCounts]:
    """Count every n-gram inside each sequence (none span two sequences)."""
    parts = [np.asarray(s, dtype=np.int64) for s in sequences]
    parts = [p for p in parts if len(p) >= 2]
    result: dict[int, OrderCounts] = {}
    if not parts:
        return {n: OrderCounts.empty() for n in orders}
    tokens = np.concatenate(parts)
    segment = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    for n in orders:
        width = n - 1
        if len(tokens) < n:
            result[n] = OrderCounts.empty()
            continue
        ctx = _window_hashes(tokens[:-1], width)  # context ending just before position j + width
        nxt = tokens[width:]
        inside = segment[: len(nxt)] == segment[width:]
        result[n] = _aggregate(ctx[inside], nxt[inside].astype(np.int32), np.ones(int(inside.sum()), np.uint32))
    return result


def merge_counts(a: OrderCounts, b: OrderCounts) -> OrderCounts:
    if len(a) == 0:
        return b
    if len(b) == 0:
        return a
    return _aggregate(np.concatenate([a.ctx, b.ctx]), np.concatenate([a.nxt, b.nxt]), np.concatenate([a.cnt, b.cnt]))


def prune_counts(counts: OrderCounts, min_count: int) -> OrderCounts:
    """Drop rare pairs: high-order singletons are most of the table and rarely seen again."""
    if min_count <= 1 or len(counts) == 0:
        return counts
    keep = counts.cnt >= min_count
    return OrderCounts(counts.ctx[keep], counts.nxt[keep], counts.cnt[keep])


@dataclass
class NgramTable:
    """Counts from one source, plus the keys of the texts already counted (for incremental growth)."""

    orders: dict[int, OrderCounts] = field(default_factory=lambda: {n: OrderCounts.empty() for n in ORDERS})
    seen: set[int] = field(default_factory=set)

    @property
    def entries(self) -> int:
        return sum(len(c) for c in self.orders.values())

    def add_sequences(self, sequences: Iterable[Sequence[int]]) -> None:
        new = count_sequences(sequences, tuple(self.orders))
        for n, counts in new.items():
            self.orders[n] = merge_counts(self.orders[n], counts)

    def prune(self, min_count: int = 2, from_order: int = 3) -> None:
        for n in self.orders:
            if n >= from_order:
                self.orders[n] = prune_counts(self.orders[n], min_count)

    def successors(self, order: int, context: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        counts = self.orders.get(order)
        if counts is None or len(counts) == 0:
            return np.zeros(0, np.int32), np.zeros(0, np.uint32)
        return counts.successors(context_hash(context))


def text_key(text: str) -> int:
    """Stable 64-bit key of a text, to remember it was counted."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def tokenize_texts(tokenizer: object, texts: Sequence[str]) -> list[list[int]]:
    if not texts:
        return []
    return [list(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


@dataclass
class NgramModel:
    """Interpolated P(t | history) = Σ_n w_n · P_n(t | last n-1 tokens), counts summed over tables."""

    tables: list[NgramTable] = field(default_factory=list)
    weights: dict[int, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    @classmethod
    def from_texts(cls, tokenizer: object, texts: Sequence[str], weights: dict[int, float] | None = None) -> "NgramModel":
        table = NgramTable()
        table.add_sequences(tokenize_texts(tokenizer, texts))
        return cls([table], dict(weights or DEFAULT_WEIGHTS))

    def with_table(self, table: NgramTable) -> "NgramModel":
        return NgramModel([*self.tables, table], self.weights)

    @property
    def empty(self) -> bool:
        return all(t.entries == 0 for t in self.tables)

    def probabilities(self, history: Sequence[int], candidates: Sequence[int]) -> np.ndarray:
        """Interpolated probability of each candidate after `history` (0 where nothing supports it)."""
        cand = np.asarray(candidates, dtype=np.int64)
        out = np.zeros(len(cand), dtype=np.float64)
        for n, weight in self.weights.items():
            if weight <= 0 or len(history) < n - 1:
                continue
            context = list(history[len(history) - (n - 1):])
            total = 0
            hits = np.zeros(len(cand), dtype=np.float64)
            for table in self.tables:
                nxt, cnt = table.successors(n, context)
                if len(nxt) == 0:
                    continue
                total += int(cnt.sum())
                # successors are sorted by token id within a context
                pos = np.searchsorted(nxt, cand)
                pos = np.minimum(pos, len(nxt) - 1)
                found = nxt[pos] == cand
                hits += np.where(found, cnt[pos], 0)
            if total:
                out += weight * hits / total
        return out


# ---- persistence -----------------------------------------------------------------------------

def _pack(table: NgramTable, meta: dict) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for n, counts in table.orders.items():
        arrays[f"ctx{n}"], arrays[f"nxt{n}"], arrays[f"cnt{n}"] = counts.ctx, counts.nxt, counts.cnt
    arrays["seen"] = np.array(sorted(table.seen), dtype=np.uint64)
    arrays["meta"] = np.frombuffer(json.dumps({**meta, "version": FORMAT_VERSION}).encode(), dtype=np.uint8)
    return arrays


def save_table(path: Path, table: NgramTable, meta: dict | None = None) -> int:
    """Write atomically (temp file + rename), so a crash never leaves a half-written store. Returns bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **_pack(table, meta or {}))
    fd, tmp = tempfile.mkstemp(prefix=".ngram-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(buffer.getvalue())


def load_table(path: Path, expect_meta: dict | None = None) -> NgramTable | None:
    """The stored table, or None when missing, corrupt or built for something else (logged)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            if meta.get("version") != FORMAT_VERSION:
                raise ValueError(f"format version {meta.get('version')}")
            for key, value in (expect_meta or {}).items():
                if meta.get(key) != value:
                    raise ValueError(f"built for a different {key}")
            orders: dict[int, OrderCounts] = {}
            for n in ORDERS:
                counts = OrderCounts(data[f"ctx{n}"].astype(np.uint64), data[f"nxt{n}"].astype(np.int32),
                                     data[f"cnt{n}"].astype(np.uint32))
                if not (len(counts.ctx) == len(counts.nxt) == len(counts.cnt)):
                    raise ValueError(f"order {n} arrays differ in length")
                orders[n] = counts
            seen = {int(x) for x in data["seen"]}
    except Exception as exc:  # noqa: BLE001 - any unreadable store is rebuilt, never fatal
        log.warning("ignoring unreadable n-gram store %s (%s: %s); it will be rebuilt", path, type(exc).__name__, exc)
        return None
    return NgramTable(orders, seen)
