"""What one forward costs by width, against the floor of its Linear layers alone.

The floor is every Linear layer of the model (attention projections, MLP, LM head) called on its
own on inputs of the same width, with no attention, norms, cache or Python around them: what a
forward costs if everything else were free. A forward within ~1.2x of the floor leaves little to
gain outside the matmuls. Rows are timed interleaved (floor, ours, HF per repeat) and reported as
medians, because this kind of machine is noisy.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from engine.adaptive import synchronize
from engine.loading import LoadedModel

DEFAULT_WIDTHS = (1, 4, 16, 32)


@dataclass(frozen=True)
class CostRow:
    width: int
    floor_ms: float
    own_ms: float | None  # None: our forward does not run this architecture
    hf_ms: float

    @property
    def own_ratio(self) -> float | None:
        return None if self.own_ms is None else self.own_ms / self.floor_ms

    @property
    def hf_ratio(self) -> float:
        return self.hf_ms / self.floor_ms


def _linears(model: torch.nn.Module) -> list[torch.nn.Linear]:
    return [m for m in model.modules() if isinstance(m, torch.nn.Linear)]


@torch.inference_mode()
def _floor(linears: list[torch.nn.Linear], inputs: dict[int, torch.Tensor]) -> None:
    for lin in linears:
        lin(inputs[lin.in_features])


def _timed(fn, device: torch.device) -> float:
    synchronize(device)
    started = time.perf_counter()
    fn()
    synchronize(device)
    return (time.perf_counter() - started) * 1000


@torch.inference_mode()
def forward_costs(lm: LoadedModel, widths: tuple[int, ...] = DEFAULT_WIDTHS, context: int = 300,
                  repeats: int = 20) -> list[CostRow]:
    """Median milliseconds per forward at each width over a `context`-token cache: the Linear
    floor, our forward (tree path) and the HF forward (4D mask, as verification runs it)."""
    from engine.sequence import HFSequence, prefill

    gen = torch.Generator().manual_seed(0)
    prefix = torch.randint(0, lm.vocab_size, (context,), generator=gen).tolist()
    linears = _linears(lm.model)
    own = prefill(lm, prefix, room=max(widths) + 1, reuse=False)[0] if lm.own_weights is not None else None
    hf = HFSequence(lm.model, lm.device, lm.dtype)
    hf.run(prefix, keep=1)
    rows = []
    for width in widths:
        ids = torch.randint(0, lm.vocab_size, (width,), generator=gen).tolist()
        chain, depth = list(range(-1, width - 1)), list(range(width))
        inputs = {n: torch.randn(width, n, generator=gen).to(lm.device, lm.dtype)
                  for n in {lin.in_features for lin in linears}}
        times: dict[str, list[float]] = {"floor": [], "own": [], "hf": []}

        def run(seq) -> None:
            seq.run(ids, chain, depth)
            seq.truncate(context)

        for rep in range(repeats + 2):
            sample = {"floor": _timed(lambda: _floor(linears, inputs), lm.device),
                      "hf": _timed(lambda: run(hf), lm.device)}
            if own is not None:
                sample["own"] = _timed(lambda: run(own), lm.device)
            if rep >= 2:  # two warm-up rounds per width
                for name, ms in sample.items():
                    times[name].append(ms)
        rows.append(CostRow(width, statistics.median(times["floor"]),
                            statistics.median(times["own"]) if times["own"] else None,
                            statistics.median(times["hf"])))
    return rows


def format_costs(rows: list[CostRow], header: str) -> str:
    lines = [header, "width  linear floor ms  own forward ms  own/floor  HF forward ms  HF/floor"]
    for r in rows:
        own = "-" if r.own_ms is None else f"{r.own_ms:.1f}"
        ratio = "-" if r.own_ratio is None else f"{r.own_ratio:.2f}x"
        lines.append(f"{r.width:>5}  {r.floor_ms:>15.1f}  {own:>14}  {ratio:>9}  {r.hf_ms:>13.1f}  {r.hf_ratio:>7.2f}x")
    return "\n".join(lines)
