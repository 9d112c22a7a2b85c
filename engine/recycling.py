"""The token-recycling table: for every token, the k tokens the model most recently ranked highest
right after it. Every verification forward scores positions whose top-k would otherwise be thrown
away; keeping them turns them into next step's drafts (Luo et al., 2024).

The table lives on the loaded model's state (`engine.state`) and is persisted to the data directory
(atomic write) so the next session starts warm. A file that is corrupt or belongs to another model
or vocabulary is ignored with a warning.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.paths import cache_dir

TOP_K = 8
_MAGIC = b"DPRECYC1"
log = logging.getLogger(__name__)


@dataclass
class RecyclingTable:
    """`rows[t]` holds candidate successors of token t by rank; -1 marks a slot never filled."""

    identity: str
    vocab: int
    k: int = TOP_K
    rows: np.ndarray = field(default=None)  # type: ignore[assignment]
    dirty: bool = False

    def __post_init__(self) -> None:
        if self.rows is None:
            self.rows = np.full((self.vocab, self.k), -1, dtype=np.int32)
        self._view = torch.from_numpy(self.rows)  # shares memory: torch writes, numpy reads

    def update(self, input_ids: torch.Tensor, logits: torch.Tensor) -> None:
        """Logits at position i follow token input_ids[i]: remember their top-k as its successors."""
        with torch.inference_mode(False), torch.no_grad():
            self._write(input_ids, logits)
        self.dirty = True

    def _write(self, input_ids: torch.Tensor, logits: torch.Tensor) -> None:
        top = torch.topk(logits, self.k, dim=-1).indices.to(torch.int32).cpu()
        self._view[input_ids.cpu()] = top

    def learn(self, input_ids: torch.Tensor, top: torch.Tensor) -> None:
        """Write successors already ranked elsewhere (`top`: [n, k] int32, as `update` computes)."""
        with torch.inference_mode(False), torch.no_grad():
            self._view[input_ids.cpu()] = top.cpu()
        self.dirty = True

    def clear(self) -> None:
        self.rows.fill(-1)
        self.dirty = True

    def filled_rows(self) -> int:
        return int((self.rows[:, 0] >= 0).sum())


def table_path(identity: str, vocab: int) -> Path:
    key = hashlib.sha256(f"{identity}|{vocab}".encode()).hexdigest()[:20]
    return cache_dir("recycling") / f"{key}.bin"


def _header(identity: str, vocab: int, k: int) -> bytes:
    digest = hashlib.sha256(identity.encode()).digest()
    return _MAGIC + digest + np.array([vocab, k], dtype=np.int64).tobytes()


def save_table(table: RecyclingTable, path: Path | None = None) -> Path:
    """Write atomically: a reader never sees half a file, a crash never leaves one."""
    path = path or table_path(table.identity, table.vocab)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(_header(table.identity, table.vocab, table.k))
            handle.write(table.rows.tobytes())
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        raise
    table.dirty = False
    return path


def load_table(identity: str, vocab: int, k: int = TOP_K, path: Path | None = None) -> RecyclingTable:
    """The persisted table if it is sound and ours, else an empty one (with a warning if a file was there)."""
    path = path or table_path(identity, vocab)
    if not path.exists():
        return RecyclingTable(identity, vocab, k)
    header = _header(identity, vocab, k)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _ignored(identity, vocab, k, path, f"unreadable ({exc})")
    if not data.startswith(_MAGIC):
        return _ignored(identity, vocab, k, path, "not a recycling table")
    if not data.startswith(header):
        return _ignored(identity, vocab, k, path, "made for another model or vocabulary")
    body = data[len(header):]
    if len(body) != vocab * k * 4:
        return _ignored(identity, vocab, k, path, "truncated or wrong size")
    rows = np.frombuffer(body, dtype=np.int32).reshape(vocab, k).copy()
    if rows.min() < -1 or rows.max() >= vocab:
        return _ignored(identity, vocab, k, path, "token ids out of range")
    return RecyclingTable(identity, vocab, k, rows)


def _ignored(identity: str, vocab: int, k: int, path: Path, why: str) -> RecyclingTable:
    message = f"ignoring recycling table {path}: {why}; starting with an empty one"
    log.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    return RecyclingTable(identity, vocab, k)
