"""Unsaved editor text, written on every change so a crash or kill loses nothing typed.

A buffer is the text of one outline section (keyed by its stable id) that has not yet been
stored as a version, together with the version it was typed on top of: another process (the
CLI) may store a newer version meanwhile, and a buffer based on an older one must not quietly
replace it. Storing a version (through the drafting core) deletes the buffer.

Each write is fsynced (file, then folder) before it returns, so the editor can say "autosaved"
and mean it after a power cut too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Buffer:
    text: str
    base_version: int | None  # the stored version the text was edited from (0: none yet); None: unknown


def _folder() -> Path:
    from engine import data_dir

    folder = data_dir() / "buffers"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def buffer_path(section_id: int) -> Path:
    return _folder() / f"section-{int(section_id)}.txt"


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open a folder; the file itself is synced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_buffer(section_id: int, text: str, base_version: int | None = None) -> None:
    path = buffer_path(section_id)
    tmp = path.with_suffix(".tmp")
    payload = json.dumps({"base_version": base_version, "text": text}, ensure_ascii=False)
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_folder(path.parent)  # the rename itself is only durable once the folder is synced


def read_buffer_entry(section_id: int) -> Buffer | None:
    try:
        raw = buffer_path(section_id).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        data = json.loads(raw)
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            base = data.get("base_version")
            return Buffer(data["text"], base if isinstance(base, int) else None)
    except ValueError:
        pass
    return Buffer(raw, None)  # a buffer written by an older draftpad: plain text, base unknown


def read_buffer(section_id: int) -> str | None:
    entry = read_buffer_entry(section_id)
    return entry.text if entry is not None else None


def drop_buffer(section_id: int) -> None:
    buffer_path(section_id).unlink(missing_ok=True)
