"""Export to Markdown and DOCX, ADR numbering and supersede links."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest

from assistant import drafting
from engine.errors import UserError
from tests.fixtures_drafting import RENT


def md_headings(text: str) -> list[str]:
    return [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]


def docx_headings(path: Path) -> list[str]:
    document = docx.Document(str(path))
    return [p.text for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))]


def fixed_rent_session() -> int:
    sid = drafting.new_session("in-rent-agreement", "Flat 302", {**RENT, "lessor_address": "B-14, Sector 27, Noida",
                                                                  "lessee_address": "12 MG Road, Kochi", "place": "Noida"}).id
    for section in drafting.get_session(sid).sections:
        if drafting.needs_model(sid, section.position):
            drafting.edit_section(sid, section.position, "That the Lessee shall keep the premises clean.")
        else:
            drafting.draft_section(sid, section.position, lm=None)
    return sid


def test_markdown_and_docx_have_the_same_headings_and_the_schedule(tmp_path: Path):
    sid = fixed_rent_session()
    md = drafting.export(sid, "md", tmp_path / "lease.md")
    out = drafting.export(sid, "docx", tmp_path / "lease.docx")
    text = md.read_text(encoding="utf-8")
    headings = md_headings(text)
    assert headings[0] == "RENT AGREEMENT"
    assert headings[1:] == [s.title for s in drafting.get_session(sid).sections]
    assert docx_headings(out) == headings
    assert "2. That the Lessee shall pay to the Lessor a monthly rent of Rs. 28,000/-" in text
    document = docx.Document(str(out))
    assert len(document.tables) == 1  # the schedule of property
    assert document.tables[0].cell(0, 0).text == "Premises"
    assert document.tables[0].cell(0, 1).text == RENT["property"]
    clause = next(p for p in document.paragraphs if p.text.startswith("2. That the Lessee shall pay"))
    assert clause.paragraph_format.left_indent is not None  # numbered clauses hang


def adr(title: str) -> int:
    sid = drafting.new_session("adr-nygard", values={"title": title, "context": "c", "decision": "d"}).id
    drafting.draft_section(sid, 1, lm=None)
    for position in (2, 3, 4):
        drafting.edit_section(sid, position, f"Text of section {position}.")
    return sid


def test_adr_numbering_and_supersede_links_as_adr_tools_does(tmp_path: Path):
    folder = tmp_path / "doc" / "adr"
    folder.mkdir(parents=True)
    (folder / "0001-record-architecture-decisions.md").write_text(
        "# 1. Record architecture decisions\n\nDate: 2024-01-01\n\n## Status\n\nAccepted\n\n## Context\n\nx\n")
    second = drafting.export(adr("Use flat files for events"), "md", folder)
    assert second.name == "0002-use-flat-files-for-events.md"
    assert second.read_text().startswith("# 2. Use flat files for events\n\nDate: ")
    third = drafting.export(adr("Use PostgreSQL for events"), "md", folder, supersedes=2)
    assert third.name == "0003-use-postgresql-for-events.md"
    new_text = third.read_text()
    assert "## Status\n\nAccepted\n\nSupersedes [2. Use flat files for events](0002-use-flat-files-for-events.md)" in new_text
    old_text = second.read_text()
    assert "Superseded by [3. Use PostgreSQL for events](0003-use-postgresql-for-events.md)" in old_text
    assert "\nAccepted\n" not in old_text
    with pytest.raises(UserError, match="no ADR number 9"):
        drafting.export(adr("Other"), "md", folder, supersedes=9)


def test_export_errors_are_user_errors(tmp_path: Path):
    sid = adr("x")
    with pytest.raises(UserError, match="unknown export format 'pdf'"):
        drafting.export(sid, "pdf", tmp_path / "x.pdf")
    with pytest.raises(UserError, match="does not exist"):
        drafting.export(sid, "md", tmp_path / "missing" / "x.md")
