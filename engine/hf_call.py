"""Calling a transformers model with a cache, whatever the installed version calls the keyword.

transformers renamed `past_key_values` to `cache` during 5.x; a version before the rename takes
`cache=` into **kwargs and silently runs every forward without context. So the keyword is read
off the model's own signature rather than assumed.
"""

from __future__ import annotations

import inspect

import torch

_KEYWORD: dict[type, str] = {}


def cache_keyword(model: torch.nn.Module) -> str:
    kind = type(model)
    if kind not in _KEYWORD:
        params = inspect.signature(model.forward).parameters
        if "cache" in params:
            _KEYWORD[kind] = "cache"
        elif "past_key_values" in params:
            _KEYWORD[kind] = "past_key_values"
        else:
            raise TypeError(f"{kind.__name__}.forward takes neither 'cache' nor 'past_key_values'")
    return _KEYWORD[kind]


def model_call(model: torch.nn.Module, cache: object, **kwargs: object):
    """model(**kwargs) with `cache` passed under the keyword this transformers version reads."""
    kwargs[cache_keyword(model)] = cache
    return model(use_cache=True, **kwargs)
