"""Turning a file's bytes into a titled document with metadata and heading-delimited sections.

Pure functions: no database, no model. Markdown, plain text, DOCX and text PDFs are understood;
anything else that cannot be read as text (a scanned PDF among them) is rejected with a `Skip`
carrying a reason for the user. Besides the coarse kind (adr, legal, patent, other) each document
gets a finer `form` (rent-agreement, affidavit, nda, adr, patent, ...) read from its title,
headings and wording, so drafting an affidavit is shown affidavits, not every legal text.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("adr", "legal", "patent", "other")
MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown", ".mkd"}
TEXT_SUFFIXES = {".txt", ".text", ".rst", ""}
DOCX_SUFFIXES = {".docx"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES | DOCX_SUFFIXES | PDF_SUFFIXES
MAX_FILE_BYTES = 10 * 1024 * 1024


class Skip(Exception):
    """A file that is not imported; the message is the reason shown to the user."""


@dataclass
class ParsedSection:
    heading: str  # heading path below the document title, " > "-joined; "" for the preamble
    level: int  # 0 for the preamble
    text: str
    page: int | None = None  # PDFs: the page the section starts on (1-based), for citations
    page_end: int | None = None  # ... and the page it ends on


@dataclass
class ParsedDocument:
    title: str
    kind: str
    metadata: dict[str, Any] = field(default_factory=dict)
    sections: list[ParsedSection] = field(default_factory=list)
    form: str = ""  # the finer kind (see FORMS); "" when nothing specific was recognised

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections if s.text)


def parse_bytes(path: Path, data: bytes, kind: str | None = None) -> ParsedDocument:
    """Parse one file's content; raises Skip for content we will not import.

    `kind` is a coarse kind (KINDS) or a form (FORMS, which implies its kind); guessed when None."""
    if not data.strip():
        raise Skip("empty file")
    suffix = path.suffix.lower()
    if suffix in DOCX_SUFFIXES:
        doc = parse_docx(data, path)
    elif suffix in PDF_SUFFIXES or data[:5] == b"%PDF-":
        doc = parse_pdf(data, path)
    else:
        text = decode_text(data)
        if suffix in MARKDOWN_SUFFIXES or looks_like_markdown(text):
            doc = parse_markdown(text, path)
        else:
            doc = parse_plain_text(text, path)
    if not any(s.text.strip() for s in doc.sections):
        raise Skip("no text found")
    if kind in FORMS:
        doc.kind, doc.form = FORMS[kind], kind
    elif kind:
        doc.kind = kind
        doc.form = guess_form(doc, path)
    else:
        doc.kind = guess_kind(path, doc)
        named = form_for_title(doc.title)
        if doc.kind in ("other", "patent") and named and named not in _WEAK_FORMS and "patent" not in str(path.parent).lower():
            doc.kind = "legal"  # "Family Settlement Deed": its claims and embodiments do not make it a patent
        doc.form = guess_form(doc, path)
    return doc


def decode_text(data: bytes) -> str:
    # NUL bytes never occur in text documents; they are the cheapest reliable sign of a binary file.
    if b"\x00" in data[:8192]:
        raise Skip("binary file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Skip(f"not UTF-8 text (bad byte at offset {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def looks_like_markdown(text: str) -> bool:
    return bool(re.search(r"^#{1,6} \S", text, re.M)) or text.startswith("---\n")


# --- Markdown -------------------------------------------------------------------------------

_ATX = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SETEXT = re.compile(r"^(=+|-+)\s*$")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter between leading '---' lines; unparsable YAML is kept as plain text."""
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---", 4)
    if end < 0:
        return {}, text
    block = text[4:end]
    rest = text[end + 4:]
    rest = rest[rest.find("\n") + 1:] if "\n" in rest else ""
    try:
        import yaml

        meta = yaml.safe_load(block)
    except Exception:  # noqa: BLE001 - any YAML error means "not front matter"
        return {}, text
    if not isinstance(meta, dict):
        return {}, text
    return {str(k).lower(): _plain(v) for k, v in meta.items()}, rest


def _plain(value: Any) -> Any:
    """JSON-safe metadata values (YAML gives dates and nested structures)."""
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line index, level, heading text) for ATX and setext headings outside code fences."""
    found: list[tuple[int, int, str]] = []
    in_fence = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = _ATX.match(line)
        if m:
            found.append((i, len(m.group(1)), _clean_inline(m.group(2))))
            continue
        if i > 0 and _SETEXT.match(line) and lines[i - 1].strip() and not _ATX.match(lines[i - 1]) \
                and not lines[i - 1].lstrip().startswith(("|", "-", "*", ">")) and len(line.strip()) >= 3:
            found.append((i - 1, 1 if line.strip()[0] == "=" else 2, _clean_inline(lines[i - 1].strip())))
    return found


def _clean_inline(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their words
    return re.sub(r"[*_`]+", "", text).strip()


def parse_markdown(text: str, path: Path) -> ParsedDocument:
    meta, body = split_front_matter(text)
    lines = body.split("\n")
    heads = _headings(lines)
    # Setext headings consume the underline; remember which lines are heading markup.
    markup: set[int] = set()
    for idx, _level, _h in heads:
        markup.add(idx)
        if idx + 1 < len(lines) and _SETEXT.match(lines[idx + 1]) and not _ATX.match(lines[idx]):
            markup.add(idx + 1)

    title = str(meta.get("title") or "").strip()
    title_line = -1
    top = [h for h in heads if h[1] == 1]
    if len(top) == 1 or (top and top[0] == heads[0]):
        if not title:
            title = top[0][2]
        if top[0][2] == title:
            title_line = top[0][0]
    if not title and heads:
        title = heads[0][2]
    if not title:
        title = title_from_path(path)

    sections: list[ParsedSection] = []
    stack: list[tuple[int, str]] = []
    bounds = [(idx, level, h) for idx, level, h in heads] + [(len(lines), 0, "")]
    preamble = _join(lines, 0, bounds[0][0], markup)
    if preamble:
        sections.append(ParsedSection("", 0, preamble))
    for n, (idx, level, heading) in enumerate(bounds[:-1]):
        body_text = _join(lines, idx + 1, bounds[n + 1][0], markup)
        if idx == title_line:
            # The title heading is not a section of its own: its text is the preamble.
            if body_text:
                sections.append(ParsedSection("", 0, body_text))
            continue
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading))
        path_text = " > ".join(h for _l, h in stack)
        sections.append(ParsedSection(path_text, level, body_text))
    sections = _merge_preambles(sections)
    meta.update(_metadata_from_body(sections, meta))
    return ParsedDocument(title=title, kind="", metadata=meta, sections=sections)


def _join(lines: list[str], start: int, end: int, markup: set[int]) -> str:
    return "\n".join(line for i, line in enumerate(lines[start:end], start) if i not in markup).strip()


def _merge_preambles(sections: list[ParsedSection]) -> list[ParsedSection]:
    pre = [s for s in sections if s.level == 0]
    if len(pre) <= 1:
        return sections
    merged = ParsedSection("", 0, "\n\n".join(s.text for s in pre))
    return [merged] + [s for s in sections if s.level != 0]


_META_KEYS = {"status", "date", "deciders", "decision-makers", "decision makers", "author", "authors",
              "consulted", "informed", "tags", "technical story", "supersedes", "superseded by", "owner"}
_META_LINE = re.compile(r"^\s*(?:[-*+]\s*)?\**([A-Za-z][A-Za-z \-]{1,30}?)\**\s*:\s*\**\s*(.+?)\s*$")
_TABLE_ROW = re.compile(r"^\s*\|\s*\**([^|*]+?)\**\s*\|\s*([^|]*?)\s*\|\s*$")


def _metadata_from_body(sections: list[ParsedSection], known: dict[str, Any]) -> dict[str, Any]:
    """ADRs record status and date four ways: front matter, 'Status:' lines, a Status section, a table."""
    found: dict[str, Any] = {}

    def put(key: str, value: str) -> None:
        key = key.strip().lower()
        value = re.sub(r"[*_`]+", "", value).strip()
        if key in _META_KEYS and value and key not in known and key not in found:
            found[key] = value

    head = [s for s in sections[:3]]
    for section in head:
        if section.level > 2:
            continue
        for line in section.text.split("\n")[:40]:
            m = _TABLE_ROW.match(line)
            if m and not set(m.group(2)) <= set("-: "):
                put(m.group(1), m.group(2))
                continue
            m = _META_LINE.match(line)
            if m:
                put(m.group(1), m.group(2))
    for section in sections:
        last = section.heading.split(" > ")[-1].strip().lower()
        if last in ("status", "date") and section.text:
            first = next((ln for ln in section.text.split("\n") if ln.strip()), "")
            put(last, re.sub(r"^\s*[-*+]\s*", "", first))
    return found


# --- Plain text and DOCX --------------------------------------------------------------------

def _is_text_heading(line: str) -> bool:
    words = line.split()
    if not 0 < len(words) <= 10 or line.rstrip().endswith((".", ",", ";")):
        return False
    letters = [c for c in line if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters) and len(letters) >= 3


def parse_plain_text(text: str, path: Path) -> ParsedDocument:
    """Short ALL-CAPS lines are headings (the usual style of typed legal documents)."""
    lines = text.split("\n")
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    title = first if 0 < len(first) <= 120 else title_from_path(path)
    sections: list[ParsedSection] = []
    heading, buf = "", []
    for line in lines:
        if _is_text_heading(line.strip()) and line.strip() != title:
            if "\n".join(buf).strip():
                sections.append(ParsedSection(heading, 1 if heading else 0, "\n".join(buf).strip()))
            heading, buf = line.strip(), []
        else:
            buf.append(line)
    if "\n".join(buf).strip():
        sections.append(ParsedSection(heading, 1 if heading else 0, "\n".join(buf).strip()))
    doc = ParsedDocument(title=title, kind="", sections=sections)
    doc.metadata = _metadata_from_body(sections, {})
    return doc


def parse_docx(data: bytes, path: Path) -> ParsedDocument:
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx raises many types for a damaged file
        raise Skip(f"not a readable Word document ({type(exc).__name__})") from None
    props = document.core_properties
    meta: dict[str, Any] = {}
    if props.author:
        meta["author"] = props.author
    if props.created:
        meta["date"] = props.created.date().isoformat()
    title = (props.title or "").strip()
    sections: list[ParsedSection] = []
    stack: list[tuple[int, str]] = []
    heading, level, buf = "", 0, []

    def flush() -> None:
        body = "\n".join(buf).strip()
        if body or heading:
            sections.append(ParsedSection(heading, level, body))

    for para in document.paragraphs:
        style = (para.style.name if para.style is not None else "") or ""
        text = para.text.strip()
        if style == "Title" and text:
            title = title or text
            continue
        m = re.match(r"Heading (\d)", style)
        if m and text:
            flush()
            lvl = int(m.group(1))
            while stack and stack[-1][0] >= lvl:
                stack.pop()
            stack.append((lvl, text))
            heading, level, buf = " > ".join(h for _l, h in stack), lvl, []
        elif text:
            buf.append(text)
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells]
            if any(cells):
                buf.append(" | ".join(cells))
    flush()
    sections = [s for s in sections if s.text]
    if not title:
        first = next((s.text.split("\n")[0] for s in sections if s.text), "")
        title = first if 0 < len(first) <= 120 else title_from_path(path)
    meta.update(_metadata_from_body(sections, meta))
    return ParsedDocument(title=title, kind="", metadata=meta, sections=_merge_preambles(sections))


# --- PDF ------------------------------------------------------------------------------------

MIN_TEXT_CHARS_PER_PAGE = 25  # less than this on every page: an image of text, not text
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s*)?[-–—]?\s*\d{1,4}\s*(?:(?:of|/)\s*\d{1,4})?\s*[-–—]?\s*$", re.I)
_NUMBERED_HEADING = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2})*\.?|[IVXL]{1,5}\.|Article\s+\d+\.?|Clause\s+\d+\.?)\s+"
                               r"[A-Z][^.;:,]{1,70}$")


def parse_pdf(data: bytes, path: Path) -> ParsedDocument:
    """A PDF's text layer, page by page. Headings are the lines typed legal documents use for
    them (short ALL-CAPS lines, short numbered lines like "4. Security Deposit"); each section
    remembers the pages it spans. A PDF without a text layer is a scan and is skipped as such."""
    try:
        import pypdf

        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Skip("encrypted PDF (it needs a password to open)")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata or {}
    except Skip:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types for a damaged file
        raise Skip(f"not a readable PDF ({type(exc).__name__})") from None
    if not pages:
        raise Skip("PDF has no pages")
    if all(len(p.strip()) < MIN_TEXT_CHARS_PER_PAGE for p in pages):
        raise Skip(f"scanned PDF: its {len(pages)} page{'s' if len(pages) != 1 else ''} hold images, not text "
                   "(run it through OCR first)")
    lines = _pdf_lines(pages)
    meta: dict[str, Any] = {"pages": len(pages)}
    blank = [n for n, p in enumerate(pages, start=1) if len(p.strip()) < MIN_TEXT_CHARS_PER_PAGE]
    if blank:
        meta["pages_without_text"] = blank
    author = str(info.get("/Author") or "").strip()
    if author:
        meta["author"] = author
    created = str(info.get("/CreationDate") or "")
    if re.match(r"D:\d{8}", created):
        meta["date"] = f"{created[2:6]}-{created[6:8]}-{created[8:10]}"
    first = next((text for _page, text in lines), "")
    # A manual typeset with running heads repeats its title atop every page, so the running-line
    # filter takes it out and the first line left is the author ("X Desktop Group").
    opening = next((ln.strip() for ln in pages[0].split("\n") if ln.strip()), "")
    if opening and opening != first and _titlelike(opening) and not _PAGE_NUMBER.match(opening):
        first = opening
    title = str(info.get("/Title") or "").strip()
    if not title:
        title = first if _titlelike(first) else title_from_path(path)
    sections: list[ParsedSection] = []
    heading, start_page, buf, last_page = "", 1, [], 1
    for page, text in lines:
        if (text != title and text != first) and (_is_text_heading(text) or _NUMBERED_HEADING.match(text)
                                                  or _known_heading(text)):
            if "\n".join(buf).strip():
                sections.append(ParsedSection(heading, 1 if heading else 0, "\n".join(buf).strip(), start_page, last_page))
            heading, start_page, buf = text, page, []
        elif text != first or sections or buf or heading:
            if not buf:
                start_page = start_page if heading else page
            buf.append(text)
        last_page = page
    if "\n".join(buf).strip():
        sections.append(ParsedSection(heading, 1 if heading else 0, "\n".join(buf).strip(), start_page, last_page))
    meta.update(_metadata_from_body(sections, meta))
    return ParsedDocument(title=title, kind="", metadata=meta, sections=_merge_pdf_preambles(sections))


def _titlelike(line: str) -> bool:
    return 0 < len(line) <= 120 and len(line.split()) <= 16 and not _RUNNING_NOTICE.match(line)


# Running lines that are notices, not titles.
_RUNNING_NOTICE = re.compile(r"^(?:confidential|draft|privileged|strictly|without prejudice|copy)\b", re.I)


def _pdf_lines(pages: list[str]) -> list[tuple[int, str]]:
    """(page, line) without page numbers and without running headers or footers (a line found
    on most pages of a document of three pages or more)."""
    per_page = [[ln.strip() for ln in p.split("\n") if ln.strip()] for p in pages]
    running: set[str] = set()
    if len(pages) >= 3:
        counts: dict[str, int] = {}
        for page_lines in per_page:
            for ln in set(page_lines[:2] + page_lines[-2:]):
                counts[ln] = counts.get(ln, 0) + 1
        running = {ln for ln, n in counts.items() if n >= max(3, len(pages) // 2 + 1)}
    return [(n, ln) for n, page_lines in enumerate(per_page, start=1) for ln in page_lines
            if ln not in running and not _PAGE_NUMBER.match(ln)]


def _merge_pdf_preambles(sections: list[ParsedSection]) -> list[ParsedSection]:
    pre = [s for s in sections if s.level == 0]
    if len(pre) <= 1:
        return sections
    merged = ParsedSection("", 0, "\n\n".join(s.text for s in pre), pre[0].page, pre[-1].page_end)
    return [merged] + [s for s in sections if s.level != 0]


def title_from_path(path: Path) -> str:
    stem = re.sub(r"[_\-]+", " ", path.stem).strip()
    return stem[:1].upper() + stem[1:] if stem else path.name


# --- Kind -----------------------------------------------------------------------------------

_PATENT_WORDS = re.compile(r"\b(claims?|wherein|embodiments?|abstract of the disclosure|prior art)\b", re.I)
_LEGAL_WORDS = re.compile(
    r"\b(agreement|whereas|hereinafter|hereby|lessor|lessee|licensee|affidavit|deponent|indemnif\w*|"
    r"governing law|terms of service|privacy|party|parties|liability|warrant\w*)\b", re.I)
_ADR_HEADINGS = {"status", "context", "decision", "consequences", "considered options", "decision outcome",
                 "context and problem statement", "decision drivers"}


_PATENT_HEADINGS = {"abstract", "claims", "field of the invention", "background of the invention",
                    "summary of the invention", "brief description of the drawings", "detailed description"}
_KNOWN_HEADINGS = frozenset(_ADR_HEADINGS | _PATENT_HEADINGS)


def _known_heading(line: str) -> bool:
    """A line that is only a heading ADRs or patents use ("Context", "Decision Outcome", "Claims"):
    a PDF's text keeps no font sizes, and these are Title Case, not the capitals legal headings use."""
    return line.strip().rstrip(":").casefold() in _KNOWN_HEADINGS


def guess_kind(path: Path, doc: ParsedDocument) -> str:
    """Folder names first (people file ADRs under adr/ or decisions/), then the content's shape."""
    parts = " ".join(p.lower() for p in path.parts[-4:-1])
    if re.search(r"\badrs?\b|decision", parts) or re.match(r"^adr[-_ ]?\d", path.name.lower()):
        return "adr"
    if "patent" in parts:
        return "patent"
    if re.search(r"legal|contract|agreement|deed|affidavit|polic", parts):
        return "legal"
    headings = {s.heading.split(" > ")[-1].strip().lower() for s in doc.sections}
    if len(headings & _ADR_HEADINGS) >= 2 or "status" in doc.metadata and "context" in " ".join(headings):
        return "adr"
    sample = doc.text[:20000]
    patent = len(_PATENT_WORDS.findall(sample))
    legal = len(_LEGAL_WORDS.findall(sample))
    if patent >= 5 and patent * 2 > legal:
        return "patent"
    if legal >= 5:
        return "legal"
    return "other"


# --- Form (the finer kind) ------------------------------------------------------------------

# form -> its coarse kind. The legal forms are the ones draftpad has templates for, then the
# common families of the rest, so "legal" no longer pools rent agreements with privacy policies.
FORMS = {
    "adr": "adr", "patent": "patent",
    "rent-agreement": "legal", "affidavit": "legal", "power-of-attorney": "legal",
    "agreement-to-sell": "legal", "sale-deed": "legal", "gift-deed": "legal", "mortgage-deed": "legal",
    "deed": "legal", "will": "legal", "nda": "legal", "dpa": "legal", "employment-agreement": "legal",
    "loan-agreement": "legal", "terms": "legal", "policy": "legal", "contract": "legal",
}

# (form, pattern for the title and top headings, pattern for the wording). Order matters: the
# first title match wins (an "Affidavit of ownership of the leased flat" is an affidavit).
_FORM_RULES: list[tuple[str, str, str]] = [
    ("affidavit", r"\baffidavit\b", r"\b(deponent|solemnly affirm\w*|verification|notary|sworn)\b"),
    ("power-of-attorney", r"\bpowers? of attorney\b|\b[gs]pa\b",
     r"\b(attorney|constitute and appoint|principal|ratify|lawful acts?)\b"),
    ("agreement-to-sell", r"\bagreements? (?:to|for) (?:sell|sale)\b|\bsale agreement\b",
     r"\b(vendor|purchaser|earnest money|sale consideration|balance consideration)\b"),
    ("rent-agreement", r"\b(?:rent|rental|lease|tenancy|leave (?:and|&) licen[cs]e|roommate)\b",
     r"\b(lessor|lessee|landlord|tenants?|monthly rent|rent|security deposit|premises)\b"),
    ("sale-deed", r"\bsale deed\b|\bconveyance deed\b", r"\b(vendor|purchaser|conveys?|transfer of property)\b"),
    ("gift-deed", r"\bgift deed\b", r"\b(donor|donee|gift)\b"),
    ("mortgage-deed", r"\bmortgage\b", r"\b(mortgagor|mortgagee|mortgage)\b"),
    ("will", r"\blast will\b|\bwill and testament\b|\bwill[- ]draft\b|^will$",
     r"\b(testator|testatrix|bequeath\w*|executor|legatee|probate)\b"),
    ("deed", r"\bdeed\b", r"\b(executant|hereby (?:grants?|releases?|transfers?)|registrar)\b"),
    ("nda", r"\bnon[- ]?disclosure\b|\bnda\b|\bconfidentiality agreement\b",
     r"\b(confidential information|disclosing party|receiving party)\b"),
    ("dpa", r"\bdata processing (?:agreement|addendum)\b|\bdpa\b|\bbusiness associate\b",
     r"\b(sub-?processors?|data subjects?|controller|processor|phi)\b"),
    ("employment-agreement", r"\bemployment (?:agreement|contract)\b|\boffer letter\b",
     r"\b(employee|employer|salary|probation)\b"),
    ("loan-agreement", r"\bloan agreement\b|\bpromissory note\b", r"\b(borrower|lender|principal sum|repay\w*)\b"),
    ("terms", r"\bterms of (?:service|use)\b|\bterms and conditions\b|\bterms\b",
     r"\b(you agree|your use of|the service)\b"),
    ("policy", r"\bpolic(?:y|ies)\b|\bprivacy (?:statement|notice)\b|\bcode of conduct\b|\bguidelines\b",
     r"\b(we collect|we may|our users|we will)\b"),
    ("contract", r"\bagreement\b|\bcontract\b", r"\b(party|parties|hereby|agreement)\b"),
]
_FORM_TITLE = [(form, re.compile(title, re.I)) for form, title, _w in _FORM_RULES]
_FORM_WORDS = {form: re.compile(words, re.I) for form, _t, words in _FORM_RULES}


def form_for_title(title: str, kind: str = "legal") -> str:
    """The form a title names ("Residential Rent Agreement (11 months)" -> "rent-agreement"), or
    the kind's own form for adr and patent; "" when the title names none. Templates are matched to
    past documents with this, so both sides are read by the same rules."""
    if kind in ("adr", "patent"):
        return kind
    for form, pattern in _FORM_TITLE:
        if pattern.search(title):
            return form
    return ""


_WEAK_FORMS = ("contract", "terms", "policy")  # families, not forms: a more specific one wins


def guess_form(doc: ParsedDocument, path: Path | None = None) -> str:
    """The title first, then the first heading and the file's name, then the wording: a form whose
    own terms (three or more of them, six times or more) fill the text; legal text that names
    nothing more specific is a "contract"."""
    if doc.kind in ("adr", "patent"):
        return doc.kind
    if doc.kind not in ("legal", "other"):
        return ""
    form = form_for_title(doc.title, "legal")
    if form and form not in _WEAK_FORMS:
        return form
    first_heading = next((s.heading.split(" > ")[0] for s in doc.sections if s.heading), "")
    path_words = re.sub(r"[_\-.]+", " ", f"{path.parent.name} {path.stem}") if path else ""
    for named in (form_for_title(first_heading, "legal"), form_for_title(path_words, "legal")):
        if named and named not in _WEAK_FORMS:
            return named
        form = form or named
    if form:
        return form
    sample = doc.text[:20000]
    best, best_hits = "", 0
    for name, pattern in _FORM_WORDS.items():
        if name in _WEAK_FORMS:
            continue
        found = [m.group(0).lower() for m in pattern.finditer(sample)]
        if len(set(found)) >= 3 and len(found) >= 6 and len(found) > best_hits:
            best, best_hits = name, len(found)
    if best:
        return best
    return "contract" if doc.kind == "legal" else ""
