"""Numbered "That ..." clauses, the form of an Indian agreement's operative part.

The template's fixed clauses carry their numbers as typed ("14. That on the expiry ..."); terms the
parties add in their own words arrive as plain sentences. A lawyer expects both in one sequence:
each added term its own numbered clause, and the clauses after it numbered on.
"""

from __future__ import annotations

import re

from assistant.drafting.quality import sentences
from assistant.drafting.templates import list_items

CLAUSE = re.compile(r"^(\d+)\.(\s+That\b)", re.MULTILINE)
# a paragraph opening "That ..." unnumbered: one the model wrote on after the given clauses
UNNUMBERED = re.compile(r"(?:\A|(?<=\n\n))(?=That\s)")
# first words that start a sentence but not a name, so "That " + the word in lower case reads on
_COMMON_OPENERS = {"the", "a", "an", "no", "one", "each", "every", "all", "any", "both", "either", "neither",
                   "this", "these", "those", "only", "nothing", "none", "there", "it", "he", "she",
                   "they", "his", "her", "their", "its", "my", "our", "we", "your",
                   # and the common nouns these agreements' terms open with ("Stamp duty on ...")
                   "stamp", "rent", "payment", "possession", "registration", "electricity", "water",
                   "maintenance", "property", "tax", "taxes", "parking", "pets", "smoking", "security",
                   "deposit", "notice", "repairs", "painting", "society", "brokerage", "balance",
                   "interest", "subletting", "guests", "visitors", "alterations", "keys", "furniture"}
# the parties as the forms define them: "the vendor" in the parties' own words is "the Vendor"
_ROLES = re.compile(r"\b(the) (vendor|purchaser|lessor|lessee|principal|attorney|deponent)\b", re.I)
_MODAL = re.compile(r"\b(?:shall|will|may|must|can|should)\b", re.I)
# words before "to be" that make it part of a sentence already ("I want to be", "It is to be")
_SUBJECT_VERB = re.compile(r"\b(?:i|we|you|he|she|they|it|is|are|was|were|has|have|want|wants|need|needs|"
                           r"agree|agrees|intend|intends|wish|wishes|expect|expects|like|likes|seem|seems)\b", re.I)


def as_clauses(text: str) -> str:
    """Each sentence of the parties' own terms as a clause: "1. That the Lessee may keep one dog."
    (numbered 1, 2, ... here; `renumber` puts them in the document's sequence)."""
    return _clauses(sentences(text))


def list_clauses(value: str) -> str:
    """Each item of a list field as a clause (an affidavit's facts: "1. That my name is ...")."""
    return _clauses(list_items(value))


# a verb that makes "No pets are allowed" a sentence; "No smoking inside the flat" has none
_VERB = re.compile(r"\b(?:shall|will|may|must|can|could|should|is|are|was|were|be|been|has|have|had|do|does)\b", re.I)
_PERMISSION = re.compile(r"\b(allowed|permitted)\b", re.I)


def _clauses(parts: list[str]) -> str:
    out = []
    for sentence in (s for s in parts if s.strip()):
        body = re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", sentence).strip()  # their own numbering or bullet
        first, _, rest = body.partition(" ")
        if first.casefold() == "that":
            body = rest.strip()
        elif first.casefold() == "no" and rest and not _VERB.search(rest):
            # a notice's shorthand, made a clause: "No pets allowed" -> "no pets shall be allowed",
            # "No smoking inside the flat" -> "there shall be no smoking inside the flat"
            body = (_PERMISSION.sub(r"shall be \1", body, count=1).replace(first, "no", 1)
                    if _PERMISSION.search(rest) else f"there shall be no {rest}")
        elif first.casefold().strip(",;:") in _COMMON_OPENERS and not first.isupper():
            body = body[0].lower() + body[1:]
        before, to_be, _ = body.partition(" to be ")
        if to_be and not _MODAL.search(body) and not _SUBJECT_VERB.search(before):
            # a note's "Stamp duty to be paid by the purchaser" is an obligation
            body = body.replace(" to be ", " shall be ", 1)
        body = _ROLES.sub(lambda m: f"{m.group(1)} {m.group(2).capitalize()}", body)
        if body:
            end = "" if body[-1] in ".;:!?" else "."
            out.append(f"{len(out) + 1}. That {body}{end}")
    return "\n\n".join(out)


def renumber(texts: list[str]) -> list[str]:
    """The "N. That ..." clauses of consecutive texts (a document's sections) numbered 1, 2, 3 ...
    in order, whatever numbers they were typed with; in a text with clauses, a paragraph opening
    "That" without a number is one too."""
    count = 0

    def next_number(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"{count}.{match.group(2)}"

    return [CLAUSE.sub(next_number, UNNUMBERED.sub("0. ", text) if CLAUSE.search(text) else text)
            for text in texts]
