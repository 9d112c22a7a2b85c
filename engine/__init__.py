"""draftpad's local inference engine. Importing it switches the Hugging Face stack offline.

The public names load lazily, so `import engine.paths` (the CLI's start-up) never pays for torch.
"""

from importlib import import_module

from engine.offline import TRANSFORMERS_IMPORTS, enforce_offline

enforce_offline()

_PUBLIC = {
    "GenerationConfig": "engine.generation", "GenerationResult": "engine.generation", "METHODS": "engine.generation",
    "encode_prompt": "engine.generation", "generate": "engine.generation",
    "LoadedModel": "engine.loading", "load_model": "engine.loading", "pick_device": "engine.loading",
    "pick_dtype": "engine.loading", "resolve_spec": "engine.loading",
    "GenerationStats": "engine.stats",
    "EngineState": "engine.state", "fresh_state": "engine.state", "forget_state": "engine.state",
    "warmed_state": "engine.state", "lessons": "engine.state", "cost_profile": "engine.adaptive", "CostProfile": "engine.adaptive",
    "forward_costs": "engine.forward_cost", "baseline_tok_s": "engine.adaptive",
    "Dense": "engine.dense", "apply_dense": "engine.dense", "pack_dense": "engine.dense",
    "ModelNotFound": "engine.errors", "UserError": "engine.errors",
    "Migration": "engine.database", "migrate": "engine.database", "open_db": "engine.database",
    "cache_dir": "engine.paths", "data_dir": "engine.paths", "database_path": "engine.paths",
    "enforce_offline": "engine.offline", "offline_status": "engine.offline",
    "NgramModel": "engine.ngram",
    "ServerError": "engine.server", "ServerModel": "engine.server", "connect_server": "engine.server",
    "is_server": "engine.server", "probe_server": "engine.server",
    "CONFIG_KEYS": "engine.config", "config_path": "engine.config", "connect_configured": "engine.config",
    "load_config": "engine.config", "server_settings": "engine.config", "set_config_value": "engine.config",
    "unset_config_value": "engine.config",
    "DEFAULT_ALPHA": "engine.superposed", "Suggestion": "engine.superposed", "suggest": "engine.superposed",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> object:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    with TRANSFORMERS_IMPORTS:  # these modules import transformers; threads take turns (engine.offline)
        return getattr(import_module(_PUBLIC[name]), name)
