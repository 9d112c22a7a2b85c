"""A lean forward for the BERT encoder under all-MiniLM-L6-v2: transformers' BertModel without
its per-module Python, and with its dense weights held in half precision where fbgemm can use them.

A search embeds one short query: about 17 tokens, some 350 MFLOP. On one core of this CPU its
fp32 matmuls took 13-18 ms: the 42 MB of layer weights do not fit the 32 MB L3, so every query
reads them from memory; HF's forward added ~8 ms of module calls, wrappers and mask building on
top. Here a layer is four matmuls (query, key and value fused into one), one attention call, two
layer norms; and fbgemm's fp16 linear (engine's Dense) keeps the weights as 21 MB of fp16, which
stay in cache, widening them to fp32 inside the kernel (the arithmetic stays fp32): 9-12 ms a
query, vectors at cosine >= 0.99999 to the fp32 ones. Bulk imports (32 chunks of ~120 tokens) are compute-bound and
run at the same speed either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine import Dense, apply_dense, pack_dense


@dataclass(frozen=True)
class Layer:
    qkv: Dense  # [3d, d]: query, key and value stacked, one matmul
    out: Dense
    ln1: tuple[torch.Tensor, torch.Tensor]
    up: Dense
    down: Dense
    ln2: tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Weights:
    word: torch.Tensor
    position: torch.Tensor
    token_type: torch.Tensor  # only type 0 is used: sentence-transformers embeds one segment
    ln: tuple[torch.Tensor, torch.Tensor]
    eps: float
    heads: int
    layers: tuple[Layer, ...]


def unsupported_reason(model) -> str | None:
    config = model.config
    if type(model).__name__ != "BertModel":
        return f"{type(model).__name__} is not a BertModel"
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        return "relative position embeddings"
    if config.hidden_act != "gelu":
        return f"activation {config.hidden_act}"
    return None


def extract(model, fp16_weights: bool = True) -> Weights | None:
    """The encoder's weights (shared, not copied, except the fused qkv and the fp16 copies), or
    None for a model this forward does not cover; the caller then keeps the transformers forward.
    fp16_weights=False keeps transformers' exact fp32 arithmetic."""
    if unsupported_reason(model) is not None:
        return None
    emb, config = model.embeddings, model.config

    def norm(module) -> tuple[torch.Tensor, torch.Tensor]:
        return module.weight.detach(), module.bias.detach()

    def dense(module) -> Dense:
        return pack_dense(module.weight, module.bias, fp16_weights)

    layers = []
    for layer in model.encoder.layer:
        att = layer.attention.self
        qkv = pack_dense(torch.cat([att.query.weight, att.key.weight, att.value.weight]),
                       torch.cat([att.query.bias, att.key.bias, att.value.bias]), fp16_weights)
        layers.append(Layer(qkv, dense(layer.attention.output.dense), norm(layer.attention.output.LayerNorm),
                            dense(layer.intermediate.dense), dense(layer.output.dense), norm(layer.output.LayerNorm)))
    return Weights(emb.word_embeddings.weight.detach(), emb.position_embeddings.weight.detach(),
                   emb.token_type_embeddings.weight.detach(), norm(emb.LayerNorm), float(config.layer_norm_eps),
                   int(config.num_attention_heads), tuple(layers))


def layer_norm(x: torch.Tensor, ln: tuple[torch.Tensor, torch.Tensor], eps: float) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], ln[0], ln[1], eps)


def attention(x: torch.Tensor, layer: Layer, keep: torch.Tensor | None, heads: int) -> torch.Tensor:
    b, t, d = x.shape
    q, k, v = apply_dense(x, layer.qkv).view(b, t, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    return apply_dense(out.transpose(1, 2).reshape(b, t, d), layer.out)


def encode(w: Weights, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Last hidden states [batch, tokens, dim]."""
    t = input_ids.shape[1]
    x = w.word[input_ids] + w.position[:t] + w.token_type[0]
    x = layer_norm(x, w.ln, w.eps)
    # padding keys are masked; without padding no mask lets attention take its fastest kernel
    keep = None if bool(attention_mask.all()) else attention_mask.bool()[:, None, None, :]
    for layer in w.layers:
        x = layer_norm(x + attention(x, layer, keep, w.heads), layer.ln1, w.eps)
        x = layer_norm(x + apply_dense(F.gelu(apply_dense(x, layer.up)), layer.down), layer.ln2, w.eps)
    return x


def mean_pooled(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """sentence-transformers' mean pooling over real tokens, then unit length."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return F.normalize(pooled, dim=-1)
