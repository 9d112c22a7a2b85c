"""The user's document library: import, index and retrieve past documents locally.

The public names load lazily, so importing the package (the CLI's start-up) never pays for
torch, faiss or sentence-transformers."""

from importlib import import_module

_PUBLIC = {
    "Library": "retrieval.library", "open_library": "retrieval.library",
    # The kinds and the finer forms documents are filed under; form_for_title reads a form from a
    # title by the rules imports use (so a template finds past documents of its own form).
    "KINDS": "retrieval.parsing", "FORMS": "retrieval.parsing", "form_for_title": "retrieval.parsing",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> object:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'retrieval' has no attribute {name!r}")
    return getattr(import_module(_PUBLIC[name]), name)
