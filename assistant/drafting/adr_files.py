"""ADR folders as adr-tools and MADR keep them: where the folder is, the next number, finding a
record, and writing "Superseded by" into an older record (Markdown or DOCX)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Callable

from engine.errors import UserError

ADR_FILE = re.compile(r"^(\d+)-(.*)\.(md|docx|pdf)$")
EDITABLE = (".md", ".docx")  # a PDF cannot be marked superseded; its .md/.docx source can


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:60] or "document"


def adr_dir(start: Path) -> Path | None:
    """The ADR folder for `start`, found as adr-tools' `_adr_dir` finds it: walking up from
    `start`, the first folder holding a `.adr-dir` file (its content is the path, relative to that
    folder) or a `doc/adr` folder. None when there is neither."""
    here = start.resolve()
    for folder in [here, *here.parents]:
        marker = folder / ".adr-dir"
        if marker.is_file():
            return folder / marker.read_text(encoding="utf-8").strip("\r\n")
        if (folder / "doc" / "adr").is_dir():
            return folder / "doc" / "adr"
    return None


def records(folder: Path) -> list[tuple[int, Path]]:
    """(number, path) of every NNNN-title.md/.docx in the folder, in number order."""
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := ADR_FILE.match(p.name)) and p.is_file()]
    return sorted(found)


def next_number(folder: Path) -> int:
    return max((n for n, _ in records(folder)), default=0) + 1


def number_for(folder: Path, title_slug: str) -> int | None:
    """The number of an existing record with this title (re-exporting keeps its number)."""
    return next((n for n, p in records(folder) if ADR_FILE.match(p.name).group(2) == title_slug), None)


def find(folder: Path, number: int, prefer: str) -> list[Path]:
    """Every file of record `number` (.md, .docx, .pdf), the preferred format first, then the editable ones."""
    paths = [p for n, p in records(folder) if n == number]
    if not paths:
        raise UserError(f"no ADR number {number} (a {number:04d}-*.md or .docx file) in {folder}")
    return sorted(paths, key=lambda p: (p.suffix != f".{prefer}", p.suffix not in EDITABLE))


def title_of(path: Path) -> str:
    if path.suffix == ".pdf":
        return path.stem
    if path.suffix == ".docx":
        from docx import Document

        for paragraph in Document(str(path)).paragraphs:
            if paragraph.style.name == "Title" and paragraph.text.strip():
                return paragraph.text.strip()
        return path.stem
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """`write` fills a temporary file next to `path`, which then replaces `path` in one step."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temp))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def mark_superseded(old: Path, link_text: str, target: str) -> None:
    """adr-tools style: the old record's status loses 'Accepted' and links to the new one; a MADR
    record's front-matter status becomes 'superseded by ...'."""
    if old.suffix == ".docx":
        _mark_docx(old, link_text, target)
    elif old.suffix == ".md":
        _mark_markdown(old, link_text, target)


def _mark_markdown(old: Path, link_text: str, target: str) -> None:
    lines = old.read_text(encoding="utf-8").splitlines()
    note = f"Superseded by [{link_text}]({target})"
    if any(line.startswith(f"Superseded by [{link_text}](") for line in lines):
        return  # exported again (or in another format): the link is there already
    if lines and lines[0].strip() == "---" and "---" in [ln.strip() for ln in lines[1:]]:
        end = 1 + [ln.strip() for ln in lines[1:]].index("---")
        head = [f'status: "superseded by {link_text}"' if ln.startswith("status:") else ln for ln in lines[1:end]]
        if not any(ln.startswith("status:") for ln in head):
            head.insert(0, f'status: "superseded by {link_text}"')
        rest = lines[end + 1:]
        title = next((i for i, ln in enumerate(rest) if ln.startswith("# ")), -1)
        rest = rest[:title + 1] + ["", note] + rest[title + 1:]
        out = ["---", *head, "---", *rest]
    else:
        out, in_status, added = [], False, False
        for line in lines:
            if line.startswith("## "):
                if in_status and not added:
                    out += [note, ""]
                    added = True
                in_status = line[3:].strip().casefold() == "status"
                out.append(line)
                continue
            if in_status and line.strip().casefold() == "accepted":
                continue
            out.append(line)
        if in_status and not added:
            out += ["", note]
            added = True
        if not added:
            out += ["", "## Status", "", note]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).rstrip() + "\n"  # "Accepted" removed leaves no gap
    write_atomically(old, lambda temp: temp.write_bytes(text.encode("utf-8")))


def _mark_docx(old: Path, link_text: str, target: str) -> None:
    from docx import Document

    from assistant.drafting.docx_layout import add_link_paragraph

    document = Document(str(old))
    paragraphs = document.paragraphs
    if any(p.text == f"Superseded by {link_text}" for p in paragraphs):
        return
    status = next((i for i, p in enumerate(paragraphs) if p.style.name.startswith("Heading")
                   and p.text.strip().casefold() == "status"), None)
    if status is None:
        anchor = next((p for p in paragraphs if p.style.name == "Title"), paragraphs[0] if paragraphs else None)
    else:
        anchor = paragraphs[status]
        following = paragraphs[status + 1:]
        for paragraph in following:
            if paragraph.style.name.startswith("Heading"):
                break
            if paragraph.text.strip().casefold() == "accepted":
                paragraph._p.getparent().remove(paragraph._p)
            else:
                anchor = paragraph
    add_link_paragraph(document, anchor, "Superseded by ", link_text, target)
    write_atomically(old, lambda temp: document.save(str(temp)))
