"""Where the editor's ghost-text continuations come from: the engine's superposed suggestions,
with the library, the templates and the document being edited as the n-gram model."""

from __future__ import annotations

import threading

from assistant.app.model_host import ModelHost


def continuations(host: ModelHost, prefix: str, cancel: threading.Event, k: int = 3,
                  max_tokens: int = 16, document: str = "", heading: str = "") -> list[str]:
    """Up to k distinct continuations of `prefix`, best first; [] while the model is loading.

    `document` (the whole text being edited) joins the library's n-gram model for scoring; the
    model reads `heading` before the end of `prefix` (the engine keeps the window's start fixed
    while the person types, so that the prefix cache holds)."""
    if not host.ready or not prefix.strip():
        return []
    # Waiting here (rather than failing) keeps suggestions from racing a section generation.
    if not host.busy.acquire(timeout=5.0):
        return []
    try:
        if cancel.is_set():
            return []
        from assistant.drafting import suggest

        found = suggest(host.lm, prefix, k=k, max_tokens=max_tokens, document=document, heading=heading,
                        cancel=cancel)
        return [s.text for s in found]
    finally:
        host.busy.release()
