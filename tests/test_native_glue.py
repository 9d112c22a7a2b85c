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
from tests.tiny import build_tiny_model, reference_greedy

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


@pytest.mark.parametrize("d,kv_heads,group", [(64, 3, 3), (128, 2, 4), (48, 1, 1), (16, 2, 2)])
@pytest.mark.parametrize("width,start", [(1, 0), (1, 299), (3, 14), (16, 300), (21, 5)])
def test_attention_matches_sdpa_with_tree_and_window_masks(glue: Glue, d: int, kv_heads: int, group: int,
                                                            width: int, start: int) -> None:
    gen = torch.Generator().manual_seed(d * 1000 + width * 10 + start)
    heads, end, capacity = kv_heads * group, start + width, start + width + 7
    q = torch.randn(kv_heads, group * width, d, generator=gen) * 2
    kv = torch.randn(2, kv_heads, capacity, d, generator=gen)
    kv[:, :, end:] = float("nan")  # past the length: must never be read
    parents = torch.tensor([-1] + [torch.randint(0, i, (1,), generator=gen).item() for i in range(1, width)])
    inside = lf.tree_visibility(parents, width)
    positions = start + torch.arange(width)
    for window in (None, 4):
        visible = lf.full_mask(inside, start, positions, window).repeat(group, 1)
        mask = torch.zeros(visible.shape).masked_fill_(~visible, float("-inf"))
        expected = F.scaled_dot_product_attention(q[None], kv[None, 0, :, :end], kv[None, 1, :, :end], attn_mask=mask)
        expected = expected[0].view(heads, width, d).transpose(0, 1).reshape(width, heads * d)
        mask_from = 0 if window is not None else start
        got = glue.attend(q, kv, end, mask[:, mask_from:], mask_from, heads)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    if width == 1:  # one new token that sees everything: no mask at all
        expected = F.scaled_dot_product_attention(q[None], kv[None, 0, :, :end], kv[None, 1, :, :end])
        got = glue.attend(q, kv, end, None, end, heads)
        torch.testing.assert_close(got, expected[0].view(heads, 1, d).transpose(0, 1).reshape(1, heads * d),
                                   rtol=1e-5, atol=1e-5)


def test_attention_takes_the_head_sizes_its_registers_hold() -> None:
    assert [d for d in (8, 16, 40, 64, 80, 96, 128, 256) if Glue.attends(d)] == [16, 64, 80, 96, 128]


# beyond the shared tiny models: a sliding window (C attention over a full mask) and a head size
# C attention does not take (SDPA between the C steps)
VARIANTS = {"mistral-window": ("mistral", {"sliding_window": 6}), "llama-head-8": ("llama", {"hidden_size": 32})}


@pytest.fixture(scope="module")
def variant_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: build_tiny_model(tmp_path_factory.mktemp(name), arch, seed=5, **config)
            for name, (arch, config) in VARIANTS.items()}


def assert_same_decoding(lm, other, seed: str, step: bool = False) -> None:
    """lm's forward and `other` (another build of its weights) give the same logits (prefill, an
    optional one-token step, a tree) within fp32 rounding, and transformers' greedy tokens, on 3 prompts."""
    ours = lm.own_weights
    rng = random.Random(seed)
    for _ in range(3):
        ids = [rng.randrange(3, lm.vocab_size) for _ in range(rng.randrange(5, 40))]
        runs = []
        for weights in (ours, other):
            lm._own = weights
            seq, last = prefill(lm, ids, reuse=False)
            logits = [last] + ([seq.run([7])] if step else [])
            logits.append(seq.run([5, 6, 7, 8, 9], [-1, 0, 0, 1, 1], [0, 1, 1, 2, 2]))
            tokens = engine.generate(lm, "", engine.GenerationConfig(max_new_tokens=16, method="auto"),
                                     prompt_ids=ids).token_ids
            runs.append((logits, tokens))
        (a_logits, a_tokens), (b_logits, b_tokens) = runs
        for a, b in zip(a_logits, b_logits):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
        assert a_tokens == b_tokens == reference_greedy(lm, ids, 16)


@pytest.mark.parametrize("arch", ["llama", "qwen2", *VARIANTS])
def test_forward_with_glue_equals_the_forward_without(glue: Glue, tiny_model_dirs, variant_dirs, arch: str) -> None:
    lm = engine.load_model(str({**tiny_model_dirs, **variant_dirs}[arch]), forward="own", dtype="fp32")
    assert lm.own_weights.glue is not None
    assert_same_decoding(lm, dataclasses.replace(lm.own_weights, glue=None), arch)


@pytest.mark.parametrize("mkl", [[1.2, 0.5, 0.5], [1.0, 1.0, 1.0]])
@pytest.mark.parametrize("arch", ["llama", "qwen2", *VARIANTS])
def test_the_c_stack_of_layers_equals_the_layers_run_from_python(glue: Glue, tiny_model_dirs, variant_dirs, arch: str,
                                                                mkl: list[float], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Where MKL runs the fp32 dense layers (its packed copies measured faster from width 3, so
    both of the stack's GEMMs run; or F.linear, MKL's plain GEMM, alone), every layer runs in one
    C call: the same steps and kernels as native_layer_forward's."""
    from engine import dense
    from engine.packed_gemm import load_blas

    if load_blas() is None:
        pytest.skip("no MKL in this torch build")
    monkeypatch.setenv("DRAFTPAD_CACHE", str(tmp_path))
    monkeypatch.setattr(dense, "time_formats", lambda weights: {"fp32": [1.0, 1.0, 1.0], "fp32-mkl": mkl})
    lm = engine.load_model(str({**tiny_model_dirs, **variant_dirs}[arch]), forward="own", dtype="fp32")
    if arch == "llama-head-8":  # C attention does not take this head size: the layers run from Python
        assert lm.own_weights.stack is None
        return
    assert lm.own_weights.stack is not None and lm.forward_label.startswith("own, C layers on MKL")
    assert (lm.own_weights.layers[0].qkv.mkl is not None) == (mkl[1] < 1.0)
    # a width-1 step too: the plain GEMM, below the packed copies' width
    assert_same_decoding(lm, dataclasses.replace(lm.own_weights, stack=None), arch, step=True)


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
