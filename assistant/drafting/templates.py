"""Document templates: TOML data files in `templates/` (shipped) and `<data dir>/templates/` (the user's).

Templates are data: the only thing they can do is name fields that are substituted as `{field}`
into fixed text. A broken file never stops the others from loading; it becomes a
`file:line: what is wrong` message instead (see `load_templates`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import assistant
from engine.errors import UserError

FIELD_TYPES = ("text", "long_text", "date", "money", "person", "address", "list", "number")
SECTION_MODES = ("fixed", "generate", "mixed")
NUMBERING_STYLES = ("none", "sections")
# The slot in a "mixed" section's text where the model's prose goes.
DRAFT_SLOT = "draft"
# `{name}` only: no attribute access, no expressions; `{{` and `}}` are literal braces.
# `{name:format}` picks one of the field type's formats (see indian_format.FORMATS), e.g. `{rent:words}`.
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?\}")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: str = "text"
    required: bool = True
    help: str = ""
    default: str = ""
    not_before: str = ""  # a date field: validate warns when this date comes before that one's
    not_above: str = ""  # a money field: validate warns when this amount is more than that one's


@dataclass(frozen=True)
class SectionSpec:
    id: str
    title: str
    mode: str = "generate"  # fixed | generate | mixed
    required: bool = True
    guidance: str = ""
    uses: tuple[str, ...] = ()  # fields that must appear in the finished section
    text: str = ""  # fixed wording for fixed/mixed sections, with {field} and (mixed) {draft}
    retrieval: str = ""  # extra words for finding example sections in the library
    variants: tuple[str, ...] = ()  # empty: in every variant
    schedule: bool = False  # exported as a schedule (a table of "Item: value" lines)
    max_tokens: int = 0  # 0: the workflow's default
    # Layout (DOCX/PDF only; Markdown keeps the plain structure):
    signatures: bool = False  # signature and witness blocks as a borderless table with space to sign
    numbered: bool = False  # every paragraph and list item is a numbered clause (an affidavit's "That ...")
    show_title: bool = True  # false: no heading in print (parties, recitals)
    opening: str = ""  # a generated section's first words ("* Good, because"), kept in its text

    @property
    def around_prose(self) -> str:
        """The template's wording around the model's prose, with the {draft} slot: a mixed
        section's text, or a generated one's opening and then the prose ('' when neither)."""
        if self.mode == "mixed":
            return self.text
        if self.mode == "generate" and self.opening.strip():
            return self.opening + ("{" + DRAFT_SLOT + "}" if self.opening.endswith("\n") else " {" + DRAFT_SLOT + "}")
        return ""


LAYOUT_STYLES = ("plain", "legal")
PAPER_SIZES = ("A4", "Letter", "Legal")


@dataclass(frozen=True)
class Layout:
    """How a document looks in Word and PDF; `[layout]` in a template (see templates/SCHEMA.md)."""

    style: str = "plain"  # plain (technical: ADRs, patents) | legal (serif, justified, clause numbering)
    font: str = ""  # "": the style's own (legal: Times New Roman)
    font_size: int = 0  # points; 0: the style's own (legal 12, plain 11)
    justify: bool | None = None  # None: the style's own (legal: justified)
    paper: str = "A4"
    page_numbers: bool | None = None  # "Page X of Y" in the footer; None: the style's own (legal: on)
    clause_numbering: bool | None = None  # typed "1." clauses become Word numbering; None: the style's own
    stamp_space_cm: float = 0.0  # blank space at the top of the first page, for stamp paper
    front_matter: tuple[tuple[str, str], ...] = ()  # (front-matter key, field name): MADR's YAML header

    @property
    def legal(self) -> bool:
        return self.style == "legal"

    def choose(self, value: object, legal: object, plain: object) -> object:
        return value if value not in (None, "", 0) else (legal if self.legal else plain)


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    kind: str  # the library kind used to find examples: adr, legal, patent, ...
    description: str = ""
    fields: tuple[FieldSpec, ...] = ()
    sections: tuple[SectionSpec, ...] = ()
    variants: tuple[str, ...] = ()  # first one is the default
    numbering: str = "none"  # none | sections ("1. Title" headings)
    heading: str = ""  # the document's title line, with {field}; empty: the session title
    adr: bool = False  # exported with adr-tools numbering and supersede links
    max_extra_sections: int = 3  # how many sections beyond the template's `plan` may add
    source: str = ""  # the file it came from
    layout: Layout = Layout()

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    def sections_for(self, variant: str = "") -> tuple[SectionSpec, ...]:
        variant = variant or (self.variants[0] if self.variants else "")
        return tuple(s for s in self.sections if not s.variants or variant in s.variants)


@dataclass
class TemplateSet:
    templates: dict[str, Template] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class TemplateError(UserError):
    """A template file that cannot be used; the message is `file:line: what is wrong`."""


def shipped_dir() -> Path:
    return Path(assistant.__file__).resolve().parent.parent / "templates"


def user_dir() -> Path:
    from engine.paths import data_dir

    return data_dir() / "templates"


def placeholders(text: str) -> list[str]:
    return [m.group(1) for m in PLACEHOLDER.finditer(text) if m.group(1)]


def fill(text: str, values: dict[str, str], keep_missing: bool = True) -> str:
    """Substitute `{name}` from values; a missing or empty value stays `{name}` so validate flags it."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        value = str(values.get(match.group(1), "") or "").strip()
        if value:
            return value
        return token if keep_missing else ""

    return PLACEHOLDER.sub(one, text)


_AMOUNT = re.compile(r"^\s*(?:rs\.?|inr|₹)?\s*(\d[\d,]*)(?:\.(\d{1,2}))?\s*(?:/-)?\s*$", re.I)


def indian_grouping(digits: str) -> str:
    """12345678 -> 1,23,45,678 (lakh and crore grouping, as Indian documents write amounts)."""
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join(groups + [tail])


def format_money(value: str) -> str:
    """'28000', 'Rs 28,000' or '₹28000' -> 'Rs. 28,000/-'; anything else is kept as written."""
    match = _AMOUNT.match(value)
    if not match:
        return value
    digits = match.group(1).replace(",", "").lstrip("0") or "0"
    paise = match.group(2)
    return f"Rs. {indian_grouping(digits)}" + (f".{paise.ljust(2, '0')}" if paise and paise.strip("0") else "/-")


def list_items(value: str) -> list[str]:
    """A list field's items: one per line, or separated by ';' (commas may occur inside an item)."""
    return [i.strip().lstrip("-*• ").strip() for i in re.split(r"[;\n]", value) if i.strip().lstrip("-*• ").strip()]


PARAGRAPH_END = re.compile(r"[ \t]*(?:\n[ \t]*\n|\s*$)")


def render_text(template: "Template", text: str, values: dict[str, str]) -> str:
    """Fill a template text: money is written the Indian way, empty optional fields vanish,
    empty required ones stay `{name}` so validate reports them. `{name:format}` writes the value in
    one of its type's formats (`{rent:words}`, `{start_date:long}`: see indian_format.FORMATS)."""
    from assistant.drafting.indian_format import FORMATS, apply_format

    raw = {f.name: str(values.get(f.name, "") or "").strip() for f in template.fields}
    types = {f.name: f.type for f in template.fields}
    shown: dict[str, str] = {}
    for f in template.fields:
        value = str(values.get(f.name, "") or "").strip()
        if value and f.type == "money":
            value = format_money(value)
        shown[f.name] = value
    keep = {f.name for f in template.fields if f.required}
    lists = {f.name for f in template.fields if f.type == "list"}

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name, fmt = match.group(1), match.group(2)
        if fmt and name in shown and fmt not in FORMATS.get(types[name], {}):
            return token  # the loader refuses such a template; text from elsewhere stays as written
        if fmt and shown.get(name):
            return apply_format(types[name], fmt, raw[name])
        if shown.get(name):
            if name in lists:
                items = list_items(shown[name])
                line_start = text.rfind("\n", 0, match.start()) + 1
                line_end = text.find("\n", match.end())
                alone = not text[line_start:match.start()].strip() and not text[match.end():None if line_end < 0 else line_end].strip()
                # A list on a line of its own becomes bullets; inside a sentence, a comma list.
                return "\n".join(f"- {i}" for i in items) if alone else ", ".join(items)
            if types[name] == "long_text" and PARAGRAPH_END.match(text, match.end()) and shown[name][-1:].isalnum():
                # a gist ending its paragraph is a sentence: unfinished, the model would finish it
                # in the next paragraph ("…for each helper" + "component.")
                return shown[name] + "."
            return shown[name]
        if name in keep:
            return "{" + name + "}"  # without its format, as validate looks for it
        return token if name not in shown else ""

    return PLACEHOLDER.sub(one, text)


def _line_of(raw: str, needle: str, after: int = 0) -> int:
    """1-based line of the first line at or after `after` containing needle (best effort)."""
    lines = raw.splitlines()
    for number in range(max(after, 1), len(lines) + 1):
        if needle in lines[number - 1]:
            return number
    return max(after, 1)


def _table_lines(raw: str, header: str) -> list[int]:
    return [n for n, line in enumerate(raw.splitlines(), start=1) if line.strip().replace(" ", "") == header]


class _Bad(ValueError):
    """A problem with one key of a table; `key` lets the loader point at that key's line."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _key_line(raw: str, header_line: int, key: str) -> int:
    """The line of `key = ...` inside the table that starts at header_line (else the header)."""
    lines = raw.splitlines()
    for number in range(header_line + 1, len(lines) + 1):
        stripped = lines[number - 1].strip()
        if stripped.startswith("["):
            break
        if re.match(rf"{re.escape(key)}\s*=", stripped):
            return number
    return max(header_line, 1)


def _text(data: dict, key: str, where: str, required: bool = False, default: str = "") -> str:
    value = data.get(key, default)
    if value is None or (required and value == ""):
        raise _Bad(key, f"{where}: '{key}' is required")
    if not isinstance(value, str):
        raise _Bad(key, f"{where}: '{key}' must be a string, not {type(value).__name__}")
    return value


def _strings(data: dict, key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(key, f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def _flag(data: dict, key: str, where: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise _Bad(key, f"{where}: '{key}' must be true or false")
    return value


class _Located(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _parse_field(data: object, index: int, line: int, raw: str) -> FieldSpec:
    if not isinstance(data, dict):
        raise _Located(line, f"fields[{index}] must be a table")
    try:
        name = _text(data, "name", f"fields[{index}]", required=True)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name == DRAFT_SLOT:
            raise _Bad("name", f"fields[{index}]: bad field name '{name}' (letters, digits, _; not '{DRAFT_SLOT}')")
        kind = _text(data, "type", f"field '{name}'", default="text")
        if kind not in FIELD_TYPES:
            raise _Bad("type", f"field '{name}': unknown type '{kind}' (use {', '.join(FIELD_TYPES)})")
        default = data.get("default", "")
        if not isinstance(default, (str, int, float)) or isinstance(default, bool):
            raise _Bad("default", f"field '{name}': 'default' must be a string or a number")
        return FieldSpec(
            name=name, label=_text(data, "label", f"field '{name}'", default=name.replace("_", " ").capitalize()),
            type=kind, required=_flag(data, "required", f"field '{name}'", True),
            help=_text(data, "help", f"field '{name}'"), default=str(default),
            not_before=_text(data, "not_before", f"field '{name}'"),
            not_above=_text(data, "not_above", f"field '{name}'"),
        )
    except _Bad as exc:
        raise _Located(_key_line(raw, line, exc.key), str(exc)) from None


def _parse_section(data: object, index: int, line: int, field_names: dict[str, str], variants: tuple[str, ...],
                   raw: str) -> SectionSpec:
    if not isinstance(data, dict):
        raise _Located(line, f"sections[{index}] must be a table")
    try:
        title = _text(data, "title", f"sections[{index}]", required=True)
        where = f"section '{title}'"
        mode = _text(data, "mode", where, default="generate")
        if mode not in SECTION_MODES:
            raise _Bad("mode", f"{where}: unknown mode '{mode}' (use {', '.join(SECTION_MODES)})")
        text = _text(data, "text", where)
        if mode in ("fixed", "mixed") and not text.strip():
            raise _Bad("mode", f"{where}: a {mode} section needs 'text'")
        names = placeholders(text)
        if mode == "mixed" and DRAFT_SLOT not in names:
            raise _Bad("text", f"{where}: a mixed section's text needs a {{{DRAFT_SLOT}}} slot")
        if mode != "mixed" and DRAFT_SLOT in names:
            raise _Bad("text", f"{where}: only a mixed section may have a {{{DRAFT_SLOT}}} slot")
        _check_fields("text", text, where, field_names)
        uses = _strings(data, "uses", where)
        bad = [n for n in uses if n not in field_names]
        if bad:
            raise _Bad("uses", f"{where}: 'uses' names unknown field '{bad[0]}'")
        section_variants = _strings(data, "variants", where)
        stray = [v for v in section_variants if v not in variants]
        if stray:
            raise _Bad("variants", f"{where}: variant '{stray[0]}' is not in the template's variants")
        opening = _text(data, "opening", where)
        if opening and mode != "generate":
            raise _Bad("opening", f"{where}: only a generated section has an 'opening' (a mixed one's text has it)")
        if DRAFT_SLOT in placeholders(opening):
            raise _Bad("opening", f"{where}: the opening is the text before the model's prose: no {{{DRAFT_SLOT}}}")
        _check_fields("opening", opening, where, field_names)
        max_tokens = data.get("max_tokens", 0)
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not 0 <= max_tokens <= 4096:
            raise _Bad("max_tokens", f"{where}: 'max_tokens' must be a whole number from 0 to 4096")
        sid = _text(data, "id", where, default=re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or f"s{index}")
        return SectionSpec(
            id=sid, title=title, mode=mode, required=_flag(data, "required", where, True),
            guidance=_text(data, "guidance", where), uses=uses, text=text,
            retrieval=_text(data, "retrieval", where), variants=section_variants,
            schedule=_flag(data, "schedule", where, False), max_tokens=max_tokens,
            signatures=_flag(data, "signatures", where, False), numbered=_flag(data, "numbered", where, False),
            show_title=_flag(data, "show_title", where, True), opening=opening,
        )
    except _Bad as exc:
        raise _Located(_key_line(raw, line, exc.key), str(exc)) from None


KNOWN_KEYS = {"id", "name", "kind", "description", "fields", "sections", "variants", "numbering", "heading", "adr",
              "max_extra_sections", "layout"}
LAYOUT_KEYS = {"style", "font", "font_size", "justify", "paper", "page_numbers", "clause_numbering", "stamp_space_cm",
               "front_matter"}


def _check_fields(key: str, text: str, where: str, field_types: dict[str, str]) -> None:
    """Every `{name}` in a section's `key` is a declared field (or the draft slot) in one of its formats."""
    unknown = [n for n in placeholders(text) if n != DRAFT_SLOT and n not in field_types]
    if unknown:
        raise _Bad(key, f"{where}: {key} uses unknown field '{unknown[0]}'")
    bad_format = _bad_format(text, field_types)
    if bad_format:
        raise _Bad(key, f"{where}: {bad_format}")


def _bad_format(text: str, field_types: dict[str, str]) -> str:
    """'' when every `{name:format}` names a format of the field's type, else what is wrong."""
    from assistant.drafting.indian_format import formats_for

    for match in PLACEHOLDER.finditer(text):
        name, fmt = match.group(1), match.group(2)
        if fmt and name in field_types and fmt not in formats_for(field_types[name]):
            known = ", ".join(formats_for(field_types[name])) or "none"
            return f"field '{name}' ({field_types[name]}) has no format '{fmt}' (its formats: {known})"
    return ""


def _parse_layout(data: object, field_names: set[str]) -> Layout:
    if not isinstance(data, dict):
        raise _Bad("layout", "'layout' must be a table ([layout])")
    stray = sorted(set(data) - LAYOUT_KEYS)
    if stray:
        raise _Bad(stray[0], f"layout: unknown key '{stray[0]}' (known: {', '.join(sorted(LAYOUT_KEYS))})")
    style = _text(data, "style", "layout", default="plain")
    if style not in LAYOUT_STYLES:
        raise _Bad("style", f"layout: unknown style '{style}' (use {', '.join(LAYOUT_STYLES)})")
    paper = _text(data, "paper", "layout", default="A4")
    if paper not in PAPER_SIZES:
        raise _Bad("paper", f"layout: unknown paper '{paper}' (use {', '.join(PAPER_SIZES)})")
    size = data.get("font_size", 0)
    if not isinstance(size, int) or isinstance(size, bool) or not (size == 0 or 8 <= size <= 16):
        raise _Bad("font_size", "layout: 'font_size' must be a whole number of points from 8 to 16")
    stamp = data.get("stamp_space_cm", 0)
    if not isinstance(stamp, (int, float)) or isinstance(stamp, bool) or not 0 <= stamp <= 20:
        raise _Bad("stamp_space_cm", "layout: 'stamp_space_cm' must be a number of centimetres from 0 to 20")
    front = data.get("front_matter", {})
    if not isinstance(front, dict) or not all(isinstance(v, str) for v in front.values()):
        raise _Bad("front_matter", "layout: 'front_matter' must be a table of key = \"field name\"")
    unknown = [v for v in front.values() if v not in field_names]
    if unknown:
        raise _Bad("front_matter", f"layout: 'front_matter' names unknown field '{unknown[0]}'")

    def maybe(key: str) -> bool | None:
        return _flag(data, key, "layout", False) if key in data else None

    return Layout(style=style, font=_text(data, "font", "layout"), font_size=size, justify=maybe("justify"),
                  paper=paper, page_numbers=maybe("page_numbers"), clause_numbering=maybe("clause_numbering"),
                  stamp_space_cm=float(stamp), front_matter=tuple(front.items()))


def parse_template(raw: str, source: str = "<template>") -> Template:
    """Parse one template's TOML text; raises TemplateError('source:line: message')."""
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        # Older tomllib puts the position only in the message: "... (at line 3, column 7)".
        text = str(exc)
        found = re.search(r"\(at line (\d+)", text)
        line = getattr(exc, "lineno", None) or (int(found.group(1)) if found else max(raw.count("\n"), 0) + 1)
        message = getattr(exc, "msg", None) or text.split(" (at ")[0]
        raise TemplateError(f"{source}:{line}: {message}") from None
    try:
        return _build(data, raw, source)
    except _Located as exc:
        raise TemplateError(f"{source}:{exc.line}: {exc.message}") from None


def _build(data: dict, raw: str, source: str) -> Template:
    def top(key: str, message: str) -> _Located:
        return _Located(_line_of(raw, key), message)

    stray = sorted(set(data) - KNOWN_KEYS)
    if stray:
        raise top(stray[0], f"unknown key '{stray[0]}' (known: {', '.join(sorted(KNOWN_KEYS))})")
    try:
        tid = _text(data, "id", "template", required=True)
        if not ID_PATTERN.match(tid):
            raise _Bad("id", f"template id '{tid}' must be lower-case letters, digits and '-'")
        name = _text(data, "name", "template", required=True)
        kind = _text(data, "kind", "template", required=True)
        variants = _strings(data, "variants", "template")
        numbering = _text(data, "numbering", "template", default="none")
        if numbering not in NUMBERING_STYLES:
            raise _Bad("numbering", f"template: unknown numbering '{numbering}' (use {', '.join(NUMBERING_STYLES)})")
        heading = _text(data, "heading", "template")
        description = _text(data, "description", "template")
        adr = _flag(data, "adr", "template", False)
        max_extra = data.get("max_extra_sections", 3)
        if not isinstance(max_extra, int) or isinstance(max_extra, bool) or not 0 <= max_extra <= 20:
            raise _Bad("max_extra_sections", "template: 'max_extra_sections' must be a whole number from 0 to 20")
    except _Bad as exc:
        raise _Located(_key_line(raw, 0, exc.key), str(exc)) from None

    raw_fields = data.get("fields", [])
    if not isinstance(raw_fields, list):
        raise top("fields", "'fields' must be an array of tables ([[fields]])")
    field_lines = _table_lines(raw, "[[fields]]")
    fields: list[FieldSpec] = []
    for i, item in enumerate(raw_fields):
        spec = _parse_field(item, i, field_lines[i] if i < len(field_lines) else _line_of(raw, "fields"), raw)
        if any(f.name == spec.name for f in fields):
            raise _Located(field_lines[i] if i < len(field_lines) else 1, f"field '{spec.name}' is defined twice")
        fields.append(spec)
    names = {f.name: f.type for f in fields}
    for i, f in enumerate(fields):
        for key, other, needed in (("not_before", f.not_before, "date"), ("not_above", f.not_above, "money")):
            if other and (f.type != needed or names.get(other) != needed):
                raise _Located(_key_line(raw, field_lines[i] if i < len(field_lines) else 0, key),
                               f"field '{f.name}': '{key}' needs a {needed} field naming another {needed} field")

    raw_sections = data.get("sections", [])
    if not isinstance(raw_sections, list) or not raw_sections:
        raise top("sections", "a template needs at least one [[sections]] table")
    section_lines = _table_lines(raw, "[[sections]]")
    sections: list[SectionSpec] = []
    for i, item in enumerate(raw_sections):
        line = section_lines[i] if i < len(section_lines) else _line_of(raw, "sections")
        spec = _parse_section(item, i, line, names, variants, raw)
        if any(s.id == spec.id for s in sections):
            raise _Located(line, f"section id '{spec.id}' is used twice")
        sections.append(spec)
    unknown = [n for n in placeholders(heading) if n not in names]
    if unknown:
        raise top("heading", f"heading uses unknown field '{unknown[0]}'")
    if _bad_format(heading, names):
        raise top("heading", f"heading: {_bad_format(heading, names)}")
    layout = Layout()
    if "layout" in data:
        try:
            layout = _parse_layout(data["layout"], set(names))
        except _Bad as exc:
            raise _Located(_key_line(raw, _table_lines(raw, "[layout]")[0] if _table_lines(raw, "[layout]") else 0,
                                     exc.key), str(exc)) from None
    return Template(
        id=tid, name=name, kind=kind, description=description, fields=tuple(fields), sections=tuple(sections),
        variants=variants, numbering=numbering, heading=heading, adr=adr, max_extra_sections=max_extra, source=source,
        layout=layout,
    )


def load_file(path: Path) -> Template:
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise TemplateError(f"{path}:{line}: not UTF-8 text") from None
    except OSError as exc:
        raise TemplateError(f"{path}:1: cannot read ({exc.strerror or exc})") from None
    return parse_template(raw, str(path))


def load_templates(folders: list[Path] | None = None) -> TemplateSet:
    """Every `*.toml` in the folders, later folders overriding earlier ones by id; errors collected."""
    result = TemplateSet()
    for folder in folders if folders is not None else [shipped_dir(), user_dir()]:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                template = load_file(path)
            except TemplateError as exc:
                result.errors.append(str(exc))
                continue
            result.templates[template.id] = template
    return result


def list_templates() -> list[Template]:
    return sorted(load_templates().templates.values(), key=lambda t: t.id)


def get_template(template_id: str) -> Template:
    found = load_templates()
    if template_id in found.templates:
        return found.templates[template_id]
    broken = [e for e in found.errors if Path(e.split(":", 1)[0]).stem == template_id]
    if broken:
        raise TemplateError(broken[0])
    known = ", ".join(sorted(found.templates)) or "none"
    raise UserError(f"no template '{template_id}' (known: {known})")


def template_outline(template: Template, variant: str) -> list[tuple[str, str, str]]:
    return [(s.id, s.title, s.guidance) for s in template.sections_for(variant)]


def section_spec(template: Template, key: str) -> SectionSpec | None:
    return next((s for s in template.sections if s.id == key), None) if key else None
