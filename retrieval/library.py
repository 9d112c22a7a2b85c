"""The public façade of the user's document library (the drafting core and the TUI code against it).

Interface (stable names):
    open_library(db_path=None) -> Library
    Library.add_paths(paths, kind=None, progress=None) -> ImportSummary
    Library.search(query, k=10, kind=None, source=None) -> list[Hit]
    Library.examples(kind, heading, text="", k=3) -> list[Example]
    Library.document(path) -> Document
    Library.stats() -> dict
    Library.list_documents() -> list[DocumentInfo]
    Library.remove(path) -> bool
    Library.all_section_texts() -> Iterator[str]
    Library.close()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

# progress(done, total, path): called while importing; `path` is the file being processed.
Progress = Callable[[int, int, str], None]


@dataclass
class Hit:
    """One search result: a section of an imported document."""

    path: str  # absolute path of the imported file
    title: str
    heading: str  # the section's heading path, " > "-joined ("" for text before any heading)
    snippet: str
    score: float  # fused score, higher is better
    kind: str


@dataclass
class Example:
    """A past section offered to the drafting core as a few-shot example."""

    path: str
    title: str
    heading: str
    text: str
    score: float


@dataclass
class Section:
    ordinal: int
    heading: str
    text: str


@dataclass
class Document:
    path: str
    title: str
    kind: str
    metadata: dict[str, Any]
    sections: list[Section]
    text: str


@dataclass
class DocumentInfo:
    path: str
    title: str
    kind: str
    source: str
    sections: int
    imported_at: str


@dataclass
class ImportSummary:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)  # e.g. "index rebuilt: ..."


def open_library(db_path: Path | None = None) -> "Library":
    """Open (creating if needed) the library in `db_path`, default `engine.paths.database_path()`.

    A corrupt database is moved aside and a new one started; a missing or stale vector index is
    rebuilt from the database (see `Library.messages`).
    """
    raise NotImplementedError


class Library:
    def add_paths(self, paths: Iterable[Path | str], kind: str | None = None,
                  progress: Progress | None = None) -> ImportSummary:
        """Import files and folders (recursively). Unchanged files (same sha256) are no-ops; changed
        ones replace their previous version; unreadable/binary/empty/too-large files are skipped
        with a reason. `kind` is adr|legal|patent|other, guessed when None."""
        raise NotImplementedError

    def search(self, query: str, k: int = 10, kind: str | None = None,
               source: str | None = None) -> list[Hit]:
        """Hybrid search (FTS5 BM25 + vectors, reciprocal rank fusion); one hit per section."""
        raise NotImplementedError

    def examples(self, kind: str, heading: str, text: str = "", k: int = 3) -> list[Example]:
        """The k most useful past sections for drafting a section called `heading` in a document of
        `kind`, given the text written so far; sections whose heading matches are favoured."""
        raise NotImplementedError

    def document(self, path: Path | str) -> Document:
        """The full imported document (raises UserError if it is not in the library)."""
        raise NotImplementedError

    def stats(self) -> dict:
        raise NotImplementedError

    def list_documents(self) -> list[DocumentInfo]:
        raise NotImplementedError

    def remove(self, path: Path | str) -> bool:
        """Remove a document with its sections, chunks and vectors; False if it was not there."""
        raise NotImplementedError

    def all_section_texts(self) -> Iterator[str]:
        """Every section's text, streamed (used to build the suggestions' n-gram model)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
