"""The CPU forward's work between its matmuls (norms, residual adds, RoPE and the K/V write,
SiLU·up) as a few C functions, compiled here from glue.c at first use.

Why C: measured on a 2-core CPU, an RMSNorm of 16 rows through PyTorch's ops costs 12 µs alone
but 40–100 µs right after a GEMM, because their dispatch path then runs cold; the same norm as one
C function costs 3–5 µs after the GEMM. A layer has four such spots, and at decoding widths they
were a fifth of the forward.

Optional by design: no C compiler, a failed build, a GPU, a dtype other than fp32, or
DRAFTPAD_NATIVE=0 all mean PyTorch's ops, which give the same values within fp32 rounding
(the C sums run in a different order). Nothing is fetched: the source ships with the package, and
the library is built into draftpad's cache, keyed by source, flags and CPU.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.paths import cache_dir

SOURCE = Path(__file__).with_name("glue.c")
# -march=native: the library is built on, and for, the machine that runs it; no -ffast-math, so
# inf and NaN behave as in PyTorch
FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-shared", "-fPIC")

_P, _I, _F = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
SIGNATURES = {
    "dp_rms_norm": (_P, _P, _F, _I, _I, _P),
    "dp_add_rms_norm": (_P, _P, _P, _F, _I, _I, _P),
    "dp_add": (_P, _P, _I),
    "dp_silu_mul": (_P, _I, _I, _P),
    "dp_rope_store": (_P, _P, _P, _I, _I, _I, _I, _P, _P, _I, _I),
    "dp_ungroup": (_P, _I, _I, _I, _P),
}


@dataclass(frozen=True)
class Glue:
    """The compiled functions. Every tensor passed must be fp32, contiguous and on the CPU (the
    caller, engine.llama_forward, only uses Glue for such a forward)."""

    lib: ctypes.CDLL

    def rms_norm(self, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        out = torch.empty_like(x)
        self.lib.dp_rms_norm(x.data_ptr(), weight.data_ptr(), eps, x.shape[0], x.shape[1], out.data_ptr())
        return out

    def add_rms_norm(self, x: torch.Tensor, delta: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        """x += delta in place; returns RMSNorm(x) * weight."""
        out = torch.empty_like(x)
        self.lib.dp_add_rms_norm(x.data_ptr(), delta.data_ptr(), weight.data_ptr(), eps, x.shape[0], x.shape[1],
                                 out.data_ptr())
        return out

    def add_(self, x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        self.lib.dp_add(x.data_ptr(), delta.data_ptr(), x.numel())
        return x

    def silu_mul(self, gate_up: torch.Tensor) -> torch.Tensor:
        rows, half = gate_up.shape[0], gate_up.shape[1] // 2
        out = gate_up.new_empty(rows, half)
        self.lib.dp_silu_mul(gate_up.data_ptr(), rows, half, out.data_ptr())
        return out

    def rope_store(self, qkv: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, kv: torch.Tensor,
                   heads: int, kv_heads: int, start: int) -> torch.Tensor:
        """RoPE on q and k of qkv [w, heads + 2 kv_heads, d]; K and V go into `kv` ([2, kv_heads,
        capacity, d]) at start.., and q comes back as [heads, w, d], grouped for attention."""
        width, d = qkv.shape[0], qkv.shape[2]
        q = qkv.new_empty(heads, width, d)
        self.lib.dp_rope_store(qkv.data_ptr(), cos.data_ptr(), sin.data_ptr(), width, heads, kv_heads, d,
                               q.data_ptr(), kv.data_ptr(), kv.shape[2], start)
        return q

    def ungroup(self, a: torch.Tensor) -> torch.Tensor:
        """[heads, w, d] (attention's output) to [w, heads * d]."""
        heads, width, d = a.shape
        out = a.new_empty(width, heads * d)
        self.lib.dp_ungroup(a.data_ptr(), heads, width, d, out.data_ptr())
        return out

def wanted(device: torch.device, dtype: torch.dtype) -> bool:
    return device.type == "cpu" and dtype == torch.float32 and os.environ.get("DRAFTPAD_NATIVE", "1") != "0"


def load_glue() -> Glue | None:
    """The compiled glue, building it first if this machine has not yet; None where it cannot."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not compiler or not SOURCE.exists():
        return None
    source = SOURCE.read_bytes()
    key = hashlib.sha256(b"|".join([source, " ".join(FLAGS).encode(), compiler.encode(),
                                    _cpu_identity().encode()])).hexdigest()[:20]
    library = cache_dir("native") / f"glue-{key}.so"
    if not library.exists() and not _build(compiler, library):
        return None
    try:
        lib = ctypes.CDLL(str(library))
        for name, args in SIGNATURES.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, None
    except (OSError, AttributeError):
        return None
    return Glue(lib)


def _build(compiler: str, library: Path) -> bool:
    tmp = library.with_suffix(f".tmp{os.getpid()}.so")  # then renamed: another process may build too
    try:
        done = subprocess.run([compiler, *FLAGS, str(SOURCE), "-o", str(tmp), "-lm"], capture_output=True,
                              timeout=120)
        if done.returncode != 0:
            return False
        os.replace(tmp, library)
        return True
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _cpu_identity() -> str:
    """What -march=native compiles for: the CPU's model and feature flags (Linux), else its name."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return platform.machine() + line
    except OSError:
        pass
    return platform.machine() + platform.processor()
