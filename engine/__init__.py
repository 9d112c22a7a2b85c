"""draftpad's local inference engine. Importing it switches the Hugging Face stack offline.

The public names load lazily, so `import engine.paths` (the CLI's start-up) never pays for torch.
"""

from importlib import import_module

from engine.offline import enforce_offline

enforce_offline()

_PUBLIC = {
    "GenerationConfig": "engine.generation", "GenerationResult": "engine.generation", "METHODS": "engine.generation",
    "encode_prompt": "engine.generation", "generate": "engine.generation",
    "LoadedModel": "engine.loading", "load_model": "engine.loading",
    "GenerationStats": "engine.stats",
    "ModelNotFound": "engine.errors", "UserError": "engine.errors",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> object:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(import_module(_PUBLIC[name]), name)
