"""Checks a session against its template and returns precise findings (pure functions, no I/O).

Facts are compared after normalisation, because people and models write the same fact many ways:
"Rs. 28,000/-" and "28000" are one amount, "01/03/2025" and "1st March, 2025" one date, and names
match regardless of case, spacing or honorifics.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass

from assistant.drafting import quality
from assistant.drafting.indian_format import amount_figures, day_ordinal, parse_amount, parse_date
from assistant.drafting.prompts import scaffolding
from assistant.drafting.sessions import Session
from assistant.drafting.templates import FieldSpec, Template, list_items, render_text

MONTHS = {name: i for i, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
     ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
     ("december", "dec")], start=1) for name in names}
_MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_ORD = r"(?:st|nd|rd|th)?"
NUMERIC_DATE = re.compile(r"\b(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,4})\b")
DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}}){_ORD}\s+(?:day\s+of\s+)?{_MONTH},?\s+(\d{{4}})\b", re.I)
MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}}){_ORD},?\s+(\d{{4}})\b", re.I)
NUMBER = re.compile(r"(?<![\d,])\d[\d,]*(?:\.\d+)?")
HONORIFICS = {"mr", "mrs", "ms", "miss", "shri", "sri", "smt", "kumari", "km", "dr", "m/s", "ms."}
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
STOPWORDS = set("""a an the and or of to in on for with by from at as is are was were be been being this that these
those it its we our us they their them will would should could can may might must not no so such than then there
which who whom what when where why how all any each other into over under about also use using used""".split())

PLACEHOLDER_LABELS = {"field": "unfilled field", "bracket": "bracketed placeholder", "angle": "angle-bracket placeholder",
                      "gap": "blank line to fill in", "marker": "marker"}


REPEAT_MIN_WORDS = 4  # shorter sentences ("Accepted.", "1.") repeat legitimately


@dataclass(frozen=True)
class Finding:
    code: str  # missing_value | missing_section | empty_section | missing_fact | placeholder | echo | repeated_sentence | order | not_drafted | date_order | amount_order | unsupported | guessed | unchecked
    message: str
    severity: str = "error"  # error | warning
    section: int | None = None  # 1-based outline position
    section_title: str = ""
    field: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


# -- normalisation --------------------------------------------------------------------------------

def norm_words(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split())


def norm_number(token: str) -> str:
    digits = token.replace(",", "")
    if "." in digits:
        whole, _, frac = digits.partition(".")
        digits = whole if not frac.strip("0") else f"{whole}.{frac.rstrip('0')}"
    return digits.lstrip("0") or "0"


def numbers_in(text: str) -> set[str]:
    return {norm_number(m.group(0).rstrip(",")) for m in NUMBER.finditer(text)}


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def dates_in(text: str) -> set[dt.date]:
    """Every date the text can be read as; numeric dates count both day-first and month-first."""
    found: set[dt.date] = set()
    for a, b, c in NUMERIC_DATE.findall(text):
        x, y, z = int(a), int(b), int(c)
        if len(a) == 4:
            candidates = [(x, y, z)]
        else:
            year = z + 2000 if len(c) == 2 else z
            candidates = [(year, y, x), (year, x, y)]
        found.update(d for d in (_safe_date(*c_) for c_ in candidates) if d)
    for day, month, year in DAY_MONTH_YEAR.findall(text):
        d = _safe_date(int(year), MONTHS[month.lower()], int(day))
        if d:
            found.add(d)
    for month, day, year in MONTH_DAY_YEAR.findall(text):
        d = _safe_date(int(year), MONTHS[month.lower()], int(day))
        if d:
            found.add(d)
    return found


def _name_words(value: str) -> list[str]:
    return [w for w in norm_words(value).split() if w not in HONORIFICS]


def content_words(text: str) -> set[str]:
    return {w for w in norm_words(text).split() if len(w) > 3 and w not in STOPWORDS}


def fact_present(kind: str, value: str, text: str) -> tuple[bool, str]:
    """Whether `value` (a field of type `kind`) appears in `text`; the string says what was missing."""
    value = value.strip()
    if not value:
        return True, ""
    if kind == "money" or (kind == "number" and numbers_in(value)):
        wanted = numbers_in(value)
        if wanted:
            have = numbers_in(text)
            missing = sorted(wanted - have)
            if kind == "number" and missing:
                words = set(norm_words(text).split())
                missing = [m for m in missing if not (m.isdigit() and int(m) < len(NUMBER_WORDS)
                                                      and NUMBER_WORDS[int(m)] in words)]
            return not missing, ", ".join(missing)
    if kind == "date":
        wanted_dates = dates_in(value)
        if wanted_dates:
            ok = bool(wanted_dates & dates_in(text))
            return ok, "" if ok else value
    if kind == "list":
        items = [i for i in list_items(value) if norm_words(i)]
        missing = [i.strip() for i in items if f" {norm_words(i)} " not in f" {norm_words(text)} "]
        return not missing, "; ".join(missing)
    if kind == "long_text":
        if norm_words(value) in norm_words(text):
            return True, ""
        wanted = content_words(value)
        if not wanted:
            return True, ""
        missing = sorted(wanted - content_words(text))
        # A gist is expanded into prose, not copied: most of its content words must survive.
        ok = len(missing) <= 0.4 * len(wanted)
        return ok, "" if ok else "words " + ", ".join(missing[:8])
    if kind == "person":
        words = _name_words(value)
        # Honorifics go from both sides: "Shri R. K. Sharma" in the value is "R. K. Sharma" in the text too.
        ok = not words or f" {' '.join(words)} " in f" {' '.join(_name_words(text))} "
        return ok, "" if ok else value
    # a bare day number is written as "5th" where the template asks for its ordinal
    ok = any(f" {norm_words(form)} " in f" {norm_words(text)} " for form in (value, day_ordinal(value)))
    return ok, "" if ok else value


def placeholders_in(text: str) -> list[tuple[str, str]]:
    """(the placeholder, what kind it is) for every unresolved placeholder in the text."""
    return [(p.text, PLACEHOLDER_LABELS.get(p.kind, p.kind)) for p in quality.find_placeholders(text)]


# -- the checks -----------------------------------------------------------------------------------

def _quote(value: str, limit: int = 40) -> str:
    value = " ".join(value.split())
    return f'"{value[: limit - 1]}…"' if len(value) > limit else f'"{value}"'


def validate_session(template: Template, session: Session) -> list[Finding]:
    findings: list[Finding] = []
    specs = template.sections_for(session.variant)
    order = {spec.id: i for i, spec in enumerate(specs)}
    by_key = {s.key: s for s in session.sections if s.key}

    for f in template.fields:
        if f.required and not str(session.values.get(f.name, "")).strip():
            findings.append(Finding("missing_value", f"field '{f.name}' ({f.label}) has no value", field=f.name))
        findings += _out_of_order(f, session.values)

    for spec in specs:
        section = by_key.get(spec.id)
        if section is None:
            if spec.required:
                findings.append(Finding("missing_section", f"required section '{spec.title}' is not in the outline",
                                        section_title=spec.title))
            continue
        where = f"section {section.position} '{section.title}'"
        if not section.text.strip():
            if not spec.required and not section.undrafted:
                continue  # left empty on purpose (no other terms, say): export leaves it out
            severity = "error" if spec.required else "warning"
            code = "empty_section" if section.current else "not_drafted"
            state = "not drafted yet" if section.current is None else \
                "empty: the model wrote nothing usable (write it, draft it again, or remove it)" \
                if section.current.source == "generated" else "empty"
            findings.append(Finding(code, f"{where} is {state}",
                                    severity, section.position, section.title))
            continue
        for name in spec.uses:
            field_spec = template.field(name)
            value = str(session.values.get(name, ""))
            ok, missing = fact_present(field_spec.type if field_spec else "text", value, section.text)
            if not ok:
                detail = f" (missing {missing})" if missing and missing != value.strip() else ""
                findings.append(Finding("missing_fact", f"{where} does not mention {name} {_quote(value)}{detail}",
                                        "error", section.position, section.title, name))

    for section in session.sections:
        if not section.key and not section.text.strip():
            findings.append(Finding("not_drafted", f"section {section.position} '{section.title}' is "
                                    f"{'empty' if section.current else 'not drafted yet'}", "warning",
                                    section.position, section.title))
        for found, label in placeholders_in(section.text):
            findings.append(Finding("placeholder", f"section {section.position} '{section.title}' has an unresolved "
                                    f"{label}: {_quote(found)}", "error", section.position, section.title))
        current = section.current
        stats = current.stats if current is not None and current.source == "generated" else {}
        if stats.get("unsupported"):
            findings.append(Finding(
                "unsupported", f"section {section.position} '{section.title}' says what nothing given in the "
                f"document supports, or the opposite of a fact (the model's guess; check it or give the facts): "
                f"{_quote(stats['unsupported'][0], 60)}",
                "warning", section.position, section.title))
        elif stats.get("unchecked"):
            findings.append(Finding(
                "unchecked", f"section {section.position} '{section.title}' keeps the text of a draft you stopped, "
                "which the drafting checks would have dropped: read it (or draft it again)", "warning",
                section.position, section.title))
        elif stats.get("from_no_fact"):
            findings.append(Finding(
                "guessed", f"section {section.position} '{section.title}' is the model's own writing, from no fact "
                "you gave: check it (or give the facts and draft it again)", "warning", section.position,
                section.title))

    findings += _echo_and_repetition(template, session)

    heading = render_text(template, template.heading, session.values) if template.heading else ""
    for found, label in placeholders_in(heading):
        findings.append(Finding("placeholder", f"the document heading has an unresolved {label}: {_quote(found)}"))

    keyed = [s for s in session.sections if s.key in order]
    for before, after in zip(keyed, keyed[1:]):
        if order[after.key] < order[before.key]:
            findings.append(Finding(
                "order", f"section {after.position} '{after.title}' comes after section {before.position} "
                f"'{before.title}' but the template puts it first", "warning", after.position, after.title))
    return findings


def _out_of_order(f: FieldSpec, values: dict[str, str]) -> list[Finding]:
    """A date before the date it cannot precede, an amount above the one it cannot exceed (the
    earnest money above the price): each a warning, as the person may mean it."""
    out = []
    if f.not_before:
        this, other = (parse_date(str(values.get(n, ""))) for n in (f.name, f.not_before))
        if this and other and this < other:
            out.append(Finding("date_order", f"field '{f.name}' ({f.label}) is {this.isoformat()}, before "
                               f"'{f.not_before}' ({other.isoformat()}): check both dates", "warning", field=f.name))
    if f.not_above:
        this, other = (parse_amount(str(values.get(n, ""))) for n in (f.name, f.not_above))
        if this and other and this > other:
            out.append(Finding("amount_order", f"field '{f.name}' ({f.label}) is {amount_figures(values[f.name])}, "
                               f"more than '{f.not_above}' ({amount_figures(values[f.not_above])}): check both "
                               "amounts", "warning", field=f.name))
    return out


def _echo_and_repetition(template: Template, session: Session) -> list[Finding]:
    """Prompt scaffolding that came back as text (an error: no reader should see it), and sentences
    said again (a warning), naming the section. A sentence the template's own wording repeats
    (witness lines) is not counted."""
    scaffold = scaffolding(template)
    wording = [quality.sentence_key(s) for spec in template.sections if spec.text
               for s in quality.sentences(render_text(template, spec.text, session.values))]
    fixed = {key for key in wording if wording.count(key) > 1}  # the template repeats these itself
    own_wording = set(wording)  # the template's wording is never an echo, whatever it shares
    first_said: dict[str, int] = {}
    out: list[Finding] = []
    for section in session.sections:
        where = f"section {section.position} '{section.title}'"
        for sentence in quality.echo_sentences(section.text, scaffold):
            if quality.sentence_key(sentence) in own_wording:
                continue
            out.append(Finding("echo", f"{where} repeats the prompt's instructions: {_quote(sentence, 60)}", "error",
                               section.position, section.title))
        for sentence in quality.sentences(section.text):
            key = quality.sentence_key(sentence)
            if len(key.split()) < REPEAT_MIN_WORDS or key in fixed:
                continue
            if key in first_said:
                earlier = first_said[key]
                said = "earlier in the section" if earlier == section.position else f"in section {earlier}"
                out.append(Finding("repeated_sentence", f"{where} repeats a sentence said {said}: "
                                   f"{_quote(sentence, 60)}", "warning", section.position, section.title))
            else:
                first_said[key] = section.position
    return out


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]
