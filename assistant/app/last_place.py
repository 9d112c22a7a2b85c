"""Where the person was when the app closed, so a restart returns there."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

FILE_NAME = "app_state.json"


@dataclass(frozen=True)
class Place:
    screen: str = "home"  # home | outline | editor | library | ask | new
    session_id: str | None = None
    section: str | None = None
    theme: str | None = None


def _path() -> Path:
    from engine import data_dir

    return data_dir() / FILE_NAME


def load_place() -> Place:
    """A missing or damaged file means 'start at home', never an error."""
    try:
        raw = json.loads(_path().read_text(encoding="utf-8"))
        known = {k: raw[k] for k in Place.__dataclass_fields__ if k in raw}
        return Place(**known)
    except (OSError, ValueError, TypeError):
        return Place()


def save_place(place: Place) -> None:
    path = _path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(place)), encoding="utf-8")
    os.replace(tmp, path)  # atomic, so a crash mid-write keeps the old place
