"""Guards around one section's generation: a small model loops, copies its instructions and says
the same thing twice. The repetition stop ends a generation as soon as it starts to loop (and
saves the tokens); the echo filter drops sentences that copy the prompt's scaffolding; a
degenerate result is worth one seeded, sampled retry.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

from assistant.drafting.quality import echo_sentences, ngrams, repeated_ngram_counts, sentence_key, sentences, words

LOOP_WORDS = 8  # a run of this many words said twice is a loop, not style
MIN_WORDS = 6  # prose shorter than this (after cleaning) is no section
RETRY_TEMPERATURE = 0.7
RETRY_TOP_P = 0.9
RETRY_SEED = 1234  # seeded: the same inputs give the same retry (writer adds the version count)


@dataclass
class RepetitionStop:
    """Watches the streamed text; `tripped` is set at the first repeated sentence or repeated run of
    LOOP_WORDS words (within the output, or of `already`, the text the section follows)."""

    already: str = ""
    text: str = ""
    tripped: threading.Event = field(default_factory=threading.Event)
    reason: str = ""

    def __post_init__(self) -> None:
        self._known = {sentence_key(s) for s in sentences(self.already) if len(words(s)) >= 4}

    def feed(self, chunk: str) -> None:
        self.text += chunk
        if self.tripped.is_set():
            return
        finished = sentences(self.text)[:-1]  # the last one may still be growing
        keys = [sentence_key(s) for s in finished if len(words(s)) >= 4]
        if len(keys) != len(set(keys)) or any(k in self._known for k in keys):
            self._trip("repeated sentence")
            return
        grams = ngrams(words(self.text), LOOP_WORDS)
        if len(grams) != len(set(grams)):
            self._trip("repeated words")

    def _trip(self, reason: str) -> None:
        self.reason = reason
        self.tripped.set()


class EitherEvent:
    """Set when either event is: the person's cancel or a guard's stop, for one generation."""

    def __init__(self, *events: threading.Event | None) -> None:
        self._events = [e for e in events if e is not None]

    def is_set(self) -> bool:
        return any(e.is_set() for e in self._events)


_DOUBLED = re.compile(r"\b(\w[\w-]{2,})\b(?:\s*,\s*|\s+(?:and|or)\s+|\s+)\1\b", re.I)
SELF_REPEAT_WORDS = 4  # a run this long said twice inside one sentence is a loop within it


def drop_echo(text: str, scaffolding: Sequence[str]) -> tuple[str, int]:
    """The text without sentences that copy the scaffolding, and how many were dropped."""
    echoed = echo_sentences(text, scaffolding)
    return drop_sentences(text, echoed), len(echoed)


NEAR_REPEAT = 0.6  # share of the shorter sentence's word 3-grams the other holds too: the same sentence again


def drop_near_repeats(text: str, already: str = "") -> tuple[str, int]:
    """The text without sentences that mostly say an earlier one again ("The component to render
    the header could be named helper-header. The components to render the header could be named
    helper-header."), here or in `already` (the section's fixed wording, earlier sections)."""
    earlier = [g for g in (set(ngrams(words(s), 3)) for s in sentences(already)) if len(g) >= 4]
    bad = []
    for sentence in sentences(text):
        grams = set(ngrams(words(sentence), 3))
        if len(grams) < 4:
            continue  # too short to tell a repeat from a common phrase
        if any(len(grams & old) / min(len(grams), len(old)) >= NEAR_REPEAT for old in earlier):
            bad.append(sentence)
        else:
            earlier.append(grams)
    return drop_sentences(text, bad), len(bad)


def drop_stutter(text: str) -> tuple[str, int]:
    """The text without sentences that say a word twice in a row ("positive and positive",
    "decentralized, decentralized") or a run of words twice ("it is a standard and it is a
    standard")."""
    bad = [s for s in sentences(text) if _DOUBLED.search(s) or repeated_ngram_counts(s, SELF_REPEAT_WORDS)[0]]
    return drop_sentences(text, bad), len(bad)


_WORD_SPAN = re.compile(r"\w+(?:['’]\w+)*")


def drop_repeated_items(text: str) -> str:
    """A list inside a sentence says each item once: "a housing, a display means, a storage
    means, a storage means, a storage means." keeps the first "a storage means"."""
    pieces = re.split(r"((?<=[.!?;:])\s+)", text)  # sentences and the whitespace between them
    for index in range(0, len(pieces), 2):
        items = pieces[index].split(", ")
        if len(items) < 3:
            continue
        end = items[-1][-1:] if items[-1][-1:] in ".!?;:" else ""
        seen: set[str] = set()
        kept = []
        for item in items:
            key = sentence_key(item)
            if len(key.split()) >= 2 and key in seen:
                continue
            seen.add(key)
            kept.append(item)
        joined = ", ".join(kept)
        pieces[index] = joined if not end or joined.endswith(end) else joined.rstrip(".!?;:") + end
    return "".join(pieces)


def cut_loop(text: str, n: int = LOOP_WORDS) -> str:
    """The text up to where it starts saying a run of n words a second time: a mirrored clause
    ("the Lessee shall pay the charges of the said Premises, and the Lessor shall pay the charges
    of the said Premises") keeps its first half."""
    spans = list(_WORD_SPAN.finditer(text))
    tokens = [m.group(0).casefold() for m in spans]
    first: dict[tuple[str, ...], int] = {}
    for i in range(len(tokens) - n + 1):
        gram = tuple(tokens[i:i + n])
        if gram in first and i >= first[gram] + n:
            return text[:spans[i].start()].rstrip()
        first.setdefault(gram, i)
    return text


PARTIES = ("Lessor", "Lessee", "Vendor", "Purchaser", "Principal", "Attorney", "Deponent", "Licensor", "Licensee")
_BOUND = re.compile(r"\bthe (" + "|".join(PARTIES) + r") shall\b", re.I)
_JOINER = re.compile(r"[\s,;]*(?:and|while|whereas|but)?\s*$", re.I)  # what joined the other party's clause


def cut_party_switch(prose: str, lead: str) -> str:
    """Prose continuing a lead-in that binds one party ("The Lessee shall also keep ...") ends
    where it starts binding another ("..., and the Lessor shall be responsible for ..."): a
    continuation is asked for that party's duty, and an obligation the parties never agreed,
    put on the other side, is the worst thing a drafted clause can hold."""
    bound = _BOUND.findall(lead)
    if not bound:
        return prose
    party = bound[-1].casefold()
    other = next((m for m in _BOUND.finditer(prose) if m.group(1).casefold() != party), None)
    if other is None:
        return prose
    return finish_sentence(_JOINER.sub("", prose[:other.start()]))


_DANGLING = re.compile(r"(?:\s+(?:the|a|an|of|to|and|or|in|on|at|with|for|by|that|which|is|are))+$", re.I)


def finish_sentence(prose: str) -> str:
    """Prose that ends mid-sentence ends at its last whole clause, with a full stop; prose that
    ends properly is left alone."""
    prose = prose.rstrip()
    if not prose or prose[-1] in ".!?:;)\"'”’":
        return prose
    cut = max(prose.rfind(", "), prose.rfind("; "))
    if cut > 0 and len(words(prose[:cut])) >= MIN_WORDS:
        return prose[:cut].rstrip() + "."
    return _DANGLING.sub("", prose.rstrip(",;: ")) + "."


_FIGURE = re.compile(r"(?:\bRs\b\.?|\bINR\b|₹|\$)\s*(?:\d|$|(?=[A-Z]))|\b\d{1,3}(?:,\d{2,3})+\b|\b\d{4,}\b"
                     r"|\b\d{1,2}(?:st|nd|rd|th)\s+day\s+of\b|\b\d+(?:\.\d+)?\s*(?:%|per\s*cent\b|percent\b)"
                     r"|\b\d+(?:\.\d+)?\s+(?:hundred|thousand|lakhs?|crores?|million|billion|dollars?|rupees?|euros?)\b",
                     re.I)


def drop_unasked_figures(text: str) -> tuple[str, int]:
    """The text without sentences that state an amount, a date or a long number: for prose whose
    section is given no such fact, any figure is the model's invention (or a fact of another
    clause, such as the rent turning up as a maintenance charge)."""
    bad = [s for s in sentences(text) if _FIGURE.search(s)]
    return drop_sentences(text, bad), len(bad)


_CONTENT_WORD = re.compile(r"[^\W\d_]{4,}")
# Words too common to tie a sentence to a topic: "this", "will", "which" hold no fact.
_COMMON = frozenset("""also been being both could does each every from have having here into just least
less like made make makes many more most much must need only other over same shall should some such
than that their them then there these they this those thus very well were what when where which while
will with within without would your about after again against because before between during under
until upon whether able""".split())


def _stem(word: str) -> str:
    # a plural or tense ending off, then the first five letters: "deployments" meets "deploy",
    # "notes" "note", "repaired" "repairs"
    for ending in ("ing", "ed", "es", "s"):
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            word = word[:-len(ending)]
            break
    return word[:5]


def _content_stems(text: str) -> set[str]:
    return {_stem(w) for w in (w.casefold() for w in _CONTENT_WORD.findall(text)) if w not in _COMMON}


def ungrounded_sentences(text: str, grounds: str, opening: str = "", names: bool = True) -> list[str]:
    """The sentences of `text` that share no content word with `grounds` (the document's own
    title, facts and other sections): "We chose to use MongoDB." under a decision to adopt an ORM,
    "The same can be said about many modern web applications." A sentence on the document's
    subject names something in it; one that names nothing in it is the model's invention.

    `opening` is the fixed wording the text's first sentence finishes: when it names something of
    the document ("The Lessee shall also keep the said Premises"), that sentence is grounded by it;
    a generic one ("This matters because") grounds nothing. With `names`, a sentence that brings
    in a name the document lacks is ungrounded too (see invented_names)."""
    known = _content_stems(grounds)
    known_words = {w.casefold() for w in re.findall(r"[A-Za-z][\w-]*", grounds)} if names else set()
    found = sentences(text)
    lead = re.split(r"(?<=[.!?:])\s+|\n\s*\n", opening.strip())[-1]  # the unfinished sentence it ends on
    anchored = bool(found) and bool(_content_stems(lead) & known)
    finishes = bool(lead) and not lead.rstrip().endswith((".", "!", "?", ":"))  # the first sentence goes on from it
    return [s for n, s in enumerate(found)
            if (not (n == 0 and anchored) and (stems := _content_stems(s)) and not stems & known)
            or (names and invented_names(s, known_words, starts_sentence=not (n == 0 and finishes)))]


def invented_names(sentence: str, known: set[str], starts_sentence: bool = True) -> list[str]:
    """Names in `sentence` (capitalised words, but for the one opening a sentence) that `known`
    (the document's words, case-folded) lacks: "Google has created a precedent ... of Google
    Chrome" under a decision to move search to OpenSearch. A sentence that brings in a name nobody
    gave is the model's guess, however many of the document's words it also has."""
    words = re.findall(r"(?<![\w'’-])[A-Za-z][\w-]*", sentence)
    # a sentence that finishes a template's ("We chose this because It ...") may still open with
    # a capital, as if it were its own: that is no name
    if words and (starts_sentence or words[0].casefold() in _OPENERS):
        words = words[1:]
    return [w for w in words if w[0].isupper() and w != "I" and w.casefold() not in known]


_OPENERS = {"the", "this", "that", "these", "those", "it", "its", "we", "our", "they", "their", "there", "a", "an",
            "in", "as", "for", "to", "if", "when", "with", "by", "all", "each", "any", "some"}


_NEGATION = re.compile(r"\b(?:not|no longer|never|cannot|can't|won't|isn't|aren't|don't|doesn't|instead of|"
                       r"rather than|stop|stops|abandon|abandons)\b|n't\b", re.I)


SITUATION_FIELDS = frozenset({"context", "problem", "background"})


def contradicting_sentences(text: str, facts: Sequence[str], share: float = 0.6) -> list[str]:
    """The sentences of `text` that negate a fact: mostly the fact's own content words, with a
    negation the fact does not have. Under "Store all notes in one SQLite database per user" the
    model wrote "we will no longer be able to store notes in a single SQLite database per user"."""
    affirmed = [said for fact in facts if not _NEGATION.search(fact) and (said := _content_stems(fact))]
    out = []
    for sentence in sentences(text):
        stems = _content_stems(sentence)
        if stems and _NEGATION.search(sentence) and any(len(stems & said) >= share * len(stems) for said in affirmed):
            out.append(sentence)
    return out


def drop_sentences(text: str, bad: Sequence[str]) -> str:
    for sentence in bad:
        text = text.replace(sentence, "")
    return _tidy(text)


_PAIRS = (("[", "]"), ("{", "}"))  # not parentheses: "a)" and "b)" number a list


def drop_unpaired_brackets(text: str) -> str:
    """A bracket the model opened and never closed (or closed and never opened) goes: "This
    matters because [we have a few services" reads as a broken placeholder."""
    for left, right in _PAIRS:
        if text.count(left) == text.count(right):
            continue
        opened: list[int] = []
        unpaired: list[int] = []
        for index, ch in enumerate(text):
            if ch == left:
                opened.append(index)
            elif ch == right and opened:
                opened.pop()
            elif ch == right:
                unpaired.append(index)
        drop = set(opened + unpaired)  # what is still open had no partner either
        text = "".join(ch for index, ch in enumerate(text) if index not in drop)
    return text


def _tidy(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def degenerate(prose: str) -> bool:
    """Too little left to be a section."""
    return len(words(prose)) < MIN_WORDS


@dataclass
class Attempt:
    prose: str
    result: object
    stop: RepetitionStop
    dropped: int = 0
    unsupported: list[str] = field(default_factory=list)  # sentences dropped as naming nothing of the document
    unfiltered: str = ""  # the prose with them: what a required section falls back to
    seen: str = ""  # the text as streamed, only tidied: what a draft stopped by the person keeps


def best_of(first: Attempt, retry: Callable[[], Attempt]) -> tuple[Attempt, bool]:
    """The first attempt unless it is degenerate; then one retry, kept if it says more."""
    if not degenerate(first.prose):
        return first, False
    second = retry()
    return (second if len(words(second.prose)) > len(words(first.prose)) else first), True
