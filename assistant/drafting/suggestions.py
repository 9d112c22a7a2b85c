"""The n-gram model behind suggestions: the user's library and the shipped templates (persisted,
grown incrementally), plus the document being typed (in memory, rebuilt per request).

This glue lives in the drafting core because it walks the library; engine/ only knows token ids.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from assistant.drafting.templates import shipped_dir
from engine.loading import LoadedModel
from engine.ngram import NgramModel, NgramTable, load_table, save_table, text_key, tokenize_texts
from engine.paths import cache_dir

log = logging.getLogger("draftpad.suggestions")

TEMPLATES_DIR = shipped_dir()
BATCH = 256  # texts per tokenizer call: bounds memory on a large library
MIN_COUNT = 2  # pairs of order >= 3 seen once are dropped: they are most of the table


@dataclass
class RefreshSummary:
    added: int  # texts counted by this refresh
    known: int  # texts counted in total
    entries: int
    bytes: int
    seconds: float


def store_path(lm: LoadedModel) -> Path:
    """One store per tokenizer/model identity: token ids mean nothing across tokenizers."""
    key = hashlib.sha256(lm.identity.encode()).hexdigest()[:16]
    return cache_dir("ngram") / f"ngram-{key}.npz"


def template_texts(folder: Path | None = None) -> list[str]:
    folder = folder or TEMPLATES_DIR
    if not folder.is_dir():
        return []
    return [p.read_text(encoding="utf-8", errors="replace") for p in sorted(folder.glob("*.toml"))]


def library_texts() -> Iterator[str]:
    """Every section of the user's library; nothing (with a log line) if the library is unavailable."""
    try:
        from retrieval import open_library

        library = open_library()
    except Exception as exc:  # noqa: BLE001 - suggestions still work from templates and the document
        log.info("library unavailable for suggestions: %s", exc)
        return
    try:
        yield from library.all_section_texts()
    except Exception as exc:  # noqa: BLE001
        log.info("could not read library sections: %s", exc)
    finally:
        library.close()


def _batches(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def refresh_store(lm: LoadedModel, texts: Iterable[str] | None = None, path: Path | None = None) -> RefreshSummary:
    """Count the texts not counted before and save; `texts` defaults to library + templates."""
    started = time.perf_counter()
    path = path or store_path(lm)
    meta = {"identity": lm.identity}
    table = load_table(path, expect_meta=meta) or NgramTable()
    source = texts if texts is not None else _default_texts()
    added = 0
    for batch in _batches(source, BATCH):
        fresh: dict[int, str] = {}
        for text in batch:
            key = text_key(text)
            if text.strip() and key not in table.seen:
                fresh[key] = text
        if fresh:
            table.add_sequences(tokenize_texts(lm.tokenizer, list(fresh.values())))
            table.seen.update(fresh)
            added += len(fresh)
    size = path.stat().st_size if path.is_file() else 0
    if added or not path.is_file():
        table.prune(MIN_COUNT)
        size = save_table(path, table, meta)
        _CACHE.pop(path, None)
    return RefreshSummary(added, len(table.seen), table.entries, size, time.perf_counter() - started)


def _default_texts() -> Iterator[str]:
    yield from template_texts()
    yield from library_texts()


_CACHE: dict[Path, tuple[int, NgramTable]] = {}


def stored_table(lm: LoadedModel, path: Path | None = None) -> NgramTable:
    """The persisted table, kept in memory while the file is unchanged (the editor asks often)."""
    path = path or store_path(lm)
    stamp = path.stat().st_mtime_ns if path.is_file() else -1
    cached = _CACHE.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    table = load_table(path, expect_meta={"identity": lm.identity}) or NgramTable()
    _CACHE[path] = (stamp, table)
    return table


def document_table(lm: LoadedModel, document: str) -> NgramTable:
    table = NgramTable()
    if document.strip():
        table.add_sequences(tokenize_texts(lm.tokenizer, [document]))
    return table


REFRESH_EVERY = 30.0  # seconds: a refresh with nothing new still reads every section to hash it
_LAST_REFRESH: dict[Path, float] = {}


def ngram_for(lm: LoadedModel, document: str = "", refresh: bool | None = None) -> NgramModel:
    """Library + templates (+ the current document) as one interpolated model.

    `refresh=None` counts newly imported library documents at most every REFRESH_EVERY seconds
    (and builds the store on first use); True/False force or skip it."""
    path = store_path(lm)
    if refresh is None:
        refresh = time.monotonic() - _LAST_REFRESH.get(path, -math.inf) >= REFRESH_EVERY
    if refresh:
        refresh_store(lm, path=path)
        _LAST_REFRESH[path] = time.monotonic()
    model = NgramModel([stored_table(lm, path)])
    return model.with_table(document_table(lm, document)) if document.strip() else model


def suggest(lm: LoadedModel, text: str, *, k: int = 3, max_tokens: int = 16, document: str = "",
            heading: str = "", use_library: bool = True, alpha: float | None = None, cancel: object = None) -> list:
    """k continuations of `text` from one superposed pass; the model reads `heading` (the
    document's and the section's titles) first. The n-gram model is the library and templates
    (`use_library`) or only the text itself, plus `document`; none when alpha is 0."""
    from engine.superposed import DEFAULT_ALPHA
    from engine.superposed import suggest as superposed_suggest

    if getattr(lm, "is_server", False):  # the server has no local tokenizer for the n-gram model
        from engine.server import suggest as server_suggest

        return server_suggest(lm, text, k=k, max_tokens=max_tokens, heading=heading, cancel=cancel).suggestions
    alpha = DEFAULT_ALPHA if alpha is None else alpha
    ngram = None
    if alpha > 0:  # the n-gram model only counts when it has a weight
        own = document or text
        ngram = ngram_for(lm, own) if use_library else NgramModel([document_table(lm, own)])
    return superposed_suggest(lm, text, k=k, max_tokens=max_tokens, ngram=ngram, alpha=alpha, heading=heading,
                              cancel=cancel)
