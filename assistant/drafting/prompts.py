"""Prompt building and output parsing for planning and drafting (pure functions, no model, no I/O).

Two shapes of drafting prompt. `continuation_prompt` (the default) gives the model the document
so far, with its headings, preceded by same-kind sections from earlier documents, and lets it
continue the section it has reached: small models continue text far better than they follow
instructions, which they tend to repeat. `draft_messages` is the instruction-shaped chat prompt,
kept for larger models behind a server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.drafting.quality import sentences
from assistant.drafting.templates import DRAFT_SLOT, SectionSpec, Template, render_text

Messages = list[dict[str, str]]

KIND_LABELS = {"adr": "architecture decision record", "legal": "Indian legal document", "patent": "patent specification"}
CONDENSE_CHARS = 240
EXAMPLE_CHARS = 600
MAX_TITLE_WORDS = 8
MAX_TITLE_CHARS = 60
# Keeps one generation to one section: a new heading or a long gap means the model moved on.
SECTION_STOPS = ("\n#", "\n\n\n", "\nSection ", "<|im_end|>")
# A continuation also ends at the separator between documents, or a fresh document's start.
CONTINUATION_STOPS = ("\n#", "\n---", "\n\n\n", "<|im_end|>", "<|endoftext|>", "<|im_start|>")
EXAMPLE_LEAD = "From an earlier {kind}:"
DOCUMENT_CHARS = 2400  # of the document so far; older sections are condensed first

PLAIN_RULE = "Write plain paragraphs only: no heading, no title, no placeholders in brackets."
SYSTEM_DRAFT = ("You draft {kind}s. You write one section at a time, clearly and concisely, "
                "using the facts given and nothing invented about the parties.")
SYSTEM_PLAN = "You plan the structure of documents. Reply with a list of section titles only."
PLAN_TASK = "List the section titles this document should have, one title per line, in order. Titles only, no explanations."
# The fixed wording of the chat prompts, beyond the template's own guidance.
INSTRUCTIONS = (PLAIN_RULE, SYSTEM_DRAFT, SYSTEM_PLAN, PLAN_TASK,
                "Continue it with new sentences; do not repeat it.", "The section already begins:",
                "Example of a similar section from another document:", "Facts (use them exactly as written):",
                "Headings used in similar documents:", "It will end with:", "Already written:")


@dataclass(frozen=True)
class PriorSection:
    title: str
    text: str
    accepted: bool


def facts_block(template: Template, values: dict[str, str], first: tuple[str, ...] = ()) -> str:
    """One '- Label: value' line per given fact; the section's own facts (`first`) lead."""
    lines = []
    for f in sorted(template.fields, key=lambda f: f.name not in first):
        if f.name not in first and f.type in ("date", "money", "number"):
            continue  # a stray date or amount is what a small model copies into unrelated prose
        value = str(values.get(f.name, "") or "").strip()
        if value:
            lines.append(f"- {f.label}: {value}")
    return "\n".join(lines) or "- (no facts given)"


def condense(text: str, limit: int = CONDENSE_CHARS) -> str:
    """The first sentences of a section on one line, up to `limit` characters: enough to quote it."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    end = max(cut.rfind(". "), cut.rfind("; "))
    return (cut[: end + 1] if end > limit // 3 else cut.rsplit(" ", 1)[0]) + " …"


def excerpt(text: str, limit: int) -> str:
    """The first lines of a section, up to `limit` characters, its list items and paragraphs kept
    apart: a model shown bullets run together into one line writes its own that way."""
    lines = [" ".join(line.split()) for line in text.strip().splitlines()]
    lines = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]  # one blank line at most
    kept: list[str] = []
    for line in lines:
        used = sum(len(k) + 1 for k in kept)
        if used + len(line) > limit:
            if not kept:  # one long first paragraph: cut it by sentence
                kept.append(condense(line, limit - used))
            break
        kept.append(line)
    return "\n".join(kept).strip()


def plan_messages(template: Template, variant: str, values: dict[str, str], similar_headings: list[str]) -> Messages:
    usual = "\n".join(f"{i}. {s.title}" for i, s in enumerate(template.sections_for(variant), start=1))
    similar = ""
    if similar_headings:
        similar = "\nHeadings used in similar documents: " + "; ".join(similar_headings[:12]) + "\n"
    user = (
        f"Facts:\n{facts_block(template, values)}\n\n"
        f"Document type: {template.name}. {template.description}\n"
        f"Usual sections:\n{usual}\n{similar}\n{PLAN_TASK}"
    )
    return [{"role": "system", "content": SYSTEM_PLAN}, {"role": "user", "content": user}]


_BULLET = re.compile(r"^\s*(?:[-*•+]|\d+[.)]|[ivx]+[.)]|#+|section\s+\d+[:.]?)\s*", re.I)


def parse_titles(output: str) -> list[str]:
    """Section titles from the model's list; lines that read like prose are dropped."""
    titles: list[str] = []
    for line in output.splitlines():
        title = _BULLET.sub("", line).strip().strip("*_`\"' :").strip()
        if not title or len(title) > MAX_TITLE_CHARS or len(title.split()) > MAX_TITLE_WORDS:
            continue
        if title.endswith(".") and len(title.split()) > 3:
            continue
        if not re.search(r"[A-Za-z]", title):
            continue
        if title.casefold() not in {t.casefold() for t in titles}:
            titles.append(title)
    return titles


def _stem(word: str) -> str:
    # Enough to make "Party" meet "Parties" and "Term" meet "Terms"; not a real stemmer.
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") and len(word) > 3 else word


def _title_words(title: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"[a-z]+", title.casefold()) if len(w) > 2 and w not in {"and", "the", "for", "of"}}


def matches(title: str, spec: SectionSpec) -> bool:
    a, b = _title_words(title), _title_words(spec.title) | _title_words(spec.id.replace("-", " "))
    return bool(a) and bool(a & b)


def echoes_facts(title: str, values: dict[str, str]) -> bool:
    """A 'title' that mostly repeats a fact (small models list the document's own title or gist)."""
    words = _title_words(title)
    for value in values.values():
        have = _title_words(str(value))
        if words and have and len(words & have) >= max(1, (len(words) + 1) // 2):
            return True
    return False


_INSTRUCTION_WORDS = {"should", "following", "section", "sections", "document", "title", "titles", "list",
                      "here", "include", "outline", "write"}


def instruction_echo(title: str) -> bool:
    """A 'title' that is the planner's instructions coming back ("The document should have the
    following sections")."""
    found = set(re.findall(r"[a-z]+", title.casefold())) & _INSTRUCTION_WORDS
    return len(found) >= 2 or title.rstrip().endswith(":")


# Words that say nothing of what a section holds; a title made of them only names no subject.
_EMPTY_TITLE_WORDS = {"document", "documents", "structure", "description", "content", "contents", "plan", "section",
                      "sections", "part", "parts", "details", "information", "what", "do", "the", "of", "to", "a",
                      "s", "is", "this", "next", "step", "steps", "other", "misc", "miscellaneous"}


def names_nothing(title: str) -> bool:
    """A 'title' with no subject: the small model's filler when it runs out of ideas ("Structure
    of the document", "What's the plan?", "What to do")."""
    words = set(re.findall(r"[a-z]+", title.casefold()))
    return not words or words <= _EMPTY_TITLE_WORDS


def supported_by(title: str, supported: list[str]) -> str:
    """The supported heading `title` stands for ("" for none): most of its words must be there."""
    words = _title_words(title)
    for heading in supported:
        have = _title_words(heading)
        if words and have and len(words & have) >= max(1, (len(words) + 1) // 2):
            return heading
    return ""


def merge_plan(specs: tuple[SectionSpec, ...], proposed: list[str], max_extra: int = 3,
               values: dict[str, str] | None = None,
               supported: list[str] = ()) -> tuple[list[SectionSpec | str], list[str]]:
    """The template's sections in order plus up to `max_extra` proposed titles that match none of
    them, do not merely repeat the facts or the instructions, and are supported: used by several
    documents of the same kind in the library, or an optional section of the template (`supported`).
    An extra takes the supported heading's own wording.

    Extras go after the last section that is drafted or optional (where a template keeps its
    "Additional Terms"), so closing fixed parts (registration, schedule, signatures,
    verification) stay at the end. Returns (outline, extras).
    """
    extras: list[str] = []
    for title in proposed:
        if any(matches(title, s) for s in specs) or echoes_facts(title, values or {}) or instruction_echo(title) \
                or names_nothing(title):
            continue
        heading = supported_by(title, list(supported))
        if heading and heading.casefold() not in {e.casefold() for e in extras} \
                and not any(matches(heading, s) for s in specs):
            extras.append(heading)
    extras = extras[:max_extra]
    outline: list[SectionSpec | str] = list(specs)
    last_prose = max((i for i, s in enumerate(specs) if s.mode != "fixed" or not s.required), default=len(specs) - 1)
    outline[last_prose + 1:last_prose + 1] = extras
    return outline, extras


def draft_messages(template: Template, values: dict[str, str], title: str, guidance: str, outline: list[str],
                   position: int, prior: list[PriorSection], examples: list[str], fixed_text: str = "",
                   uses: tuple[str, ...] = ()) -> Messages:
    """The chat prompt for one section: facts, outline, earlier sections, examples, then the task."""
    kind = KIND_LABELS.get(template.kind, "document")
    parts = [f"Facts (use them exactly as written):\n{facts_block(template, values, uses)}"]
    parts.append("Outline:\n" + "\n".join(
        f"{i}. {t}{'  <- this section' if i == position else ''}" for i, t in enumerate(outline, start=1)))
    written = [p for p in prior if p.text.strip()]
    if written:
        parts.append("Already written:\n" + "\n".join(
            f"- {p.title}: {condense(p.text)}" for p in written[-4:]))
    for example in examples[:2]:
        parts.append(f"Example of a similar section from another document:\n{condense(example, EXAMPLE_CHARS)}")
    task = f'Write the "{title}" section of this {template.name}.'
    if guidance:
        task += f" {guidance.strip()}"
    if fixed_text:
        before, _, after = fixed_text.partition("{" + DRAFT_SLOT + "}")
        if before.strip():
            task += f'\nThe section already begins: "{condense(before, 400)}"\nContinue it with new sentences; do not repeat it.'
        if after.strip():
            task += f' It will end with: "{condense(after, 200)}"'
    task += f"\n{PLAIN_RULE}"
    parts.append(task)
    system = SYSTEM_DRAFT.format(kind=kind)
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def scaffolding(template: Template) -> list[str]:
    """Everything a prompt for this template says that is not a fact or an example: instructions,
    the template's description and its sections' guidance. A draft that copies a run of it has
    echoed its prompt. (Field help is never in a prompt, and its examples may be real values.)"""
    kind = KIND_LABELS.get(template.kind, "document")
    out = [i.format(kind=kind) for i in INSTRUCTIONS] + [EXAMPLE_LEAD.format(kind=kind), template.description]
    out += [s.guidance for s in template.sections if s.guidance]
    return [t for t in out if t.strip()]


@dataclass(frozen=True)
class DocumentPart:
    title: str
    text: str


def continuation_prompt(template: Template, heading: str, before: list[DocumentPart], title: str,
                        examples: list[str], opening: str = "") -> str:
    """The document so far as the text the model extends: same-kind sections from earlier documents,
    a separator, this document's heading and sections, then this section's heading and `opening`
    (its fixed wording up to the prose slot). The model's continuation is the section's prose."""
    kind = KIND_LABELS.get(template.kind, "document")
    parts = [f"{EXAMPLE_LEAD.format(kind=kind)}\n\n## {title}\n\n{excerpt(e, EXAMPLE_CHARS)}\n\n---"
             for e in examples[:2] if e.strip()]
    document = [f"# {heading.strip()}"]
    budget = DOCUMENT_CHARS
    written: list[str] = []
    for part in reversed(before):  # the nearest sections matter most: they keep their full text
        text = part.text.strip() if len(part.text) <= budget else excerpt(part.text, max(120, budget // 2))
        budget -= len(text)
        written.insert(0, f"## {part.title}\n\n{text}" if text else f"## {part.title}")
    document += written
    # The prompt ends on the opening's last words, with no trailing space (BPE words carry their
    # leading space): the model goes on with the same thought. Ending on a blank line instead
    # invites a small model to start the next heading, and so to write nothing.
    document.append(f"## {title}\n\n{opening.strip()}" if opening.strip() else f"## {title}\n\n")
    return "\n\n".join(parts + ["\n\n".join(document)])


# Chatter a small chat model wraps around the text it was asked for.
_META = re.compile(r"^(?:here is|here are|here's|sure|certainly|of course|this section|the section|note:|i hope|write the|continue)\b", re.I)


_ITEM_MARK = re.compile(r"\s*(?:[*+-]|\d{1,3}[.)])\s+")


def _key(sentence: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", sentence.casefold()).split())


def clean_section(text: str, title: str, already: str = "", keep_lead: bool = False) -> str:
    """Tidy the model's prose for one section.

    Small models wrap a section in its heading, loop on a sentence and stop mid-sentence at the
    token limit. Drop the heading, every sentence said before (here or in `already`, the section's
    fixed wording), and an unfinished last sentence when a finished one precedes it.
    """
    if keep_lead:
        # A continuation of primed words: its first sentence finishes the fixed one, so it stays.
        head, sep, rest = text.partition(". ")
        if not sep:
            return " ".join(text.split())
        head = " ".join(head.split()) + "."
        return f"{head} {clean_section(rest, title, already + chr(10) + head)}".strip()
    lines = text.strip().splitlines()
    while lines:
        first = lines[0].strip().strip("#*_ ").rstrip(":").strip()
        if first.casefold() in {title.casefold(), ""} or lines[0].lstrip().startswith("#"):
            lines.pop(0)
            continue
        break
    seen = {_key(s) for s in sentences(already) if _key(s)}
    # list items end without a stop
    seen |= {_key(_ITEM_MARK.sub("", line)) for line in already.splitlines() if _key(line)}
    openings: dict[str, int] = {}
    paragraphs = []
    for paragraph in re.split(r"\n\s*\n", "\n".join(lines)):
        kept_lines = []
        for line in paragraph.splitlines():
            kept = []
            mark = _ITEM_MARK.match(line)  # a list item keeps its marker ("1.", "*")
            for sentence in sentences(line[mark.end():] if mark else line):
                key = _key(sentence)
                if not re.search(r"[a-z]", key) or _META.match(sentence.strip()):
                    continue
                if key in seen or any(len(key) > 20 and key in old for old in seen):
                    continue
                # A small model loops on one opening ("This matters because ..."): allow it twice.
                opening = " ".join(key.split()[:3])
                openings[opening] = openings.get(opening, 0) + 1
                if len(key.split()) > 3 and openings[opening] > 2:
                    continue
                seen.add(key)
                kept.append(sentence.strip())
            if kept:
                kept_lines.append((f"{mark.group(0).strip()} " if mark else "") + " ".join(kept))
        if kept_lines:
            paragraphs.append("\n".join(kept_lines))
    cleaned = "\n\n".join(paragraphs).strip()
    if cleaned and cleaned[-1] not in ".!?:;)\"'":
        end = max(cleaned.rfind(". "), cleaned.rfind(".\n"), cleaned.rfind("? "), cleaned.rfind("! "))
        if end > 0:
            cleaned = cleaned[: end + 1].rstrip()
        elif cleaned.endswith((",", " and", " or", " the", " of", " to", " a")):
            cleaned = cleaned.rstrip(",")
    return cleaned


def lead_in(fixed_text: str) -> str:
    """The words just before the {draft} slot in the same paragraph: the model's reply starts with them,
    which steers a small model far better than describing them."""
    before = fixed_text.partition("{" + DRAFT_SLOT + "}")[0]
    return before.rsplit("\n\n", 1)[-1].lstrip() if "{" + DRAFT_SLOT + "}" in fixed_text else ""


DRAFT_MARKER = "\x00DRAFT\x00"  # stands in for the {draft} slot while the fields are filled


def _filled_around_slot(template: Template, fixed_text: str, values: dict[str, str]) -> str:
    return render_text(template, fixed_text.replace("{" + DRAFT_SLOT + "}", DRAFT_MARKER), values)


def join_mixed(template: Template, fixed_text: str, values: dict[str, str], prose: str) -> str:
    """A mixed section: the fixed wording with fields filled and the model's prose in the {draft} slot."""
    filled = _filled_around_slot(template, fixed_text, values)
    prose = prose.strip()
    inline = re.search(r"[\w,][ \t]*" + re.escape(DRAFT_MARKER), filled) is not None  # the slot is inside a sentence
    if not prose or (inline and _NEW_ITEM.match(prose)):
        # No prose, or prose that does not finish the sentence leading into the slot (the guards
        # dropped the sentence that did, and the next begins a list item): the unfinished sentence
        # ("We chose this because", "* Good, because") goes, and so does its paragraph if nothing
        # else is left; whole sentences before it stay.
        filled = "\n\n".join(_without_unfinished(p) for p in re.split(r"\n\s*\n", filled))
    elif inline:
        prose = _RESTARTED.sub(lambda m: m.group(0).lower(), prose, count=1)
    return re.sub(r"\n{3,}", "\n\n", filled.replace(DRAFT_MARKER, prose)).strip()


def _without_unfinished(paragraph: str) -> str:
    """A paragraph with the slot: its whole sentences before the slot, then the slot on its own."""
    if DRAFT_MARKER not in paragraph:
        return paragraph
    before = paragraph.split(DRAFT_MARKER, 1)[0]
    ends = [m.end() for m in re.finditer(r"[.!?;:](?=\s|$)", before)]
    head = before[:ends[-1]].rstrip() if ends else ""
    if _LIST_MARKER.fullmatch(head):  # "2. The device of claim 1, wherein": "2." is no sentence
        head = ""
    return f"{head}\n\n{DRAFT_MARKER}" if head.strip() else DRAFT_MARKER


# Prose that opens a list item or a heading of its own.
_NEW_ITEM = re.compile(rf"{_ITEM_MARK.pattern}|#+\s")
_LIST_MARKER = re.compile(r"\s*(?:\d+|[a-z]|[ivxlc]+)[.)]\s*")

# A small model continuing "We chose this because" sometimes starts a new sentence ("The way we
# choose ..."); inside the template's sentence the word is lower case.
_RESTARTED = re.compile(r"^(?:The|This|That|These|Those|It|Its|We|Our|They|Their|There|A|An|In|As|For|To|If|When)\b")


def wording_before_slot(template: Template, fixed_text: str, values: dict[str, str]) -> str:
    """The filled fixed wording that comes before the {draft} slot ("" when there is no slot)."""
    if "{" + DRAFT_SLOT + "}" not in fixed_text:
        return ""
    return _filled_around_slot(template, fixed_text, values).split(DRAFT_MARKER, 1)[0].lstrip().rstrip(" ")
