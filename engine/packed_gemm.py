"""MKL's packed GEMM for fp32 dense layers, where the torch build carries MKL (its x86 wheels do).

Why: decoding multiplies the same weights by 1 to ~32 rows, over and over. MKL can reorder a
weight once into the layout its kernel reads (`sgemm_pack`) and then multiply any number of rows
by it (`sgemm_compute`); measured on a 2-core Intel Xeon over SmolLM2's layer shapes, that took
0.65–0.8x the time of F.linear (MKL's unpacked GEMM) and of oneDNN's blocked weights from 4 to
16 rows, and the same at 1. torch does not expose it, so the functions are called through ctypes
from the copy of MKL that torch has already loaded; whether they win on this machine is measured
(engine.dense.time_formats), because MKL picks its kernels by CPU vendor.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

import torch

PACK_ROWS = 16  # the row count a weight is packed for; any count may be multiplied by it


@dataclass(frozen=True)
class Blas:
    get_size: ctypes._CFuncPtr
    pack: ctypes._CFuncPtr
    compute: ctypes._CFuncPtr
    sgemm: ctypes._CFuncPtr  # the plain GEMM, for widths below a packed copy's (engine.native_glue.Stack)


def load_blas() -> Blas | None:
    """MKL's packed-GEMM functions (LP64, Fortran calling convention) from torch's CPU library,
    or None where this torch build has no MKL."""
    folder = Path(torch.__file__).parent / "lib"
    for path in sorted(folder.glob("libtorch_cpu.*")):
        try:
            lib = ctypes.CDLL(str(path))  # already loaded by torch: the same handle comes back
            blas = Blas(lib.SGEMM_PACK_GET_SIZE, lib.SGEMM_PACK, lib.SGEMM_COMPUTE, lib.SGEMM)
        except (OSError, AttributeError):
            continue
        blas.get_size.restype = ctypes.c_size_t
        return blas
    return None


_ONE, _ZERO = ctypes.c_float(1.0), ctypes.c_float(0.0)


@dataclass(frozen=True)
class PackedWeight:
    """An fp32 weight [out, in] in MKL's packed layout, and what computing with it needs."""

    blas: Blas
    buffer: torch.Tensor  # bytes, owned here
    out_features: ctypes.c_int
    in_features: ctypes.c_int

    def linear(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """x [rows, in] @ weight.T (+ bias): F.linear's arithmetic, summed in MKL's packed order."""
        x = x.contiguous()
        y = x.new_empty(x.shape[0], self.out_features.value)
        m, k = ctypes.byref(self.out_features), ctypes.byref(self.in_features)
        # column-major: y.T [out, rows] = weight [out, in] @ x.T [in, rows], the weight given packed
        self.blas.compute(b"P", b"N", m, ctypes.byref(ctypes.c_int(x.shape[0])), k,
                          ctypes.c_void_p(self.buffer.data_ptr()), k, ctypes.c_void_p(x.data_ptr()), k,
                          ctypes.byref(_ZERO), ctypes.c_void_p(y.data_ptr()), m)
        return y if bias is None else y.add_(bias)


def pack(blas: Blas, weight: torch.Tensor) -> PackedWeight:
    """Pack an fp32 CPU weight [out, in] (row-major, i.e. column-major [in, out], used transposed)."""
    weight = weight.detach().contiguous()
    m, k, rows = ctypes.c_int(weight.shape[0]), ctypes.c_int(weight.shape[1]), ctypes.c_int(PACK_ROWS)
    size = blas.get_size(b"A", ctypes.byref(m), ctypes.byref(rows), ctypes.byref(k))
    buffer = torch.empty(int(size), dtype=torch.uint8)
    blas.pack(b"A", b"T", ctypes.byref(m), ctypes.byref(rows), ctypes.byref(k), ctypes.byref(_ONE),
              ctypes.c_void_p(weight.data_ptr()), ctypes.byref(k), ctypes.c_void_p(buffer.data_ptr()))
    return PackedWeight(blas, buffer, m, k)
