"""Our own Llama-family forward: the same logits and the same greedy tokens as transformers (fp32),
an engine-owned KV cache that stays exact through tree acceptance, and HF as the fallback."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

import engine
from engine import llama_forward as lf
from engine.generation import GenerationConfig, generate
from engine.hf_call import cache_keyword, model_call
from engine.sampling import SamplingParams, make_generator
from engine.sequence import HFSequence, OwnSequence, new_sequence, prefill
from engine.speculative import SpeculativeConfig, SpeculativeDecoder
from engine.tree import ancestor_mask
from engine.verify import keep_accepted
from tests.tiny import build_tiny_model, reference_greedy

pytestmark = pytest.mark.usefixtures("one_thread")
FAMILY = ("llama", "qwen2", "mistral")


@pytest.fixture(scope="module")
def family_dirs(tiny_model_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {"llama": tiny_model_dirs["llama"], "qwen2": tiny_model_dirs["qwen2"],
            "mistral": build_tiny_model(tmp_path_factory.mktemp("tiny-mistral"), "mistral", seed=3)}


@pytest.fixture(scope="module")
def pairs(family_dirs) -> dict[str, tuple[engine.LoadedModel, engine.LoadedModel]]:
    """(ours, HF) for each architecture of the family, both on the weights as loaded (fp32)."""
    return {arch: (engine.load_model(str(d), forward="own", dtype="fp32"), engine.load_model(str(d), forward="hf"))
            for arch, d in family_dirs.items()}


def random_prompt(rng: random.Random, vocab: int) -> list[int]:
    ids = [rng.randrange(3, vocab) for _ in range(rng.randrange(4, 60))]
    return ids + ids[: rng.randrange(0, 20)]


@pytest.mark.parametrize("arch", FAMILY)
def test_the_family_runs_on_our_forward_and_others_on_hf(pairs, tiny_model_dirs, arch: str) -> None:
    ours, theirs = pairs[arch]
    assert ours.forward_name == "own" and isinstance(new_sequence(ours), OwnSequence)
    assert theirs.forward_name == "hf" and isinstance(new_sequence(theirs), HFSequence)
    gpt2 = engine.load_model(str(tiny_model_dirs["gpt2"]))
    assert gpt2.forward_name == "hf"
    with pytest.raises(engine.UserError, match="own forward"):
        engine.load_model(str(tiny_model_dirs["gpt2"]), forward="own")


@pytest.mark.parametrize("arch", FAMILY)
def test_prefill_and_tree_logits_equal_transformers(pairs, arch: str) -> None:
    ours, theirs = pairs[arch]
    rng = random.Random(arch)
    for _ in range(4):
        ids = random_prompt(rng, ours.vocab_size)
        mine, logits = prefill(ours, ids, reuse=False)
        with torch.inference_mode():
            full = theirs.model(torch.tensor([ids])).logits[0]
        torch.testing.assert_close(logits, full[-1], rtol=1e-4, atol=1e-4)
        # a random tree after the prompt: each node must see the prompt and its ancestors only
        parents = [-1] + [rng.randrange(0, i) for i in range(1, 12)]
        depth = [0]
        for p in parents[1:]:
            depth.append(depth[p] + 1)
        tokens = [rng.randrange(3, ours.vocab_size) for _ in parents]
        tree_logits = mine.run(tokens, parents, depth)
        for node in range(len(parents)):
            chain = []
            at = node
            while at >= 0:
                chain.append(tokens[at])
                at = parents[at]
            with torch.inference_mode():
                expected = theirs.model(torch.tensor([ids + chain[::-1]])).logits[0, -1]
            torch.testing.assert_close(tree_logits[node], expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("arch", FAMILY)
def test_every_method_on_our_forward_equals_transformers_greedy(pairs, arch: str) -> None:
    ours, theirs = pairs[arch]
    rng = random.Random(f"{arch}-greedy")
    for trial in range(6):
        ids = random_prompt(rng, ours.vocab_size)
        expected = reference_greedy(theirs, ids, 32)
        for method in ("greedy", "recycling", "auto"):
            got = generate(ours, "", GenerationConfig(max_new_tokens=32, method=method), prompt_ids=ids)
            assert got.token_ids == expected, (arch, trial, method)
        # forced wide trees: non-contiguous acceptance committed by one index copy
        decoder = SpeculativeDecoder(ours, SamplingParams(), None, [ours.tokenizer.decode(ids[::-1])],
                                     SpeculativeConfig(fixed_nodes=24, save_table=False))
        decoder.prefill(ids)
        out: list[int] = []
        while len(out) < 32:
            out.extend(decoder.step())
        cut = next((i for i, t in enumerate(out) if t in ours.eos_token_ids), 32)
        assert out[:cut] == expected, (arch, trial)


def assert_methods_equal_hf_greedy(lm: engine.LoadedModel, rng: random.Random, arch: str) -> None:
    """On random prompts: our prefill's logits are transformers', and every method gives its greedy tokens."""
    for trial in range(4):
        ids = random_prompt(rng, lm.vocab_size)
        _seq, logits = prefill(lm, ids, reuse=False)
        with torch.inference_mode():
            torch.testing.assert_close(logits, lm.model(torch.tensor([ids])).logits[0, -1], rtol=1e-4, atol=1e-4)
        expected = reference_greedy(lm, ids, 32)
        for method in ("greedy", "recycling", "auto"):
            got = generate(lm, "", GenerationConfig(max_new_tokens=32, method=method), prompt_ids=ids)
            assert got.token_ids == expected, (arch, trial, method)


@pytest.mark.parametrize("arch", FAMILY)
def test_with_fp16_weights_every_method_equals_greedy_on_the_same_weights(family_dirs, arch: str) -> None:
    """fp16 copies of the weights (fp32 arithmetic): HF's fp32 weights are rounded to the same
    values, so its greedy decoding is the reference, and every method must give its tokens."""
    from engine.dense import fp16_available

    if not fp16_available():
        pytest.skip("no fbgemm on this CPU")
    lm = engine.load_model(str(family_dirs[arch]), dtype="fp16w")
    layer = lm.own_weights.layers[0]
    assert lm.weights == "fp16" and layer.gate_up.fp16 is not None
    assert torch.equal(layer.gate_up.weight, layer.gate_up.weight.half().float())  # HF reads the rounded values
    assert_methods_equal_hf_greedy(lm, random.Random(f"{arch}-fp16"), arch)


@pytest.mark.parametrize("packed, start", [([0.5, 0.5, 0.5], 1), ([1.2, 0.5, 0.5], 3)])
@pytest.mark.parametrize("kind", ["fp32-onednn", "fp32-mkl"])
@pytest.mark.parametrize("arch", FAMILY)
def test_on_packed_kernels_every_method_equals_transformers_greedy(family_dirs, arch: str, kind: str, packed: list[float],
                                                                   start: int, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """fp32 dense layers on oneDNN's or MKL's packed kernel at the widths where it is measured
    faster than F.linear's, everywhere or only for trees: the same arithmetic in another order,
    so transformers' greedy tokens are still the reference."""
    from engine import dense
    from engine.packed_gemm import load_blas

    if not (dense.onednn_available() if kind == "fp32-onednn" else load_blas() is not None):
        pytest.skip(f"no {kind} kernel in this torch build")
    monkeypatch.setenv("DRAFTPAD_CACHE", str(tmp_path))
    monkeypatch.setattr(dense, "time_formats", lambda weights: {"fp32": [1.0, 1.0, 1.0], kind: packed})
    lm = engine.load_model(str(family_dirs[arch]), dtype="fp32")
    layer = lm.own_weights.layers[0].qkv
    assert lm.fp32_kernel == dense.Fp32Kernel(dense.PACKED_KINDS[kind], start)
    assert (layer.onednn if kind == "fp32-onednn" else layer.mkl) is not None
    assert lm.own_weights.lm_head.packed_from == start
    name = "oneDNN" if kind == "fp32-onednn" else "MKL packed"
    assert lm.forward_label.endswith(name if start == 1 else f"{name} from width {start}")
    assert_methods_equal_hf_greedy(lm, random.Random(f"{arch}-{kind}"), arch)


def test_weights_auto_settles_on_what_was_measured_and_remembers_it(family_dirs, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from engine import dense, forward_cost

    fp16 = dense.fp16_available()
    # the matmuls' timings decide here; whole forwards deciding: test_format_choice_weighs_...
    monkeypatch.setattr(forward_cost, "time_sampled_forwards", lambda *args: {})
    cases = {"fp16": {"fp32": [2.0, 2.0, 2.0], "fp16": [1.0, 1.0, 1.0], "bf16": [0.7, 3.0, 8.0]},
             "fp32": {"fp32": [1.0, 1.0, 1.0], "fp16": [1.0, 0.95, 0.9], "bf16": [0.5, 2.0, 4.0]},
             "bf16": {"fp32": [2.0, 2.0, 2.0], "fp16": [1.0, 1.0, 1.0], "bf16": [0.5, 0.5, 0.8]}}
    for expected, timings in cases.items():
        monkeypatch.setenv("DRAFTPAD_CACHE", str(tmp_path / f"cache-{expected}"))
        monkeypatch.setattr(dense, "time_formats", lambda weights, timings=timings: timings)
        lm = engine.load_model(str(family_dirs["llama"]))
        want = "fp32" if expected == "fp16" and not fp16 else expected
        assert lm.weights == want
        assert (lm.own_weights.lm_head.fp16 is not None) == (want == "fp16")
        assert lm.dtype == (torch.bfloat16 if want == "bf16" else torch.float32)
        assert lm.own_weights.embed.dtype == lm.dtype
    # a later session on this machine keeps the measured choice, whatever a busy moment would say
    monkeypatch.setenv("DRAFTPAD_CACHE", str(tmp_path / "cache-fp32"))
    monkeypatch.setattr(dense, "time_formats", lambda weights: cases["bf16"])
    assert engine.load_model(str(family_dirs["llama"])).weights == "fp32"
    assert engine.load_model(str(family_dirs["llama"]), forward="hf").weights == "fp32"


def test_format_choice_weighs_the_widths_and_bf16_needs_a_win_at_every_one() -> None:
    from engine.dense import Fp32Kernel, fp32_kernel, fp32_times, packed_from, pick_format

    def onednn_from(timings: dict[str, list[float]]) -> int | None:
        return packed_from(timings, "fp32-onednn")

    assert pick_format({"fp32": [1.0, 1.0], "fp16": [0.5, 0.95], "bf16": [0.3, 0.3]}) == "bf16"
    assert pick_format({"fp32": [1.0, 1.0], "fp16": [0.5, 0.5], "bf16": [0.3, 4.0]}) == "fp16"  # this CPU's case
    assert pick_format({"fp32": [1.0, 1.0], "bf16": [0.95, 0.5]}) == "fp32"  # no fbgemm, bf16 short of the margin
    assert pick_format({"fp32": [1.0, 1.0], "fp16": [0.5, 0.5], "bf16": [0.48, 0.48]}) == "fp16"
    # fp32's packed kernels: oneDNN from the width where it is no slower at that and every wider
    # one, and 10% faster over them together; fp16 copies must beat fp32 by the faster kernel at
    # each width
    assert onednn_from({"fp32": [1.0, 1.0], "fp32-onednn": [0.4, 0.5]}) == 1
    assert onednn_from({"fp32": [1.0, 1.0], "fp32-onednn": [0.4, 0.95]}) == 1  # a win over the widths together
    assert onednn_from({"fp32": [1.0, 1.0], "fp32-onednn": [0.92, 0.95]}) is None  # too little for the copy's memory
    assert onednn_from({"fp32": [1.0, 1.0], "fp32-onednn": [0.4, 1.05]}) is None  # slower at the widest
    assert onednn_from({"fp32": [1.0, 1.0]}) is None
    assert onednn_from({"fp32": [1.0, 1.0, 1.0], "fp32-onednn": [1.2, 0.5, 0.5]}) == 3  # between widths 1 and 8
    assert onednn_from({"fp32": [1.0, 1.0, 1.0], "fp32-onednn": [0.5, 1.2, 0.5]}) == 17  # between 8 and 32
    assert pick_format({"fp32": [1.0, 1.0], "fp32-onednn": [0.4, 0.4], "fp16": [0.5, 0.5]}) == "fp32"
    assert pick_format({"fp32": [1.0, 1.0], "fp32-onednn": [0.4, 0.4], "fp16": [0.3, 0.3]}) == "fp16"
    assert fp32_times({"fp32": [0.6, 1.0, 2.0], "fp32-onednn": [0.7, 0.8, 1.3]}) == [0.6, 0.8, 1.3]
    # an Intel Xeon's case (AVX-512, AMX): BLAS at width 1, oneDNN for trees; fp16 copies still win
    xeon = {"fp32": [5.85, 10.08, 16.42], "bf16": [6.46, 6.72, 7.16], "fp32-onednn": [6.97, 8.47, 13.26],
            "fp16": [4.04, 7.03, 13.11]}
    assert onednn_from(xeon) == 3 and pick_format(xeon) == "fp16"
    # of two packed kernels, the one with less time over the widths; MKL's packed GEMM on another
    # Xeon: ahead of oneDNN and of F.linear at every width
    assert fp32_kernel(xeon) == Fp32Kernel("onednn", 3)
    xeon2 = {"fp32": [6.04, 10.56, 16.59], "fp32-onednn": [7.48, 9.02, 14.54], "fp32-mkl": [5.30, 7.90, 13.80]}
    assert fp32_kernel(xeon2) == Fp32Kernel("mkl", 1) and fp32_times(xeon2) == xeon2["fp32-mkl"]
    assert fp32_kernel({"fp32": [1.0, 1.0, 1.0], "fp32-onednn": [0.95, 0.95, 0.95]}) is None
    # this CPU's case: fp16 copies far ahead at width 1, level at 32; together they win
    measured = {"fp32": [1.15, 1.42, 2.23], "fp32-onednn": [0.65, 0.80, 1.35], "fp16": [0.29, 0.46, 1.24],
                "bf16": [0.90, 0.77, 1.08]}
    assert pick_format(measured) == "fp16"
    # where whole forwards were timed, they decide fp32 against fp16: on a Xeon the fp16 matmuls
    # win, but fp32's forward (every layer one C call on MKL) beats fp16's run from Python
    xeon3 = {"fp32": [6.58, 12.2, 16.9], "fp32-mkl": [6.36, 9.06, 15.2], "fp16": [4.67, 8.05, 13.9],
             "bf16": [10.7, 9.27, 7.27], "forward-fp32": [4.1, 6.0, 13.0], "forward-fp16": [4.3, 7.4, 15.1]}
    assert pick_format({k: v for k, v in xeon3.items() if not k.startswith("forward")}) == "fp16"
    assert pick_format(xeon3) == "fp32"
    assert pick_format({**xeon3, "forward-fp16": [2.0, 3.0, 6.0]}) == "fp16"


def test_cache_after_tree_acceptance_equals_a_fresh_prefill(pairs) -> None:
    ours, _ = pairs["llama"]
    rng = random.Random(5)
    gathered = False
    for _ in range(4):
        ids = random_prompt(rng, ours.vocab_size)
        decoder = SpeculativeDecoder(ours, SamplingParams(), None, (), SpeculativeConfig(fixed_nodes=30, save_table=False))
        decoder.prefill(ids)
        out = list(decoder.step())
        for _ in range(5):
            out.extend(decoder.step())
            seq = decoder._seq
            assert seq.length == len(ids) + len(out) - 1
            fresh, _ = prefill(ours, ids + out[:-1], reuse=False)
            n = seq.length
            torch.testing.assert_close(seq.cache.data[:, :, :, :n], fresh.cache.data[:, :, :, :n], rtol=1e-4, atol=1e-4)
            gathered |= decoder.accepted[-1] > 2
    assert gathered, "no step accepted a multi-token draft, so the index copy was never exercised"


def test_grouped_attention_equals_repeated_kv() -> None:
    torch.manual_seed(0)
    shape = lf.Shape(layers=1, heads=6, kv_heads=2, head_dim=8, hidden=48, eps=1e-6, max_positions=64)
    width, length = 5, 9
    q = torch.randn(width, shape.heads, shape.head_dim)
    keys, values = torch.randn(2, length, 8), torch.randn(2, length, 8)
    visible = torch.rand(width, length) > 0.3
    visible[:, 0] = True
    got = lf.attend(q, keys, values, visible.repeat(shape.group, 1), shape)
    rep_k = keys.repeat_interleave(shape.group, dim=0)  # what repeat_kv materialises
    rep_v = values.repeat_interleave(shape.group, dim=0)
    scores = torch.einsum("whd,hld->hwl", q, rep_k) / shape.head_dim ** 0.5
    scores = scores.masked_fill(~visible, float("-inf"))
    expected = torch.einsum("hwl,hld->whd", scores.softmax(-1), rep_v).reshape(width, -1)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_tree_visibility_is_built_from_parents() -> None:
    rng = random.Random(1)
    for _ in range(20):
        parents = [-1] + [rng.randrange(0, i) for i in range(1, rng.randrange(2, 40))]
        depth = [0]
        for p in parents[1:]:
            depth.append(depth[p] + 1)
        got = lf.tree_visibility(torch.tensor(parents), max(depth))
        assert np.array_equal(got.numpy(), ancestor_mask(parents))


def test_the_cache_grows_and_commit_moves_accepted_entries() -> None:
    shape = lf.Shape(layers=2, heads=2, kv_heads=1, head_dim=4, hidden=8, eps=1e-6, max_positions=64)
    cache = lf.new_cache(shape, 4, torch.float32, torch.device("cpu"))
    cache.data[:, :, :, :4] = torch.arange(4.0)[None, None, None, :, None]
    cache.length = 4
    lf.reserve(cache, 10, shape.max_positions)
    assert cache.capacity >= 10 and cache.data[0, 0, 0, :4, 0].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="context"):
        lf.reserve(cache, 65, shape.max_positions)
    cache.data[:, :, :, 4:10] = torch.arange(10.0, 16.0)[None, None, None, :, None]  # root at 4, nodes 5..9
    lf.commit_path(cache, 4, torch.tensor([2, 5]))
    assert cache.length == 7
    assert cache.data[1, 1, 0, :7, 0].tolist() == [0, 1, 2, 3, 10, 12, 15]


def test_cache_keyword_follows_the_model_signature() -> None:
    class OldStyle(torch.nn.Module):
        def forward(self, input_ids=None, past_key_values=None, use_cache=False, **kwargs):
            return past_key_values

    class Neither(torch.nn.Module):
        def forward(self, input_ids=None, **kwargs):
            return kwargs

    marker = object()
    assert cache_keyword(OldStyle()) == "past_key_values"
    assert model_call(OldStyle(), marker, input_ids=1) is marker
    with pytest.raises(TypeError, match="neither"):
        cache_keyword(Neither())


def test_a_cache_layer_without_keys_raises(pairs) -> None:
    from transformers import DynamicCache

    _, theirs = pairs["llama"]
    seq = HFSequence(theirs.model, theirs.device, theirs.dtype)
    seq.run([5, 6, 7, 8])
    cache: DynamicCache = seq.cache
    cache.layers[1].keys = None
    with pytest.raises(ValueError, match="layer 1"):
        keep_accepted(cache, 2, [1])


def test_learnt_state_belongs_to_each_loaded_model(pairs) -> None:
    ours, theirs = pairs["llama"]
    ids = list(range(10, 40))
    generate(ours, "", GenerationConfig(max_new_tokens=12, method="auto"), prompt_ids=ids)
    assert ours.state.acceptance and ours.state.table is not None
    assert ours.state is not theirs.state and ours.state.table is not theirs.state.table
    before = ours.state
    with engine.fresh_state(ours) as fresh:
        assert ours.state is fresh and not fresh.persist and fresh.table is None
        generate(ours, "", GenerationConfig(max_new_tokens=12, method="auto"), prompt_ids=ids)
        assert fresh.table.filled_rows() > 0
    assert ours.state is before
    warm = engine.warmed_state(ours, [ours.tokenizer.decode(ids)])
    assert warm.table.filled_rows() > 0 and not warm.persist
    engine.forget_state(ours)
    assert ours.state is not before and not ours.state.acceptance


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_on_cuda_our_forward_and_sampling_run_on_the_device(family_dirs) -> None:
    lm = engine.load_model(str(family_dirs["llama"]), device="cuda", dtype="fp32")
    assert lm.forward_name == "own"
    ids = list(range(10, 50))
    cpu = engine.load_model(str(family_dirs["llama"]), device="cpu")
    expected = generate(cpu, "", GenerationConfig(max_new_tokens=16, method="greedy"), prompt_ids=ids).token_ids
    for method in ("greedy", "auto"):
        got = generate(lm, "", GenerationConfig(max_new_tokens=16, method=method), prompt_ids=ids).token_ids
        assert got == expected
    generator = make_generator(3, lm.device)
    assert generator.device.type == "cuda"
    sampled = generate(lm, "", GenerationConfig(max_new_tokens=8, temperature=0.8, seed=3, method="auto"), prompt_ids=ids)
    assert len(sampled.token_ids) >= 1


@pytest.mark.real_model
def test_real_model_our_forward_equals_transformers_greedy(real_lm) -> None:
    from engine.decode import decode_one, prefill as hf_prefill

    assert real_lm.forward_name == "own"
    messages = [{"role": "user", "content": "Write the Context section of an ADR: we move billing to PostgreSQL."}]
    ids = engine.encode_prompt(real_lm, messages)
    cache, logits = hf_prefill(real_lm.model, ids, real_lm.device)
    expected = []
    for _ in range(48):
        token = int(logits.argmax())
        expected.append(token)
        logits = decode_one(real_lm.model, token, cache, real_lm.device)
    for method in ("greedy", "auto"):
        got = generate(real_lm, "", GenerationConfig(max_new_tokens=48, method=method), prompt_ids=ids).token_ids
        cut = next((i for i, t in enumerate(expected) if t in real_lm.eos_token_ids), len(expected))
        assert got == expected[:cut], method
