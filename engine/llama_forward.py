"""Our own forward for the Llama family (Llama, SmolLM2, Qwen2/2.5, Mistral), gpt-fast style.

Pure functions over weights taken from the loaded HF model, read top to bottom: embed, then per
layer RMSNorm -> fused QKV -> RoPE -> write K/V into the preallocated cache in place -> grouped
attention -> output projection -> RMSNorm -> fused gate/up -> SiLU -> down, then the final norm and
the LM head. What it avoids, and why it exists: HF's per-layer Python and kwargs plumbing, a
`DynamicCache` that concatenates the whole cache every step, and `repeat_kv`, which copies K/V
once per query head whenever a 4D (tree) mask is passed.

Grouped-query attention without repeating K/V: the query heads that share a KV head are folded
into the query-length axis, so one SDPA call per layer attends [n_kv, group * width, head_dim]
queries to [n_kv, length, head_dim] keys; the mask is tiled `group` times instead of the cache.

The fused weights are built once; HF's q/k/v and gate/up Linear layers are pointed at views of
them, so the fallback path and ours share one copy of every weight. Where fp16 storage is faster
(engine.dense), each dense layer also has an fp16 copy, and the fp32 weights hold the same values.
On a CPU in fp32, native_layer_forward runs the same steps with those between the matmuls in C
(engine.native_glue), attention included; where MKL runs the dense layers, the whole stack of
layers is one C call (native_glue.Stack) doing the same steps in the same order; layer_forward is
the PyTorch form, used everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.dense import Dense, Fp32Kernel, apply_dense, pack_dense, round_to_fp16
from engine.native_glue import Glue, Stack, build_stack, load_glue, wanted
from engine.packed_gemm import load_blas

SUPPORTED = ("llama", "qwen2", "mistral")
STATIC_ROPE = ("default", "linear", "llama3")  # cos/sin depend on the position only


@dataclass(frozen=True)
class Shape:
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    hidden: int
    eps: float
    max_positions: int

    @property
    def group(self) -> int:
        return self.heads // self.kv_heads

    @property
    def q_size(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_size(self) -> int:
        return self.kv_heads * self.head_dim


@dataclass(frozen=True)
class Layer:
    attn_norm: torch.Tensor
    qkv: Dense  # [q + 2 kv, hidden]
    out: Dense
    mlp_norm: torch.Tensor
    gate_up: Dense  # [2 intermediate, hidden]
    down: Dense
    window: int | None  # sliding-window attention span, None = full


@dataclass(frozen=True)
class Weights:
    shape: Shape
    embed: torch.Tensor
    layers: tuple[Layer, ...]
    norm: torch.Tensor
    lm_head: Dense
    cos: torch.Tensor  # [max_positions, head_dim], HF's own rotary values
    sin: torch.Tensor  # with its first half negated: rotate-half becomes one roll (layer_forward)
    glue: Glue | None = None  # C for the work between the matmuls (engine.native_glue), where it builds
    stack: Stack | None = None  # every layer as one C call, where the dense layers run on MKL (native_glue)


def unsupported_reason(model: torch.nn.Module) -> str | None:
    """Why our forward cannot run this model (None = it can)."""
    config = getattr(model, "config", None)
    kind = getattr(config, "model_type", None)
    if kind not in SUPPORTED:
        return f"architecture {kind!r} is not in the Llama family"
    if getattr(config, "hidden_act", "silu") != "silu":
        return f"activation {config.hidden_act!r}"
    if getattr(config, "mlp_bias", False):
        return "MLP biases"
    rope = (getattr(config, "rope_parameters", None) or {}).get("rope_type", "default")
    if rope not in STATIC_ROPE:
        return f"rope type {rope!r} changes with the sequence length"
    inner = getattr(model, "model", None)
    if inner is None or not hasattr(inner, "layers") or not hasattr(inner, "rotary_emb"):
        return "unexpected module layout"
    return None


def _window(config, index: int) -> int | None:
    kind = config.model_type
    window = getattr(config, "sliding_window", None)
    if not window:
        return None
    if kind == "mistral":
        return int(window)
    types = getattr(config, "layer_types", None)
    return int(window) if types and types[index] == "sliding_attention" else None


@torch.no_grad()
def extract(model: torch.nn.Module, fp16: bool = False, kernel: Fp32Kernel | None = None,
            sample: int | None = None) -> Weights:
    """Fused views of an HF Llama-family model's weights (the HF modules are re-pointed at them).
    With fp16, the dense layers also get fp16 copies (engine.dense), and the HF weights are rounded
    to the same values so both forwards read one model; else with `kernel`, fp32 dense layers run
    inputs from its width up on its packed copies (oneDNN's or MKL's).

    With `sample`, a stand-in for timing the format: the first `sample` layers on copies (the
    model is left as it is) and the LM head."""
    # MKL's functions, for its packed copies and for the C stack of layers: with fp32 weights that
    # are not on oneDNN (F.linear is MKL's GEMM where torch has MKL)
    blas = load_blas() if not fp16 and (kernel is None or kernel.kind == "mkl") else None
    if fp16 and sample is None:
        round_weights(model)
    config, inner = model.config, model.model
    blocks = inner.layers if sample is None else inner.layers[:sample]
    head_dim = int(inner.layers[0].self_attn.head_dim)
    shape = Shape(len(blocks), int(config.num_attention_heads), int(config.num_key_value_heads), head_dim,
                  int(config.hidden_size), float(inner.norm.variance_epsilon), int(config.max_position_embeddings))
    layers = []
    for index, block in enumerate(blocks):
        attn, mlp = block.self_attn, block.mlp
        qkv = _fuse(attn.q_proj, attn.k_proj, attn.v_proj, repoint=sample is None)
        bias = None
        if attn.q_proj.bias is not None:
            bias = torch.cat([attn.q_proj.bias, attn.k_proj.bias, attn.v_proj.bias])
        gate_up = _fuse(mlp.gate_proj, mlp.up_proj, repoint=sample is None)
        dense = [(qkv, bias), (attn.o_proj.weight, attn.o_proj.bias), (gate_up, None), (mlp.down_proj.weight, None)]
        packed = [pack_dense(weight, b, fp16, kernel, blas) for weight, b in dense]
        layers.append(Layer(block.input_layernorm.weight, packed[0], packed[1], block.post_attention_layernorm.weight,
                            packed[2], packed[3], _window(config, index)))
    embed = inner.embed_tokens.weight
    positions = torch.arange(shape.max_positions, device=embed.device)[None]
    cos, sin = inner.rotary_emb(embed[:1], positions)
    sin = sin[0].clone()
    sin[:, :head_dim // 2].neg_()  # negation is exact, so this is bit-identical to HF's rotate_half
    glue = load_glue() if wanted(embed.device, embed.dtype) else None
    stack = build_stack(glue, blas, tuple(layers), inner.norm.weight, shape) if glue and blas else None
    return Weights(shape, embed, tuple(layers), inner.norm.weight, pack_dense(model.lm_head.weight, None, fp16, kernel, blas),
                   cos[0], sin, glue, stack)


def dense_weights(model: torch.nn.Module) -> list[torch.Tensor]:
    """Every weight our forward runs as a dense layer: the projections, the MLP, the LM head (often
    tied to the embeddings, which then follow it)."""
    out = []
    for block in model.model.layers:
        attn, mlp = block.self_attn, block.mlp
        out += [attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight, attn.o_proj.weight,
                mlp.gate_proj.weight, mlp.up_proj.weight, mlp.down_proj.weight]
    return out + [model.lm_head.weight]


def round_weights(model: torch.nn.Module) -> None:
    """Give the dense weights their fp16 values in place, so transformers' forward and ours (with
    or without fp16 copies) read one model; rounding is idempotent."""
    for weight in dense_weights(model):
        round_to_fp16(weight)


def _fuse(*linears: torch.nn.Linear, repoint: bool = True) -> torch.Tensor:
    """One weight matrix for several Linear layers reading the same input; with `repoint`, each
    layer's weight becomes a view of it, so memory is not doubled and HF's forward still works."""
    fused = torch.cat([lin.weight for lin in linears]).contiguous()
    if not repoint:
        return fused
    start = 0
    for lin in linears:
        rows = lin.weight.shape[0]
        lin.weight = torch.nn.Parameter(fused[start:start + rows], requires_grad=False)
        start += rows
    return fused


# ---- the KV cache we own ------------------------------------------------------------------------

@dataclass
class KVCache:
    """K and V of every layer in one preallocated tensor [layers, 2, kv_heads, capacity, head_dim].
    Entries [0, length) are the sequence; a forward writes its new entries after them in place."""

    data: torch.Tensor
    length: int = 0

    @property
    def capacity(self) -> int:
        return int(self.data.shape[3])


def new_cache(shape: Shape, capacity: int, dtype: torch.dtype, device: torch.device) -> KVCache:
    # not zeroed: entries past `length` are never read (each forward writes its own before attending)
    data = torch.empty(shape.layers, 2, shape.kv_heads, capacity, shape.head_dim, dtype=dtype, device=device)
    return KVCache(data)


def reserve(cache: KVCache, needed: int, limit: int) -> None:
    """Grow the buffer (doubling, capped at the model's context) so `needed` entries fit."""
    if needed <= cache.capacity:
        return
    if needed > limit:
        raise ValueError(f"sequence of {needed} tokens exceeds the model's context of {limit}")
    size = min(max(needed, 2 * cache.capacity), limit)
    grown = cache.data.new_empty(*cache.data.shape[:3], size, cache.data.shape[4])
    grown[:, :, :, :cache.length] = cache.data[:, :, :, :cache.length]
    cache.data = grown


def commit_path(cache: KVCache, start: int, path: torch.Tensor) -> None:
    """After a tree forward written at start.. (root at `start`), keep the root and the accepted
    nodes `path` (tree indices, in order): one index copy for all layers, then a length update."""
    count = int(path.numel())
    if count:
        src = path + start
        cache.data[:, :, :, start + 1:start + 1 + count] = cache.data.index_select(3, src)
    cache.length = start + 1 + count


# ---- masks and positions, built on the device ---------------------------------------------------

def tree_visibility(parents: torch.Tensor, max_depth: int) -> torch.Tensor:
    """[w, w] bool: node i sees node j when j is i or one of its ancestors (parents[0] = -1)."""
    width = parents.shape[0]
    up = parents.clamp(min=0)  # the root is its own parent, so walking up stops there
    cur = torch.arange(width, device=parents.device)
    hops = [cur]
    for _ in range(max_depth):
        cur = up[cur]
        hops.append(cur)
    seen = torch.zeros(width, width, dtype=torch.bool, device=parents.device)
    return seen.scatter_(1, torch.stack(hops, dim=1), True)


def chain_visibility(width: int, device: torch.device) -> torch.Tensor:
    return torch.ones(width, width, dtype=torch.bool, device=device).tril_()


def full_mask(inside: torch.Tensor, start: int, positions: torch.Tensor, window: int | None) -> torch.Tensor:
    """[w, start + w] bool: the whole prefix plus `inside`, or with a window only the keys among
    them less than `window` positions back (a long prefill's own entries included)."""
    width = inside.shape[0]
    prefix = torch.ones(width, start, dtype=torch.bool, device=inside.device)
    if window is not None:
        keys = torch.arange(start, device=inside.device)
        prefix = keys[None, :] > positions[:, None] - window
        inside = inside & (positions[None, :] > positions[:, None] - window)
    return torch.cat([prefix, inside], dim=1)


# ---- the forward ---------------------------------------------------------------------------------

def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    if x.dtype == torch.float32:
        # HF's formula, bit for bit, in fewer dispatches than F.rms_norm's (which copies x twice)
        scale = x.pow(2).mean(-1, keepdim=True).add_(eps).rsqrt_()
        return (x * scale).mul_(weight)
    # in fp32 then back, exactly as HF's LlamaRMSNorm does
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(x.dtype)


def attend(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None,
           shape: Shape) -> torch.Tensor:
    """q [w, heads, d] against keys/values [kv_heads, length, d]; returns [w, heads * d].
    `mask` is [group * w, length] (already tiled per query head of a group) or None (see all)."""
    width = q.shape[0]
    grouped = q.reshape(width, shape.kv_heads, shape.group, shape.head_dim).permute(1, 2, 0, 3)
    grouped = grouped.reshape(1, shape.kv_heads, shape.group * width, shape.head_dim)
    out = F.scaled_dot_product_attention(grouped, keys[None], values[None], attn_mask=mask)
    out = out.view(shape.kv_heads, shape.group, width, shape.head_dim).permute(2, 0, 1, 3)
    return out.reshape(width, shape.q_size)


def layer_forward(x: torch.Tensor, layer: Layer, kv: torch.Tensor, start: int, cos: torch.Tensor,
                  sin: torch.Tensor, mask: torch.Tensor | None, shape: Shape) -> torch.Tensor:
    """One decoder block on hidden states [w, hidden]; writes this block's K/V at start.. of `kv`
    ([2, kv_heads, capacity, d], this layer's slice of the cache).

    Few operations, because at decoding widths each costs more in dispatch than in arithmetic:
    RoPE runs in place on q and k inside the QKV output (x·cos + rotate_half(x)·sin, and
    rotate_half(x)·sin = roll(x, half)·signed_sin, the same products and sum as HF's), after which
    K and V sit side by side there and go into the cache in one copy."""
    width, heads, kv_heads, d = x.shape[0], shape.heads, shape.kv_heads, shape.head_dim
    end = start + width
    qkv = apply_dense(rms_norm(x, layer.attn_norm, shape.eps), layer.qkv).view(width, heads + 2 * kv_heads, d)
    qk = qkv[:, :heads + kv_heads]
    rolled = qk.roll(d // 2, dims=-1)
    qk.mul_(cos)
    qk.add_(rolled.mul_(sin))
    kv[:, :, start:end] = qkv[:, heads:].view(width, 2, kv_heads, d).permute(1, 2, 0, 3)
    out = attend(qkv[:, :heads], kv[0, :, :end], kv[1, :, :end], mask, shape)
    x = x + apply_dense(out, layer.out)
    gate, up = apply_dense(rms_norm(x, layer.mlp_norm, shape.eps), layer.gate_up).chunk(2, dim=-1)
    return x + apply_dense(F.silu(gate).mul_(up), layer.down)


def native_layer_forward(x: torch.Tensor, h: torch.Tensor, layer: Layer, next_norm: torch.Tensor, kv: torch.Tensor,
                         start: int, cos: torch.Tensor, sin: torch.Tensor, mask: tuple[torch.Tensor | None, int],
                         shape: Shape, glue: Glue, work: Workspace) -> None:
    """layer_forward with the steps between its matmuls in C, one call after each matmul (the
    first work after a GEMM runs on caches it has flushed, so the fewer calls the better). x is
    the residual stream and h its normed form; both are updated in place, h normed with
    `next_norm` (the next layer's input norm, or the final one). `mask` is (the mask of keys
    from.., from), see _native_mask."""
    width, heads, d = x.shape[0], shape.heads, shape.head_dim
    end = start + width
    qkv = apply_dense(h, layer.qkv).view(width, heads + 2 * shape.kv_heads, d)
    if glue.attends(d):
        out = glue.rope_attend(qkv, cos, sin, kv, heads, start, mask[0], mask[1], work.q, work.attn)
    else:
        q = glue.rope_store(qkv, cos, sin, kv, heads, shape.kv_heads, start)[None]
        out = glue.ungroup(F.scaled_dot_product_attention(q.view(1, shape.kv_heads, shape.group * width, d),
                                                          kv[None, 0, :, :end], kv[None, 1, :, :end], attn_mask=mask[0])
                           .view(heads, width, d))
    glue.add_rms_norm(x, apply_dense(out, layer.out), layer.mlp_norm, shape.eps, out=h)
    act = glue.silu_mul(apply_dense(h, layer.gate_up), out=work.act)
    glue.add_rms_norm(x, apply_dense(act, layer.down), next_norm, shape.eps, out=h)


@dataclass(frozen=True)
class Workspace:
    """The native forward's buffers, allocated once per forward and reused by every layer."""

    q: torch.Tensor  # [heads, w, d]: rotated queries, grouped for attention
    attn: torch.Tensor  # [w, heads * d]: attention's output
    act: torch.Tensor  # [w, intermediate]: SiLU(gate) * up


def _workspace(weights: Weights, x: torch.Tensor) -> Workspace:
    shape, width = weights.shape, x.shape[0]
    return Workspace(x.new_empty(shape.heads, width, shape.head_dim), x.new_empty(width, shape.q_size),
                     x.new_empty(width, weights.layers[0].down.weight.shape[1]))


def forward(weights: Weights, cache: KVCache, x: torch.Tensor, positions: torch.Tensor,
            inside: torch.Tensor | None, keep: int = 0) -> torch.Tensor:
    """Hidden states x [w, hidden] at `positions` [w] after the cache's `length` entries; `inside`
    [w, w] is who sees whom among the new entries (None: a single token). Appends w entries to
    the cache and returns the logits of the last `keep` rows (0 = all): [keep or w, vocab]."""
    shape, glue = weights.shape, weights.glue
    start, width = cache.length, x.shape[0]
    cos, sin = weights.cos[positions][:, None], weights.sin[positions][:, None]
    masks = {window: _layer_mask(inside, start, positions, window, shape.group, x.dtype)
             for window in {layer.window for layer in weights.layers}}
    if glue is None:
        for index, layer in enumerate(weights.layers):
            x = layer_forward(x, layer, cache.data[index], start, cos, sin, masks[layer.window], shape)
        h = rms_norm(x, weights.norm, shape.eps)
    elif weights.stack is not None:
        x = x.clone(memory_format=torch.contiguous_format)  # updated in place, and it may be the caller's
        windowed = next((mask for window, mask in masks.items() if window is not None), None)
        plain = _native_mask(masks.get(None), None, start, width, c_attention=True)
        h = weights.stack.forward(x, cos, sin, cache.data, start, plain, windowed)
    else:
        x = x.clone(memory_format=torch.contiguous_format)  # updated in place, and it may be the caller's
        h = glue.rms_norm(x, weights.layers[0].attn_norm, shape.eps)
        work = _workspace(weights, x)
        norms = [layer.attn_norm for layer in weights.layers[1:]] + [weights.norm]
        columns = {window: _native_mask(mask, window, start, width, glue.attends(shape.head_dim))
                   for window, mask in masks.items()}
        for index, (layer, next_norm) in enumerate(zip(weights.layers, norms)):
            native_layer_forward(x, h, layer, next_norm, cache.data[index], start, cos, sin, columns[layer.window],
                                 shape, glue, work)
    cache.length = start + width
    return apply_dense(h[-keep:] if keep else h, weights.lm_head)


def _layer_mask(inside: torch.Tensor | None, start: int, positions: torch.Tensor, window: int | None,
                group: int, dtype: torch.dtype) -> torch.Tensor | None:
    """The additive mask every layer of this forward shares, tiled for the grouped query heads
    (built once per forward: SDPA would otherwise convert a boolean mask in every layer)."""
    if inside is None and (window is None or start + 1 <= window):
        return None  # one new token that may see every cached entry
    if inside is None:
        inside = torch.ones(1, 1, dtype=torch.bool, device=positions.device)
    visible = full_mask(inside, start, positions, window).repeat(group, 1)
    return torch.zeros(visible.shape, dtype=dtype, device=visible.device).masked_fill_(~visible, float("-inf"))


def _native_mask(mask: torch.Tensor | None, window: int | None, start: int, width: int,
                 c_attention: bool) -> tuple[torch.Tensor | None, int]:
    """The part of a layer mask the native forward reads and the first key it covers: for C
    attention without a window only the new entries' columns (the prefix's are all 0), for SDPA
    the whole mask."""
    if mask is None:
        return None, start + width
    if not c_attention or window is not None:
        return mask, 0
    return mask[:, start:], start


def embed(weights: Weights, tokens: torch.Tensor) -> torch.Tensor:
    return F.embedding(tokens, weights.embed)
