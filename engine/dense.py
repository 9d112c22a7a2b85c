"""Dense (Linear) layers whose weights may be held in fp16 while the arithmetic stays fp32.

On a CPU a small model's forward at the widths decoding uses (1 to ~16 rows) is bound by reading
its weights from memory, not by the multiplications. fbgemm's fp16 GEMM (x86 only) keeps the
weights as fp16, half the bytes, and widens them to fp32 inside the kernel: measured on this
2-core AVX2 CPU, SmolLM2-135M's Linear layers took about half the time of fp32 at widths 1 to 32,
where bf16 (no native bf16 here) was 3x faster at width 1 and 4x slower at width 32. The weights'
values are rounded to fp16 once; every forward that uses them, ours and transformers', then reads
the same values, so decoding stays token-identical to greedy decoding of those weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Dense:
    weight: torch.Tensor  # [out, in]
    bias: torch.Tensor | None = None
    fp16: object | None = None  # fbgemm's packed fp16 copy of weight and bias; used when present


def fp16_available() -> bool:
    return "fbgemm" in torch.backends.quantized.supported_engines


def pack_dense(weight: torch.Tensor, bias: torch.Tensor | None = None, fp16: bool = False) -> Dense:
    """A Dense over `weight`; with fp16 (and fbgemm, and an fp32 CPU weight), also its fp16 copy."""
    weight = weight.detach()
    bias = None if bias is None else bias.detach()
    packed = None
    if fp16 and weight.dtype == torch.float32 and weight.device.type == "cpu" and fp16_available():
        packed = torch.ops.quantized.linear_prepack_fp16(weight, bias)
    return Dense(weight, bias, packed)


def apply_dense(x: torch.Tensor, dense: Dense) -> torch.Tensor:
    if dense.fp16 is not None:
        return torch.ops.quantized.linear_dynamic_fp16(x, dense.fp16)
    return F.linear(x, dense.weight, dense.bias)


@torch.no_grad()
def round_to_fp16(weight: torch.Tensor) -> None:
    """Make an fp32 weight hold its fp16 value, so an fp32 forward over it (transformers' fallback,
    the HF peer in the bench) reads exactly the values the fp16 kernel does."""
    weight.copy_(weight.half().float())


FORMAT_WIDTHS = (1, 8, 32)  # one token, and the tree widths the planner mostly picks


def time_formats(weights: list[torch.Tensor], widths: tuple[int, ...] = FORMAT_WIDTHS,
                 repeats: int = 5) -> dict[str, list[float]]:
    """Median seconds of one pass through `weights` as Linear layers, per width, for each format
    this CPU can run: fp32 as loaded, fp16 copies (fbgemm), bf16 weights and activations.

    Measured rather than assumed: CPUs differ, and a kernel that wins where memory is the limit
    can lose where it is not (bf16 without native support here: 3x faster at width 1, 4x slower
    at 32). Together the weights exceed the CPU's cache, as a forward's do; passes interleave."""
    kinds = {"fp32": [(w, F.linear) for w in weights], "bf16": [(w.bfloat16(), F.linear) for w in weights]}
    if fp16_available():
        kinds["fp16"] = [(torch.ops.quantized.linear_prepack_fp16(w, None), torch.ops.quantized.linear_dynamic_fp16)
                         for w in weights]
    out: dict[str, list[float]] = {name: [] for name in kinds}
    with torch.inference_mode():
        for width in widths:
            x = torch.randn(width, weights[0].shape[1])
            inputs = {"fp32": x, "fp16": x, "bf16": x.bfloat16()}
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


def pick_format(timings: dict[str, list[float]], margin: float = 0.9) -> str:
    """The weight format to run: fp32 unless another is faster at every width by `margin`; bf16
    (which also rounds activations, so its text can differ from fp32's at near-ties) only where it
    also beats fp16 copies at every width."""
    def beats(name: str, other: str) -> bool:
        return name in timings and all(t <= margin * o for t, o in zip(timings[name], timings[other]))

    best = "fp16" if beats("fp16", "fp32") else "fp32"
    return "bf16" if beats("bf16", best) else best
