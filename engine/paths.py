"""Where draftpad keeps its data: DRAFTPAD_HOME, else the platform's user data directory."""

import os
from pathlib import Path

import platformdirs


def data_dir() -> Path:
    root = os.environ.get("DRAFTPAD_HOME")
    path = Path(root).expanduser() if root else Path(platformdirs.user_data_dir("draftpad", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_path() -> Path:
    """The single SQLite database: library and sessions live side by side."""
    return data_dir() / "draftpad.db"


def cache_dir(name: str) -> Path:
    """Derived data that can be rebuilt (model copies, tables): DRAFTPAD_CACHE, else <data dir>/cache."""
    root = os.environ.get("DRAFTPAD_CACHE")
    path = (Path(root).expanduser() if root else data_dir() / "cache") / name
    path.mkdir(parents=True, exist_ok=True)
    return path
