"""Keep every library we load from reaching the network (no hub calls, no telemetry)."""

import os
import threading

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


# Python's import locks are per module: two threads importing transformers' interdependent
# submodules at once (the app loads the model while the editor loads the embedder) can each hold
# one the other needs, and Python then fails one with "partially initialized module". Imports are
# process-wide, so this lock is too; whatever loads models through transformers holds it.
TRANSFORMERS_IMPORTS = threading.RLock()
