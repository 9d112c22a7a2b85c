"""The app's only doorway to the drafting core and the library, for use from worker threads.

Both import torch indirectly (via engine), so they are imported on first use, never while the
first screen is being drawn.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator


def drafting() -> Any:
    from assistant import drafting as module

    return module


@contextmanager
def library() -> Iterator[Any]:
    """A short-lived library connection: each worker thread opens its own."""
    from retrieval import open_library

    lib = open_library()
    try:
        yield lib
    finally:
        lib.close()


def library_summary() -> str:
    """One paragraph for the home screen; an unavailable library is reported, not raised."""
    try:
        with library() as lib:
            stats = lib.stats()
    except Exception as exc:  # noqa: BLE001 - the home screen must open whatever the library's state
        return f"Library unavailable: {first_line(exc)}"
    documents = stats.get("documents", 0)
    if not documents:
        return "Your library is empty. Press F3 and import a folder of past documents: drafts then follow your own examples."
    kinds = stats.get("kinds") or stats.get("by_kind") or {}
    detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) if isinstance(kinds, dict) else ""
    sections = stats.get("sections", 0)
    return f"{documents} documents, {sections} sections" + (f" ({detail})" if detail else "")


def first_line(exc: BaseException) -> str:
    """The first line of a failure's message, or its type's name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def message_of(exc: BaseException) -> str:
    """The one line a notification shows for a failure."""
    text = first_line(exc)
    from engine import UserError

    return text if isinstance(exc, UserError) else f"{type(exc).__name__}: {text}"


def severity_of(exc: BaseException) -> str:
    """A request refused for a reason the person can act on is a warning; anything else an error."""
    from engine import UserError

    return "warning" if isinstance(exc, UserError) else "error"
