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


def fp16_is_faster(layers: list[Dense], widths: tuple[int, ...] = (1, 8), repeats: int = 5,
                   margin: float = 0.9) -> bool:
    """Whether the fp16 copies beat fp32 at every width, by `margin`, over a pass through all of
    `layers` (packed ones): together they exceed the CPU's cache, as a forward's weights do.

    Measured rather than assumed: CPUs differ, and a kernel that wins where memory is the limit
    can lose where it is not. Medians of interleaved passes."""
    layers = [d for d in layers if d.fp16 is not None]
    if not layers:
        return False
    with torch.inference_mode():
        for width in widths:
            x = torch.randn(width, layers[0].weight.shape[1])
            plain, half = [], []
            for _ in range(repeats):
                started = time.perf_counter()
                for d in layers:
                    F.linear(x, d.weight)
                plain.append(time.perf_counter() - started)
                started = time.perf_counter()
                for d in layers:
                    torch.ops.quantized.linear_dynamic_fp16(x, d.fp16)
                half.append(time.perf_counter() - started)
            if sorted(half)[repeats // 2] > margin * sorted(plain)[repeats // 2]:
                return False
    return True
