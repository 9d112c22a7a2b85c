"""The part of a long text a suggestion request sends to the model.

Both the local engine and the servers keep the KV of a prompt's longest common prefix, so the
window's start must stay put while the person types at the end of the text.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

Shown = TypeVar("Shown")  # a suggestion dataclass with a `text`

# The window moves in steps of this many characters.
WINDOW_STEP = 512
TAIL_CHARS = 1500


def stable_window_start(text: str, tail_chars: int = TAIL_CHARS, step: int = WINDOW_STEP) -> int:
    """Where the last ~`tail_chars` characters start, moved only once every `step` characters of
    growth and then to the next word boundary: typing at the end keeps the window's start (and so
    its token prefix) fixed, instead of shifting it every keystroke."""
    start = max(0, len(text) - tail_chars)
    start -= start % step
    if start == 0:
        return 0
    space = next((i for i in range(start, len(text)) if text[i].isspace()), start)
    return space + 1 if space < len(text) - 1 else start


def prompt_text(prefix: str, heading: str = "", tail_chars: int = TAIL_CHARS) -> str:
    """`heading` (a document's title and the section's, say) and then the window of `prefix`:
    the heading stays however long the text grows, since it tells a small model what the text is
    about when the window alone does not."""
    return heading + prefix[stable_window_start(prefix, tail_chars):]


def without_typed_space(prefix: str) -> tuple[str, bool]:
    """`prefix` without the spaces typed at its end, and whether it had any. A BPE model keeps a
    word's space in the word's token, so a prompt ending in a space asks it to go on from a lone
    space token, which it rarely saw: after "because billing " SmolLM2 offered "100% of the time."
    where after "because billing" it offers " is simplified and more efficient."."""
    stripped = prefix.rstrip(" ")
    return stripped, stripped != prefix


def after_typed_space(text: str) -> str | None:
    """A continuation of the prompt without its typed space, as what follows that space; None when
    it does not start with a space (it would go on with the word the person has ended)."""
    rest = text[1:] if text.startswith(" ") else ""
    return rest if rest.strip() else None


def after_the_space(found: list[Shown]) -> list[Shown]:
    """The suggestions for the text before a typed space, as what each says after it (those that
    do not start with a space go)."""
    return [replace(s, text=rest) for s in found if (rest := after_typed_space(s.text)) is not None]
