"""Unsaved editor text, written on every change so a crash or kill loses nothing typed.

A buffer is the text of one outline section (keyed by its stable id) that has not yet been
stored as a version. Storing a version (through the drafting core) deletes it.
"""

from __future__ import annotations

import os
from pathlib import Path


def _folder() -> Path:
    from engine import data_dir

    folder = data_dir() / "buffers"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def buffer_path(section_id: int) -> Path:
    return _folder() / f"section-{int(section_id)}.txt"


def write_buffer(section_id: int, text: str) -> None:
    path = buffer_path(section_id)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_buffer(section_id: int) -> str | None:
    try:
        return buffer_path(section_id).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def drop_buffer(section_id: int) -> None:
    buffer_path(section_id).unlink(missing_ok=True)
