"""Keep every library we load from reaching the network (no hub calls, no telemetry)."""

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def enforce_offline() -> None:
    """Set before transformers/huggingface_hub are imported: they read these at import time."""
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value


def offline_status() -> dict[str, str]:
    return {key: os.environ.get(key, "") for key in OFFLINE_ENV}
