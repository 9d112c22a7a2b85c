"""Dense (Linear) layers whose weights may be held in fp16 while the arithmetic stays fp32.

On a CPU a small model's forward at the widths decoding uses (1 to ~16 rows) is bound by reading
its weights from memory, not by the multiplications. fbgemm's fp16 GEMM (x86 only) keeps the
weights as fp16, half the bytes, and widens them to fp32 inside the kernel: measured on this
2-core AVX2 CPU, SmolLM2-135M's Linear layers took about half the time of fp32 at widths 1 to 32,
where bf16 (no native bf16 here) was 3x faster at width 1 and 4x slower at width 32. The weights'
values are rounded to fp16 once; every forward that uses them, ours and transformers', then reads
the same values, so decoding stays token-identical to greedy decoding of those weights.

fp32 weights may also run from a packed copy, at the widths where it is measured faster than
F.linear's BLAS: oneDNN's blocked layout (on one CPU all widths, on another only trees, not single
tokens) or MKL's packed GEMM (engine.packed_gemm), whichever is measured faster. The copy costs the
weights' memory once more, as fp16 copies cost half of it.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.packed_gemm import Blas, PackedWeight, load_blas, pack


@dataclass(frozen=True)
class Dense:
    weight: torch.Tensor  # [out, in]
    bias: torch.Tensor | None = None
    fp16: object | None = None  # fbgemm's packed fp16 copy of weight and bias; used when present
    onednn: torch.Tensor | None = None  # oneDNN's blocked copy of an fp32 weight (see onednn_pack)
    mkl: PackedWeight | None = None  # or MKL's packed copy of it (engine.packed_gemm)
    packed_from: int = 1  # a packed copy runs inputs of at least this many rows; narrower ones go to F.linear


def fp16_available() -> bool:
    return "fbgemm" in torch.backends.quantized.supported_engines


def onednn_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


ONEDNN_WIDTH = 16  # the width oneDNN's weight layout is chosen for: the planner's usual tree width


def onednn_pack(weight: torch.Tensor) -> torch.Tensor:
    """An fp32 weight in oneDNN's blocked layout, for onednn_linear. Why: F.linear goes to MKL,
    which picks its kernels by CPU vendor; measured on a 2-core AMD EPYC over SmolLM2's layer
    shapes, MKL took 1.7x (width 1) to 3x (width 8) the time of oneDNN on blocked weights, which
    ran widths 1 to 8 in the time of reading the weights once."""
    return torch.ops.mkldnn._reorder_linear_weight(weight, ONEDNN_WIDTH)


def onednn_linear(x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """fp32 x @ weight.T + bias by oneDNN: F.linear's arithmetic, summed in another order."""
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")


@dataclass(frozen=True)
class Fp32Kernel:
    """Where fp32 dense layers run beside F.linear: a packed copy ("onednn" or "mkl") for inputs
    of at least `start` rows."""

    kind: str
    start: int

    @property
    def label(self) -> str:
        name = {"onednn": "oneDNN", "mkl": "MKL packed"}[self.kind]
        return name if self.start == 1 else f"{name} from width {self.start}"


def pack_dense(weight: torch.Tensor, bias: torch.Tensor | None = None, fp16: bool = False,
               kernel: Fp32Kernel | None = None, blas: Blas | None = None) -> Dense:
    """A Dense over `weight`; with fp16 (and fbgemm, and an fp32 CPU weight), also its fp16 copy;
    else with `kernel` (and an fp32 CPU weight), also its packed copy, run from that width up
    (an MKL kernel needs `blas`)."""
    weight = weight.detach()
    bias = None if bias is None else bias.detach()
    fp32_cpu = weight.dtype == torch.float32 and weight.device.type == "cpu"
    if fp16 and fp32_cpu and fp16_available():
        return Dense(weight, bias, torch.ops.quantized.linear_prepack_fp16(weight, bias))
    if kernel is None or not fp32_cpu:
        return Dense(weight, bias)
    if kernel.kind == "mkl" and blas is not None:
        return Dense(weight, bias, mkl=pack(blas, weight), packed_from=kernel.start)
    if kernel.kind == "onednn" and onednn_available():
        return Dense(weight, bias, onednn=onednn_pack(weight), packed_from=kernel.start)
    return Dense(weight, bias)


def apply_dense(x: torch.Tensor, dense: Dense) -> torch.Tensor:
    """x [rows, in] through the layer, by the kernel chosen for this many rows."""
    if dense.fp16 is not None:
        return torch.ops.quantized.linear_dynamic_fp16(x, dense.fp16)
    if x.shape[0] >= dense.packed_from:
        if dense.mkl is not None:
            return dense.mkl.linear(x, dense.bias)
        if dense.onednn is not None:
            return onednn_linear(x, dense.onednn, dense.bias)
    return F.linear(x, dense.weight, dense.bias)


@torch.no_grad()
def round_to_fp16(weight: torch.Tensor) -> None:
    """Make an fp32 weight hold its fp16 value, so an fp32 forward over it (transformers' fallback,
    the HF peer in the bench) reads exactly the values the fp16 kernel does."""
    weight.copy_(weight.half().float())


TIMINGS_VERSION = 5  # part of the key of remembered timings: changes when what time_formats measures does
FORMAT_WIDTHS = (1, 8, 32)  # one token, and the tree widths the planner mostly picks


def time_formats(weights: list[torch.Tensor], widths: tuple[int, ...] = FORMAT_WIDTHS,
                 repeats: int = 5) -> dict[str, list[float]]:
    """Median seconds of one pass through `weights` as Linear layers, per width, for each format
    this CPU can run: fp32 as loaded (by F.linear, by oneDNN, by MKL's packed GEMM), fp16 copies
    (fbgemm), bf16 weights and activations.

    Measured rather than assumed: CPUs differ, and a kernel that wins where memory is the limit
    can lose where it is not (bf16 without native support here: 3x faster at width 1, 4x slower
    at 32). Together the weights exceed the CPU's cache, as a forward's do; passes interleave."""
    kinds = {"fp32": [(w, F.linear) for w in weights], "bf16": [(w.bfloat16(), F.linear) for w in weights]}
    if onednn_available():
        kinds["fp32-onednn"] = [(onednn_pack(w), onednn_linear) for w in weights]
    blas = load_blas()
    if blas is not None:
        kinds["fp32-mkl"] = [(pack(blas, w), lambda x, packed: packed.linear(x)) for w in weights]
    if fp16_available():
        kinds["fp16"] = [(torch.ops.quantized.linear_prepack_fp16(w, None), torch.ops.quantized.linear_dynamic_fp16)
                         for w in weights]
    out: dict[str, list[float]] = {name: [] for name in kinds}
    with torch.inference_mode():
        for width in widths:
            x = torch.randn(width, weights[0].shape[1])
            inputs = {"fp32": x, "fp32-onednn": x, "fp32-mkl": x, "fp16": x, "bf16": x.bfloat16()}
            samples: dict[str, list[float]] = {name: [] for name in kinds}
            for _ in range(repeats):
                for name, layers in kinds.items():
                    started = time.perf_counter()
                    for weight, fn in layers:
                        fn(inputs[name], weight)
                    samples[name].append(time.perf_counter() - started)
            for name, times in samples.items():
                out[name].append(sorted(times)[repeats // 2])
    return out


def _beats(times: list[float], other: list[float], margin: float) -> bool:
    return all(t <= margin * o for t, o in zip(times, other))


PACKED_KINDS = {"fp32-onednn": "onednn", "fp32-mkl": "mkl"}  # time_formats' key: Fp32Kernel.kind


def packed_from(timings: dict[str, list[float]], kind: str = "fp32-onednn", margin: float = 0.9,
                widths: tuple[int, ...] = FORMAT_WIDTHS) -> int | None:
    """The narrowest input from which a packed kernel (`kind`, a key of time_formats) runs, or
    None for never: from there up it must be no slower than F.linear at any measured width and
    take at most `margin` of its time over those widths together (geometric mean), because the
    copy costs memory. Between two measured widths the switch sits at their geometric mean
    (measured 1 and 8: from 3 rows)."""
    ours, blas = timings.get(kind), timings.get("fp32")
    if not ours or not blas:
        return None
    ratios = [o / b for o, b in zip(ours, blas)]
    first = len(ratios)
    while first and ratios[first - 1] <= 1.0:
        first -= 1
    if first == len(ratios) or statistics.geometric_mean(ratios[first:]) > margin:
        return None
    return 1 if first == 0 else int(math.sqrt(widths[first - 1] * widths[first])) + 1


def _kernel_times(timings: dict[str, list[float]], kind: str, start: int, widths: tuple[int, ...]) -> list[float]:
    return [timings[kind][i] if width >= start else t for i, (width, t) in enumerate(zip(widths, timings["fp32"]))]


def fp32_kernel(timings: dict[str, list[float]], margin: float = 0.9,
                widths: tuple[int, ...] = FORMAT_WIDTHS) -> Fp32Kernel | None:
    """The packed kernel fp32 dense layers run on beside F.linear (None: F.linear alone): of
    those that beat it from some width up, the one with the least time over the widths."""
    best: tuple[float, Fp32Kernel] | None = None
    for kind, name in PACKED_KINDS.items():
        start = packed_from(timings, kind, margin, widths)
        if start is None:
            continue
        cost = statistics.geometric_mean(_kernel_times(timings, kind, start, widths))
        if best is None or cost < best[0]:
            best = (cost, Fp32Kernel(name, start))
    return None if best is None else best[1]


def fp32_times(timings: dict[str, list[float]], margin: float = 0.9,
               widths: tuple[int, ...] = FORMAT_WIDTHS) -> list[float]:
    """fp32's time at each measured width, by the kernel fp32_kernel picks for that width."""
    kernel = fp32_kernel(timings, margin, widths)
    if kernel is None:
        return list(timings["fp32"])
    return _kernel_times(timings, f"fp32-{kernel.kind}", kernel.start, widths)


def pick_format(timings: dict[str, list[float]], margin: float = 0.9) -> str:
    """The weight format to run: fp32 (by its faster kernel at each width) unless fp16 copies take
    at most `margin` of its time over the widths together (geometric mean: the planner picks among
    them; both give the same tokens); bf16 (which also rounds activations, so its text can differ
    from fp32's at near-ties) only where it beats that choice at every width. Where whole forwards
    were timed in both formats ("forward-fp32", "forward-fp16": the forward's work around the
    matmuls differs by format), fp32 against fp16 is decided on those."""
    fp32 = fp32_times(timings, margin)
    best, times = "fp32", fp32
    fp16, reference = (timings["forward-fp16"], timings["forward-fp32"]) if "forward-fp16" in timings \
        else (timings.get("fp16"), fp32)
    if fp16 and statistics.geometric_mean(fp16) <= margin * statistics.geometric_mean(reference):
        best, times = "fp16", timings["fp16"]
    return "bf16" if "bf16" in timings and _beats(timings["bf16"], times, margin) else best
