"""What one forward costs by width, against the floor of its Linear layers alone.

The floor is every Linear layer of the model (attention projections, MLP, LM head) called on its
own on inputs of the same width, with no attention, norms, cache or Python around them: what a
forward costs if everything else were free. A forward within ~1.2x of the floor leaves little to
gain outside the matmuls. Our forward is held to the floor of its own dense layers (fused, and
fp16-stored where it keeps fp16 copies), transformers' to its Linear layers as loaded. Rows are
timed interleaved (floors, ours, HF per repeat) and reported as medians, because this kind of
machine is noisy.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from engine.adaptive import synchronize
from engine.dense import Dense, Fp32Kernel, apply_dense
from engine.loading import LoadedModel

DEFAULT_WIDTHS = (1, 4, 16, 32)


@dataclass(frozen=True)
class CostRow:
    width: int
    floor_ms: float  # transformers' Linear layers alone, as loaded
    own_ms: float | None  # None: our forward does not run this architecture
    hf_ms: float
    # our forward's own dense layers alone (fused, and fp16-stored where it keeps fp16 copies): the
    # floor of the kernels it actually runs, so fp16 weights are not credited as forward overhead saved
    own_floor_ms: float | None = None

    @property
    def own_ratio(self) -> float | None:
        return None if self.own_ms is None or self.own_floor_ms is None else self.own_ms / self.own_floor_ms

    @property
    def hf_ratio(self) -> float:
        return self.hf_ms / self.floor_ms


def _linears(model: torch.nn.Module) -> list[torch.nn.Linear]:
    return [m for m in model.modules() if isinstance(m, torch.nn.Linear)]


@torch.inference_mode()
def _floor(linears: list[torch.nn.Linear], inputs: dict[int, torch.Tensor]) -> None:
    for lin in linears:
        lin(inputs[lin.in_features])


@torch.inference_mode()
def _own_floor(dense: list[Dense], inputs: dict[int, torch.Tensor]) -> None:
    for d in dense:
        apply_dense(inputs[d.weight.shape[1]], d)


def _own_dense(weights) -> list[Dense]:
    return [d for layer in weights.layers for d in (layer.qkv, layer.out, layer.gate_up, layer.down)] + [weights.lm_head]


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
    dense = _own_dense(lm.own_weights) if lm.own_weights is not None else []
    own = prefill(lm, prefix, room=max(widths) + 1, reuse=False)[0] if lm.own_weights is not None else None
    hf = HFSequence(lm.model, lm.device, lm.dtype)
    hf.run(prefix, keep=1)
    rows = []
    for width in widths:
        ids = torch.randint(0, lm.vocab_size, (width,), generator=gen).tolist()
        chain, depth = list(range(-1, width - 1)), list(range(width))
        inputs = {n: torch.randn(width, n, generator=gen).to(lm.device, lm.dtype)
                  for n in {lin.in_features for lin in linears} | {d.weight.shape[1] for d in dense}}
        times: dict[str, list[float]] = {"floor": [], "own": [], "hf": [], "own_floor": []}

        def run(seq) -> None:
            seq.run(ids, chain, depth)
            seq.truncate(context)

        for rep in range(repeats + 2):
            sample = {"floor": _timed(lambda: _floor(linears, inputs), lm.device),
                      "hf": _timed(lambda: run(hf), lm.device)}
            if own is not None:
                sample["own_floor"] = _timed(lambda: _own_floor(dense, inputs), lm.device)
                sample["own"] = _timed(lambda: run(own), lm.device)
            if rep >= 2:  # two warm-up rounds per width
                for name, ms in sample.items():
                    times[name].append(ms)
        rows.append(CostRow(width, statistics.median(times["floor"]),
                            statistics.median(times["own"]) if times["own"] else None,
                            statistics.median(times["hf"]),
                            statistics.median(times["own_floor"]) if times["own_floor"] else None))
    return rows


SAMPLE_BYTES = 1 << 30  # the stand-in's layers hold at least this much fp32 (or all of them): more than a CPU caches
SAMPLE_CONTEXT = 128


def _sample_layers(model: torch.nn.Module) -> int:
    layers = model.model.layers
    per_layer = sum(p.numel() * 4 for p in layers[0].parameters())
    return min(len(layers), -(-SAMPLE_BYTES // per_layer))


@torch.inference_mode()
def time_sampled_forwards(model: torch.nn.Module, kernel: Fp32Kernel | None, widths: tuple[int, ...], repeats: int = 5) -> dict[str, list[float]]:
    """Median seconds of our forward over the model's layers (engine.llama_forward.extract's
    stand-in: copies, so the model is left as it is, and as many layers as exceed the CPU's caches),
    per width, with fp32 weights (on `kernel`) and with fp16 copies: each format's cost with the
    forward's own work around the matmuls, which differs by format (fp32 on MKL runs every layer
    in one C call, fp16 copies from Python). Keys "forward-fp32" and "forward-fp16"."""
    from engine import llama_forward as lf

    layers = _sample_layers(model)
    samples = {"forward-fp32": lf.extract(model, False, kernel, sample=layers),
               "forward-fp16": lf.extract(model, True, None, sample=layers)}
    gen = torch.Generator().manual_seed(0)
    vocab = samples["forward-fp32"].embed.shape[0]
    prefix = torch.randint(0, vocab, (SAMPLE_CONTEXT,), generator=gen)
    out: dict[str, list[float]] = {name: [] for name in samples}
    caches = {}
    for name, weights in samples.items():
        caches[name] = lf.new_cache(weights.shape, SAMPLE_CONTEXT + max(widths), weights.embed.dtype, weights.embed.device)
        lf.forward(weights, caches[name], lf.embed(weights, prefix), torch.arange(SAMPLE_CONTEXT),
                   lf.chain_visibility(SAMPLE_CONTEXT, prefix.device), keep=1)
    for width in widths:
        tokens = torch.randint(0, vocab, (width,), generator=gen)
        positions = SAMPLE_CONTEXT + torch.arange(width)
        inside = lf.chain_visibility(width, tokens.device) if width > 1 else None
        times: dict[str, list[float]] = {name: [] for name in samples}
        for _ in range(repeats + 1):  # the first round warms up
            for name, weights in samples.items():
                started = time.perf_counter()
                lf.forward(weights, caches[name], lf.embed(weights, tokens), positions, inside)
                times[name].append(time.perf_counter() - started)
                caches[name].length = SAMPLE_CONTEXT
        for name, values in times.items():
            out[name].append(statistics.median(values[1:]))
    return out


def format_costs(rows: list[CostRow], header: str) -> str:
    lines = [header, "width  own floor ms  own forward ms  own/floor  HF linear floor ms  HF forward ms  HF/floor"]
    for r in rows:
        own = "-" if r.own_ms is None else f"{r.own_ms:.1f}"
        own_floor = "-" if r.own_floor_ms is None else f"{r.own_floor_ms:.1f}"
        ratio = "-" if r.own_ratio is None else f"{r.own_ratio:.2f}x"
        lines.append(f"{r.width:>5}  {own_floor:>12}  {own:>14}  {ratio:>9}  {r.floor_ms:>18.1f}  {r.hf_ms:>13.1f}  "
                     f"{r.hf_ratio:>7.2f}x")
    return "\n".join(lines)
