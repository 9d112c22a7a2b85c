"""The CPU forward's work between its matmuls (norms, residual adds, RoPE and the K/V write,
attention, SiLU·up) as a few C functions, compiled here from glue.c at first use; and, where MKL
runs the dense layers, every decoder layer as one C call (Stack) that calls MKL itself.

Why C: measured on a 2-core CPU, an RMSNorm of 16 rows through PyTorch's ops costs 12 µs alone
but 40–100 µs right after a GEMM, because their dispatch path then runs cold; the same norm as one
C function costs 3–5 µs after the GEMM, called from Python, and under 1 µs called from C. A layer
has four such spots, and at decoding widths they were a fifth of the forward.

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
from typing import TYPE_CHECKING

import torch

from engine.paths import cache_dir

if TYPE_CHECKING:
    from engine.dense import Dense
    from engine.llama_forward import Layer, Shape
    from engine.packed_gemm import Blas

SOURCE = Path(__file__).with_name("glue.c")
# -march=native: the library is built on, and for, the machine that runs it; no -ffast-math, so
# inf and NaN behave as in PyTorch. -fopenmp: attention splits its blocks over the threads of the
# OpenMP runtime torch has already loaded (the library asks for the same libgomp.so.1, so the
# dynamic loader hands it torch's copy and one thread pool serves both).
FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-fopenmp", "-shared", "-fPIC")

_P, _I, _F = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
SIGNATURES = {
    "dp_rms_norm": (_P, _P, _F, _I, _I, _P),
    "dp_add_rms_norm": (_P, _P, _P, _F, _I, _I, _P),
    "dp_silu_mul": (_P, _I, _I, _I, _P),
    "dp_rope_store": (_P, _P, _P, _I, _I, _I, _I, _P, _P, _I, _I),
    "dp_ungroup": (_P, _I, _I, _I, _P),
    "dp_attend": (_P, _P, _I, _I, _I, _I, _I, _I, _P, _I, _I, _F, _I, _P),
    "dp_rope_attend": (_P, _P, _P, _I, _I, _I, _I, _P, _I, _I, _P, _I, _I, _F, _I, _P, _P),
    "dp_forward": (_P, _P, _P, _I, _P, _P, _P, _I, _I, _P, _I, _P, _I, _I, _P),
}


@dataclass(frozen=True)
class Glue:
    """The compiled functions. Every tensor passed must be fp32, contiguous and on the CPU (the
    caller, engine.llama_forward, only uses Glue for such a forward)."""

    lib: ctypes.CDLL

    # `out`, where a method takes it: a buffer to write the result into (else a new tensor). The
    # forward passes buffers it allocated once, because the first allocation after a GEMM is slow.

    def rms_norm(self, x: torch.Tensor, weight: torch.Tensor, eps: float, out: torch.Tensor | None = None) -> torch.Tensor:
        out = torch.empty_like(x) if out is None else out
        self.lib.dp_rms_norm(x.data_ptr(), weight.data_ptr(), eps, x.shape[0], x.shape[1], out.data_ptr())
        return out

    def add_rms_norm(self, x: torch.Tensor, delta: torch.Tensor, weight: torch.Tensor, eps: float,
                     out: torch.Tensor | None = None) -> torch.Tensor:
        """x += delta in place; returns RMSNorm(x) * weight."""
        out = torch.empty_like(x) if out is None else out
        self.lib.dp_add_rms_norm(x.data_ptr(), delta.data_ptr(), weight.data_ptr(), eps, x.shape[0], x.shape[1],
                                 out.data_ptr())
        return out

    def silu_mul(self, gate_up: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        rows, half = gate_up.shape[0], gate_up.shape[1] // 2
        out = gate_up.new_empty(rows, half) if out is None else out
        self.lib.dp_silu_mul(gate_up.data_ptr(), rows, half, torch.get_num_threads(), out.data_ptr())
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

    @staticmethod
    def attends(head_dim: int) -> bool:
        """Whether attend runs this head size (its blocks hold a row in at most 8 registers of 16)."""
        return head_dim % 16 == 0 and 16 <= head_dim <= 128

    def attend(self, q: torch.Tensor, kv: torch.Tensor, length: int, mask: torch.Tensor | None,
               mask_from: int, heads: int) -> torch.Tensor:
        """q [kv_heads, group * w, d] (as rope_store returns it) against keys and values 0..length
        of `kv` [2, kv_heads, capacity, d]; `mask` [group * w, length - mask_from] is added to the
        scores of keys mask_from.. (None: every key visible). Returns [w, heads * d]."""
        kv_heads, rows, d = q.shape
        group = heads // kv_heads
        width = rows // group
        out = q.new_empty(width, heads * d)
        stride = 0 if mask is None else mask.stride(0)
        self.lib.dp_attend(q.data_ptr(), kv.data_ptr(), kv_heads, group, width, d, kv.shape[2], length,
                           None if mask is None else mask.data_ptr(), stride, mask_from, d ** -0.5,
                           torch.get_num_threads(), out.data_ptr())
        return out

    def rope_attend(self, qkv: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, kv: torch.Tensor, heads: int,
                    start: int, mask: torch.Tensor | None, mask_from: int, q: torch.Tensor,
                    out: torch.Tensor) -> torch.Tensor:
        """rope_store into scratch q [heads, w, d], then attend into out [w, heads * d]: one call."""
        width, d = qkv.shape[0], qkv.shape[2]
        kv_heads = kv.shape[1]
        self.lib.dp_rope_attend(qkv.data_ptr(), cos.data_ptr(), sin.data_ptr(), width, heads, kv_heads, d,
                                kv.data_ptr(), kv.shape[2], start, None if mask is None else mask.data_ptr(),
                                0 if mask is None else mask.stride(0), mask_from, d ** -0.5,
                                torch.get_num_threads(), q.data_ptr(), out.data_ptr())
        return out


class _Dense(ctypes.Structure):
    _fields_ = [("weight", _P), ("packed", _P), ("bias", _P), ("out", _I), ("in_", _I)]


class _Layer(ctypes.Structure):
    _fields_ = [("attn_norm", _P), ("mlp_norm", _P), ("qkv", _Dense), ("proj", _Dense), ("gate_up", _Dense),
                ("down", _Dense), ("windowed", _I)]


class _Model(ctypes.Structure):
    _fields_ = [("layers", _I), ("heads", _I), ("kv_heads", _I), ("d", _I), ("hidden", _I), ("inter", _I),
                ("packed_from", _I), ("eps", ctypes.c_double), ("sgemm", _P), ("compute", _P),
                ("layer", ctypes.POINTER(_Layer)), ("final_norm", _P)]


@dataclass(frozen=True)
class Stack:
    """Every decoder layer as one C call (dp_forward), its dense layers on MKL: its packed copies
    (engine.packed_gemm) from their width up, its plain GEMM (what F.linear runs) below.
    Holds the C description of the model; the tensors it points into belong to the Weights that
    built it, which keep them alive and unmoved."""

    glue: Glue
    model: _Model
    layers: ctypes.Array
    shape: "Shape"

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: torch.Tensor, start: int,
                mask: tuple[torch.Tensor | None, int], window_mask: torch.Tensor | None) -> torch.Tensor:
        """Every layer on x [w, hidden] (updated in place) over `cache` [layers, 2, kv_heads,
        capacity, d] from `start`; `mask` is (the mask of keys from.., from) for layers without a
        window, `window_mask` the whole mask for those with one. Returns the final-normed hidden
        states [w, hidden]."""
        shape, width = self.shape, x.shape[0]
        h = torch.empty_like(x)
        rows = 3 * shape.q_size + 2 * shape.kv_size + shape.hidden + 3 * self.model.inter
        scratch = x.new_empty(width * rows)
        plain, plain_from = mask
        self.glue.lib.dp_forward(ctypes.byref(self.model), x.data_ptr(), h.data_ptr(), width, cos.data_ptr(),
                                 sin.data_ptr(), cache.data_ptr(), cache.shape[3], start,
                                 None if plain is None else plain.data_ptr(), plain_from,
                                 None if window_mask is None else window_mask.data_ptr(), start + width,
                                 torch.get_num_threads(), scratch.data_ptr())
        return h


def _dense(dense: "Dense") -> _Dense:
    packed = dense.mkl.buffer.data_ptr() if dense.mkl is not None else None
    bias = dense.bias.data_ptr() if dense.bias is not None else None
    return _Dense(dense.weight.data_ptr(), packed, bias, dense.weight.shape[0], dense.weight.shape[1])


def build_stack(glue: Glue, blas: "Blas", layers: "tuple[Layer, ...]", final_norm: torch.Tensor,
                shape: "Shape") -> Stack | None:
    """The C stack over these layers, or None where it cannot run them: a head size C attention
    does not take, more than one window size, dense layers on a kernel other than MKL's (fp16
    copies, oneDNN), or tensors that are not contiguous fp32 rows."""
    windows = {layer.window for layer in layers} - {None}
    denses = [d for layer in layers for d in (layer.qkv, layer.out, layer.gate_up, layer.down)]
    if not glue.attends(shape.head_dim) or len(windows) > 1 or \
            any(d.fp16 is not None or d.onednn is not None for d in denses):
        return None
    tensors = [t for d in denses for t in (d.weight, d.bias) if t is not None]
    tensors += [final_norm] + [t for layer in layers for t in (layer.attn_norm, layer.mlp_norm)]
    if any(not t.is_contiguous() or t.dtype != torch.float32 for t in tensors):
        return None
    array = (_Layer * len(layers))(*[
        _Layer(layer.attn_norm.data_ptr(), layer.mlp_norm.data_ptr(), _dense(layer.qkv), _dense(layer.out),
               _dense(layer.gate_up), _dense(layer.down), int(layer.window is not None)) for layer in layers])
    model = _Model(len(layers), shape.heads, shape.kv_heads, shape.head_dim, shape.hidden,
                   layers[0].down.weight.shape[1], denses[0].packed_from, shape.eps,
                   ctypes.cast(blas.sgemm, _P).value, ctypes.cast(blas.compute, _P).value, array, final_norm.data_ptr())
    return Stack(glue, model, array, shape)


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
        # without OpenMP (a clang with no libomp, say) the pragmas are ignored: attention runs on one thread
        for flags in (FLAGS, tuple(f for f in FLAGS if f != "-fopenmp")):
            done = subprocess.run([compiler, *flags, str(SOURCE), "-o", str(tmp), "-lm"], capture_output=True,
                                  timeout=120)
            if done.returncode == 0:
                os.replace(tmp, library)
                return True
        return False
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
