"""A field's words fitted into a sentence of the template's: a title as a noun phrase after "a" or
"the", a purpose after "made", a list as a claim's elements (pure functions)."""

from __future__ import annotations

from assistant.drafting.templates import list_items

# vowel letters that sound a consonant, and silent h: "a unit", "a one-way valve", "an hour"; the
# prefix un- before in/im keeps its vowel: "an uninterruptible power supply"
_A_BEFORE = ("uni", "use", "usu", "eu", "one ", "one-", "once")
_AN_BEFORE = ("hour", "honest", "honour", "heir", "unin", "unim")


def noun(value: str) -> str:
    """"Self-cleaning solar panel mount" -> "self-cleaning solar panel mount", to follow "a" or
    "the" mid-sentence; an acronym or a capitalised name inside keeps its capitals ("LED lamp")."""
    text = value.strip()
    first = text.split(None, 1)[0] if text else ""
    if not first or first.isupper() or any(c.isupper() for c in first[1:]):
        return text
    return text[0].lower() + text[1:]


def article(value: str) -> str:
    """"A" or "An" for the noun phrase `value`, by how it sounds where the spelling says otherwise."""
    phrase = noun(value)
    first = phrase.split(None, 1)[0] if phrase.split() else ""
    if len(first) > 1 and first.isupper():  # an acronym is read letter by letter: "an LED", "a USB"
        return "An" if first[0] in "AEFHILMNORSX" else "A"
    word = phrase.casefold()
    if word.startswith(_AN_BEFORE):
        return "An"
    if word.startswith(_A_BEFORE):
        return "A"
    return "An" if word[:1] in tuple("aeiou") else "A"


_PURPOSE_OPENERS = ("for", "to", "in", "so", "as", "because", "towards")


def purpose(value: str) -> str:
    """A purpose after "made": "correction of my name" -> "for correction of my name"; one that
    already opens with "for", "to", ... keeps its words (its first letter in lower case, mid-sentence)."""
    text = value.strip()
    if not text:
        return text
    return noun(text) if text.split(None, 1)[0].casefold() in _PURPOSE_OPENERS else f"for {noun(text)}"


def elements(value: str) -> str:
    """A list as a claim writes its elements: "a frame; an actuator; and a wiper bar"."""
    items = [i.rstrip(".;,") for i in list_items(value)]
    if len(items) < 2:
        return "".join(items)
    return "; ".join(items[:-1]) + "; and " + items[-1]
