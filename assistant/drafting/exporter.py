"""Export a session as Markdown, Word (DOCX) or PDF, with adr-tools numbering and supersede links
for ADRs. The template's `[layout]` decides how Word and PDF look (docx_layout); Markdown keeps
the plain structure (title, `##` sections, the text as written)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from assistant.drafting import adr_files
from assistant.drafting.adr_files import slug, write_atomically
from assistant.drafting.clauses import renumber
from assistant.drafting.sessions import Session
from assistant.drafting.templates import Layout, Template, render_text
from engine.errors import UserError

FORMATS = ("md", "docx", "pdf")
# Findings that stop an export (unless forced): the document would go out with a gap in it.
BLOCKING = ("missing_value", "placeholder")


@dataclass(frozen=True)
class Part:
    heading: str
    text: str
    schedule: bool = False
    signatures: bool = False
    numbered: bool = False
    show_title: bool = True


@dataclass(frozen=True)
class Rendered:
    title: str
    preamble: list[str]  # lines under the title (an ADR's "Date: ...", "Supersedes ...")
    parts: list[Part]
    front_matter: list[tuple[str, str]] = field(default_factory=list)  # MADR's YAML header
    layout: Layout = Layout()


def document_title(template: Template, session: Session) -> str:
    return render_text(template, template.heading, session.values) if template.heading else session.title


def _front_matter(template: Template, session: Session) -> list[tuple[str, str]]:
    """MADR: each key from the field it names; a section with the field's name (Status) gives
    its current text instead, since that is what the person last wrote."""
    texts = {s.key: s.text.strip() for s in session.sections if s.key}
    out = []
    for key, name in template.layout.front_matter:
        value = texts.get(name) or str(session.values.get(name, "")).strip()
        spec = template.field(name)
        if spec is not None and spec.type == "list":
            from assistant.drafting.templates import list_items

            value = ", ".join(list_items(value))
        if value:
            out.append((key, " ".join(value.split())))
    return out


def render(template: Template, session: Session, number: int | None = None,
           supersedes: tuple[str, str] | None = None) -> Rendered:
    """The document's structure, shared by every format. `supersedes` is (link text, target file)."""
    title = document_title(template, session)
    in_front = {name for _, name in template.layout.front_matter}
    front = _front_matter(template, session)
    if number is not None and not front:
        title = f"{number}. {title}"  # adr-tools: "# 7. Use PostgreSQL"; MADR keeps the bare title
    preamble = []
    date = str(session.values.get("date", "")).strip()
    if template.adr and date and not front:
        preamble.append(f"Date: {date}")
    link = f"Supersedes [{supersedes[0]}]({supersedes[1]})" if supersedes else ""
    if link and front:
        preamble.append(link)
    specs = {s.id: s for s in template.sections}
    parts = []
    for section in session.sections:
        if section.key in in_front:
            continue
        text = section.text.strip()
        spec = specs.get(section.key)
        if link and not front and section.key == "status":
            text = f"{text}\n\n{link}".strip()
        if not text and not (spec and spec.required):
            continue  # an optional section left empty is not printed as a bare heading
        number = len(parts) + 1
        heading = f"{number}. {section.title}" if template.numbering == "sections" else section.title
        parts.append(Part(heading, text, bool(spec and spec.schedule), bool(spec and spec.signatures),
                          bool(spec and spec.numbered), not spec or spec.show_title))
    if template.layout.legal:  # one sequence of "N. That" clauses, with the parties' own terms in it
        parts = [replace(part, text=text) for part, text in zip(parts, renumber([p.text for p in parts]))]
    return Rendered(title, preamble, parts, front, template.layout)


def _yaml_value(value: str) -> str:
    return value if value.replace("-", "").replace(" ", "").isalnum() else '"' + value.replace('"', '\\"') + '"'


def to_markdown(doc: Rendered) -> str:
    out = []
    if doc.front_matter:
        out += ["---", *[f"{key}: {_yaml_value(value)}" for key, value in doc.front_matter], "---", ""]
    out += [f"# {doc.title}", ""]
    if doc.preamble:
        out += doc.preamble + [""]
    for part in doc.parts:
        out += [f"## {part.heading}", ""]
        if part.text:
            out += [part.text, ""]
    return "\n".join(out).rstrip() + "\n"


def to_docx(doc: Rendered, path: Path) -> None:
    from assistant.drafting.docx_layout import WordDocument

    word = WordDocument(doc.layout, doc.title)
    word.title(doc.title)
    word.fields(doc.front_matter)
    for line in doc.preamble:
        word.line(line)
    for part in doc.parts:
        if part.show_title:
            word.heading(part.heading)
        word.body(part.text, schedule=part.schedule, signatures=part.signatures, numbered=part.numbered)
    word.doc.save(str(path))


def refusal(findings: list) -> str:
    """One line naming what is missing, or '' when nothing blocks the export."""
    missing = [f.field for f in findings if f.code == "missing_value" and f.field]
    gaps = []
    for f in findings:
        if f.code == "placeholder":
            found = f.message.rsplit(": ", 1)[-1]
            where = f"section {f.section}" if f.section else "the heading"
            if f"{found} in {where}" not in gaps:
                gaps.append(f"{found} in {where}")
    if not missing and not gaps:
        return ""
    what = []
    if missing:
        what.append("no value for " + ", ".join(dict.fromkeys(missing)))
    if gaps:
        what.append("unresolved " + ", ".join(gaps[:4]) + (f" and {len(gaps) - 4} more" if len(gaps) > 4 else ""))
    return f"not exported: {'; '.join(what)} (fill them in, or use --force to export anyway)"


def _target(template: Template, session: Session, fmt: str, path: Path | None,
            supersedes: int | None) -> tuple[Path, int | None, list[Path]]:
    """The file to write, the ADR number (None for a non-ADR) and the records it supersedes."""
    if path is None:
        found = adr_files.adr_dir(Path.cwd()) if template.adr else None
        if found is None:
            raise UserError("say where to write it: -o FILE, -o FOLDER or -o - (Markdown to the terminal)" +
                            (" (or add a .adr-dir file, as adr-tools does)" if template.adr else ""))
        path = found
        if not path.is_dir():
            raise UserError(f"the ADR folder {path} (from .adr-dir) does not exist")
    elif path.is_dir() and template.adr and (path / ".adr-dir").is_file():
        path = adr_files.adr_dir(path) or path  # a repository root with a .adr-dir: its ADR folder
    number = None
    old: list[Path] = []
    if path.is_dir():
        if template.adr:
            name = slug(document_title(template, session))
            number = adr_files.number_for(path, name) or adr_files.next_number(path)
            path = path / f"{number:04d}-{name}.{fmt}"
        else:
            path = path / f"{slug(session.title)}.{fmt}"
        if supersedes is not None:
            old = adr_files.find(path.parent, supersedes, fmt)
    elif supersedes is not None:
        raise UserError("--supersedes needs -o to be the folder of ADRs")
    if not path.parent.is_dir():
        raise UserError(f"cannot write {path}: folder {path.parent} does not exist")
    return path, number, old


def target_path(template: Template, session: Session, fmt: str, path: Path | None) -> Path:
    return _target(template, session, fmt, path, None)[0]


def _refuse_unless_forced(findings: list | None, force: bool) -> None:
    blocking = [f for f in findings or [] if f.code in BLOCKING]
    if blocking and not force:
        raise UserError(refusal(blocking))


def markdown_text(template: Template, session: Session, *, force: bool = False, findings: list | None = None) -> str:
    """The document as Markdown, refused as `export_session` refuses (no file, so no ADR number)."""
    _refuse_unless_forced(findings, force)
    return to_markdown(render(template, session))


def export_session(template: Template, session: Session, fmt: str, path: Path | None, supersedes: int | None = None,
                   *, force: bool = False, findings: list | None = None) -> Path:
    """Write the document. Without `force`, refuse (UserError, one line) when `findings` has a
    missing value or placeholder, or when the file already exists."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format '{fmt}' (use {', '.join(FORMATS)})")
    _refuse_unless_forced(findings, force)
    path, number, old = _target(template, session, fmt, path, supersedes)
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a folder")
    if path.exists() and not force:
        mine = f" (this document's ADR {number})" if number is not None else ""
        raise UserError(f"{path} already exists{mine}: use --force to replace it")
    titled = next((p for p in old if p.suffix in adr_files.EDITABLE), old[0]) if old else None
    link = (adr_files.title_of(titled), old[0].name) if old else None
    doc = render(template, session, number, link)
    if fmt == "md":
        write_atomically(path, lambda temp: temp.write_bytes(to_markdown(doc).encode("utf-8")))
    elif fmt == "docx":
        write_atomically(path, lambda temp: to_docx(doc, temp))
    else:
        from assistant.drafting.pdf import docx_to_pdf

        write_atomically(path, lambda temp: docx_to_pdf(lambda docx: to_docx(doc, docx), temp))
    label = f"ADR-{number:04d}" if doc.front_matter and number is not None else doc.title
    for record in old:
        # Each old file links to the new record in its own format when that exists.
        sibling = path.with_suffix(record.suffix)
        adr_files.mark_superseded(record, label, sibling.name if sibling.is_file() else path.name)
    return path
