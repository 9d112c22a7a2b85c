"""The transformers path of tree verification: one forward over a draft tree with a 4D mask, and
keeping exactly the accepted positions' KV in a `DynamicCache`."""

from __future__ import annotations

import numpy as np
import torch
from transformers import DynamicCache

from engine.hf_call import model_call


@torch.inference_mode()
def tree_forward(model: torch.nn.Module, input_ids: torch.Tensor, cache: DynamicCache,
                 mask: torch.Tensor | None, positions: torch.Tensor | None) -> torch.Tensor:
    """Logits [width, vocab] for every node. A 4D mask is passed through as-is by transformers'
    masking utilities, so sdpa/eager attention see exactly the tree's visibility."""
    out = model_call(model, cache, input_ids=input_ids, attention_mask=mask, position_ids=positions,
                     logits_to_keep=0)
    return out.logits[0]


def tree_mask_inputs(parents: list[int], depth: list[int], cached: int, dtype: torch.dtype, device: torch.device
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """HF's form of a tree after `cached` entries: an additive 4D mask [1, 1, w, cached + w] (the
    prefix plus each node's ancestors visible) and position ids [1, w] (cached + depth)."""
    width = len(parents)
    inside = np.eye(width, dtype=bool)
    for i in range(1, width):
        inside[i] |= inside[parents[i]]
    visible = torch.ones(width, cached + width, dtype=torch.bool)
    visible[:, cached:] = torch.from_numpy(inside)
    mask = torch.zeros(width, cached + width, dtype=dtype).masked_fill_(~visible, torch.finfo(dtype).min)
    positions = torch.tensor(depth, dtype=torch.long) + cached
    return mask.to(device)[None, None], positions.to(device)[None]


@torch.inference_mode()
def keep_accepted(cache: DynamicCache, cached: int, path: list[int]) -> None:
    """After verifying root + tree at offsets cached.., keep the prefix, the root and the accepted
    nodes `path` (tree indices, root excluded, in order). Accepted nodes need not be contiguous in
    the tree, so they are gathered into place per layer before cutting the rest off."""
    new_len = cached + 1 + len(path)
    contiguous = path == list(range(1, len(path) + 1))
    for index, layer in enumerate(cache.layers):
        keys, values = getattr(layer, "keys", None), getattr(layer, "values", None)
        if keys is None or values is None:
            # skipping it would leave this layer's cache longer than the others: wrong context later
            raise ValueError(f"cache layer {index} ({type(layer).__name__}) holds no keys/values to keep")
        if path and not contiguous:
            src = torch.tensor(path, device=keys.device) + cached
            keys[..., cached + 1:new_len, :] = keys.index_select(-2, src)
            values[..., cached + 1:new_len, :] = values.index_select(-2, src)
        layer.keys = keys[..., :new_len, :]
        layer.values = values[..., :new_len, :]
