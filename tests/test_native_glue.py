"""The C glue between the CPU forward's matmuls: each function against PyTorch's formula, the whole
forward with it against the forward without it, and the fallback where it cannot be built."""

from __future__ import annotations

import dataclasses
import random
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import engine
from engine import llama_forward as lf
from engine.native_glue import Glue, load_glue
from engine.sequence import prefill
from tests.tiny import reference_greedy

HAS_COMPILER = any(shutil.which(name) for name in ("cc", "gcc", "clang"))
needs_compiler = pytest.mark.skipif(not HAS_COMPILER, reason="no C compiler on this machine")


@pytest.fixture(scope="module")
def glue() -> Glue:
    built = load_glue() if HAS_COMPILER else None
    if built is None:
        pytest.skip("no C compiler on this machine")
    return built


@needs_compiler
def test_the_glue_builds_where_a_compiler_is_and_fp32_cpu_forwards_use_it(tiny_model_dir: Path) -> None:
    assert load_glue() is not None
    assert engine.load_model(str(tiny_model_dir), dtype="fp32").own_weights.glue is not None


@pytest.mark.parametrize("n", [576, 64, 37])  # a multiple of the C code's 16 lanes, and not
def test_norms_and_residual_add_match_pytorch(glue: Glue, n: int) -> None:
    gen = torch.Generator().manual_seed(n)
    x, w, delta = (torch.randn(5, n, generator=gen) * 3, torch.randn(n, generator=gen),
                   torch.randn(5, n, generator=gen))
    torch.testing.assert_close(glue.rms_norm(x, w, 1e-5), lf.rms_norm(x, w, 1e-5), rtol=1e-6, atol=1e-6)
    summed = x + delta
    got = glue.add_rms_norm(x, delta, w, 1e-6)
    torch.testing.assert_close(x, summed, rtol=0, atol=0)  # the residual stream is updated in place
    torch.testing.assert_close(got, lf.rms_norm(summed, w, 1e-6), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(glue.add_(x, delta), summed + delta, rtol=0, atol=0)


def test_silu_mul_matches_pytorch_from_tiny_to_huge_inputs(glue: Glue) -> None:
    gate = torch.cat([torch.linspace(-120, 120, 4001), torch.tensor([0.0, -1e-30, 1e-30, float("inf")])])
    up = torch.randn(gate.shape[0], generator=torch.Generator().manual_seed(1))
    got = glue.silu_mul(torch.cat([gate, up])[None])[0]
    expected = (F.silu(gate.double()) * up.double()).float()
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-30)


def test_rope_and_cache_write_match_pytorch(glue: Glue) -> None:
    width, heads, kv_heads, d, capacity, start = 3, 6, 2, 16, 10, 4
    gen = torch.Generator().manual_seed(2)
    qkv = torch.randn(width, heads + 2 * kv_heads, d, generator=gen)
    cos, sin = torch.randn(width, 1, d, generator=gen), torch.randn(width, 1, d, generator=gen)
    kv = torch.zeros(2, kv_heads, capacity, d)
    qk = qkv[:, :heads + kv_heads]
    rotated = qk * cos + qk.roll(d // 2, dims=-1) * sin  # layer_forward's formula (sin pre-signed)
    values = qkv[:, heads + kv_heads:].clone()
    q = glue.rope_store(qkv, cos, sin, kv, heads, kv_heads, start)
    torch.testing.assert_close(q, rotated[:, :heads].transpose(0, 1), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(kv[0, :, start:start + width], rotated[:, heads:].transpose(0, 1), rtol=1e-6, atol=1e-6)
    assert torch.equal(kv[1, :, start:start + width], values.transpose(0, 1))
    assert not kv[:, :, :start].any() and not kv[:, :, start + width:].any()  # nothing else written
    assert torch.equal(glue.ungroup(q), q.transpose(0, 1).reshape(width, heads * d))


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_forward_with_glue_equals_the_forward_without(glue: Glue, tiny_model_dirs, arch: str) -> None:
    lm = engine.load_model(str(tiny_model_dirs[arch]), forward="own", dtype="fp32")
    assert lm.own_weights.glue is not None
    plain = dataclasses.replace(lm.own_weights, glue=None)
    rng = random.Random(arch)
    for _ in range(3):
        ids = [rng.randrange(3, lm.vocab_size) for _ in range(rng.randrange(5, 40))]
        runs = []
        for weights in (lm.own_weights, plain):
            lm._own = weights
            seq, last = prefill(lm, ids, reuse=False)
            tree = seq.run([5, 6, 7, 8, 9], [-1, 0, 0, 1, 1], [0, 1, 1, 2, 2])
            runs.append((last, tree, engine.generate(lm, "", engine.GenerationConfig(max_new_tokens=16, method="auto"),
                                                     prompt_ids=ids).token_ids))
        (a_last, a_tree, a_tokens), (b_last, b_tree, b_tokens) = runs
        torch.testing.assert_close(a_last, b_last, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(a_tree, b_tree, rtol=1e-5, atol=1e-5)
        assert a_tokens == b_tokens == reference_greedy(lm, ids, 16)


def test_without_a_working_compiler_the_forward_runs_on_pytorch(tiny_model_dir: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAFTPAD_CACHE", str(tmp_path / "fresh-cache"))  # nothing built yet
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    assert load_glue() is None
    lm = engine.load_model(str(tiny_model_dir), dtype="fp32")
    assert lm.forward_name == "own" and lm.own_weights.glue is None
    assert engine.generate(lm, "hello", engine.GenerationConfig(max_new_tokens=4)).token_ids


def test_draftpad_native_0_turns_the_glue_off(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAFTPAD_NATIVE", "0")
    assert engine.load_model(str(tiny_model_dir), dtype="fp32").own_weights.glue is None
