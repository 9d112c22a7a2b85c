"""Export a session as Markdown or Word (DOCX), with adr-tools numbering and supersede links for ADRs."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from assistant.drafting.sessions import Session
from assistant.drafting.templates import Template, render_text
from engine.errors import UserError

FORMATS = ("md", "docx")
ADR_FILE = re.compile(r"^(\d{4})-.*\.(md|docx)$")
SCHEDULE_LINE = re.compile(r"^\s*([^:\n]{1,48}):\s+(.+)$")
CLAUSE = re.compile(r"^\s*(\d+(?:\.\d+)*[.)]|\([a-z0-9]+\))\s+")


@dataclass(frozen=True)
class Part:
    heading: str
    text: str
    schedule: bool = False


@dataclass(frozen=True)
class Rendered:
    title: str
    preamble: list[str]  # lines under the title (an ADR's "Date: ...")
    parts: list[Part]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:60] or "document"


def next_adr_number(folder: Path) -> int:
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := ADR_FILE.match(p.name))]
    return max(numbers, default=0) + 1


def find_adr(folder: Path, number: int) -> Path:
    for path in sorted(folder.iterdir()):
        m = ADR_FILE.match(path.name)
        if m and int(m.group(1)) == number and path.suffix == ".md":
            return path
    raise UserError(f"no ADR number {number} (a {number:04d}-*.md file) in {folder}")


def adr_title_of(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def document_title(template: Template, session: Session) -> str:
    return render_text(template, template.heading, session.values) if template.heading else session.title


def render(template: Template, session: Session, number: int | None = None,
           supersedes: tuple[str, str] | None = None) -> Rendered:
    """The document's structure, shared by both formats. `supersedes` is (link text, target file)."""
    title = document_title(template, session)
    if number is not None:
        title = f"{number}. {title}"
    preamble = []
    date = str(session.values.get("date", "")).strip()
    if template.adr and date:
        preamble.append(f"Date: {date}")
    specs = {s.id: s for s in template.sections}
    parts = []
    for i, section in enumerate(session.sections, start=1):
        heading = f"{i}. {section.title}" if template.numbering == "sections" else section.title
        text = section.text.strip()
        spec = specs.get(section.key)
        if supersedes and section.key == "status":
            text = f"{text}\n\nSupersedes [{supersedes[0]}]({supersedes[1]})".strip()
        parts.append(Part(heading, text, bool(spec and spec.schedule)))
    return Rendered(title, preamble, parts)


def to_markdown(doc: Rendered) -> str:
    out = [f"# {doc.title}", ""]
    if doc.preamble:
        out += doc.preamble + [""]
    for part in doc.parts:
        out += [f"## {part.heading}", ""]
        if part.text:
            out += [part.text, ""]
    return "\n".join(out).rstrip() + "\n"


def _inline(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: m.group(1) or m.group(2), text)


def to_docx(doc: Rendered, path: Path) -> None:
    from docx import Document
    from docx.shared import Pt

    document = Document()
    document.add_heading(doc.title, level=0)
    for line in doc.preamble:
        document.add_paragraph(line)
    for part in doc.parts:
        document.add_heading(part.heading, level=1)
        blocks = [b for b in re.split(r"\n\s*\n", part.text) if b.strip()]
        for block in blocks:
            lines = [ln for ln in block.splitlines() if ln.strip()]
            rows = [SCHEDULE_LINE.match(ln) for ln in lines]
            if part.schedule and lines and all(rows):
                table = document.add_table(rows=0, cols=2)
                table.style = "Table Grid"
                for match in rows:
                    cells = table.add_row().cells
                    cells[0].text, cells[1].text = match.group(1).strip(), _inline(match.group(2).strip())
                continue
            if len(lines) > 1 and all(CLAUSE.match(ln) or ln.startswith(("-", "*")) for ln in lines):
                for ln in lines:
                    paragraph = document.add_paragraph(_inline(ln.strip().lstrip("-* ") if ln.lstrip()[0] in "-*" else ln.strip()))
                    paragraph.paragraph_format.left_indent = Pt(18)
                    paragraph.paragraph_format.first_line_indent = Pt(-18)
                continue
            paragraph = document.add_paragraph(_inline(" ".join(ln.strip() for ln in lines)))
            if CLAUSE.match(lines[0]):
                # Numbered clauses keep their own numbers (Word auto-numbering would renumber them).
                paragraph.paragraph_format.left_indent = Pt(18)
                paragraph.paragraph_format.first_line_indent = Pt(-18)
    document.save(str(path))


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """`write` fills a temporary file next to `path`, which then replaces `path` in one step."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temp))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _mark_superseded(old: Path, new_title: str, new_name: str) -> None:
    """adr-tools style: the old record's status loses 'Accepted' and links to the new one."""
    lines = old.read_text(encoding="utf-8").splitlines()
    out, in_status, added = [], False, False
    for line in lines:
        if line.startswith("## "):
            if in_status and not added:
                out += [f"Superseded by [{new_title}]({new_name})", ""]
                added = True
            in_status = line[3:].strip().casefold() == "status"
            out.append(line)
            continue
        if in_status and line.strip().casefold() == "accepted":
            continue
        out.append(line)
    if in_status and not added:
        out += ["", f"Superseded by [{new_title}]({new_name})"]
        added = True
    if not added:
        out += ["", "## Status", "", f"Superseded by [{new_title}]({new_name})"]
    _write_atomically(old, lambda temp: temp.write_bytes(("\n".join(out).rstrip() + "\n").encode("utf-8")))


def export_session(template: Template, session: Session, fmt: str, path: Path, supersedes: int | None = None) -> Path:
    if fmt not in FORMATS:
        raise UserError(f"unknown export format '{fmt}' (use {' or '.join(FORMATS)})")
    number = None
    old: Path | None = None
    if path.is_dir():
        if template.adr:
            number = next_adr_number(path)
            path = path / f"{number:04d}-{slug(document_title(template, session))}.{fmt}"
        else:
            path = path / f"{slug(session.title)}.{fmt}"
        if supersedes is not None:
            old = find_adr(path.parent, supersedes)
    elif supersedes is not None:
        raise UserError("--supersedes needs -o to be the folder of ADRs")
    if not path.parent.is_dir():
        raise UserError(f"cannot write {path}: folder {path.parent} does not exist")
    link = (adr_title_of(old), old.name) if old else None
    doc = render(template, session, number, link)
    if fmt == "md":
        _write_atomically(path, lambda temp: temp.write_bytes(to_markdown(doc).encode("utf-8")))
    else:
        _write_atomically(path, lambda temp: to_docx(doc, temp))
    if old is not None and fmt == "md":
        _mark_superseded(old, doc.title, path.name)
    return path
