"""The Word file itself, read back as XML: real numbering, fonts, footer fields, signature tables,
Markdown formatting, stamp-paper space, and the plain style for ADRs."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import docx
import pytest
from lxml import etree

from assistant import drafting
from assistant.drafting.exporter import Part, Rendered, to_docx
from assistant.drafting.templates import Layout
from tests.test_export import FULL_RENT, adr, fixed_rent_session

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
LEGAL = Layout(style="legal")


def xml(path: Path, part: str) -> etree._Element:
    with zipfile.ZipFile(path) as archive:
        return etree.fromstring(archive.read(part))


def num_of(paragraph: object) -> tuple[int, int] | None:
    """(numId, ilvl) of a python-docx paragraph, or None when it is not in a list."""
    ppr = paragraph._p.pPr
    if ppr is None or ppr.numPr is None:
        return None
    return ppr.numPr.numId.val, ppr.numPr.ilvl.val


def num_formats(path: Path) -> dict[int, str]:
    """numId -> the numFmt of its level 0 (decimal, bullet, ...)."""
    root = xml(path, "word/numbering.xml")
    abstract = {a.get(f"{W}abstractNumId"): a.find(f"{W}lvl/{W}numFmt").get(f"{W}val")
                for a in root.iter(f"{W}abstractNum")}
    return {int(n.get(f"{W}numId")): abstract[n.find(f"{W}abstractNumId").get(f"{W}val")] for n in root.iter(f"{W}num")}


@pytest.fixture
def rent_docx(tmp_path: Path) -> Path:
    sid = fixed_rent_session({**FULL_RENT, "start_date": "2027-01-01", "execution_date": "2026-12-28"})
    return drafting.export(sid, "docx", tmp_path / "lease.docx")


def typed_clauses(path: Path) -> int:
    """Clauses numbered "N." in the session's own text (the Markdown export shows it as typed)."""
    return len(re.findall(r"(?m)^\d+\. That ", path.with_suffix(".md").read_text(encoding="utf-8")))


def test_clauses_are_word_numbering_continuing_across_sections(rent_docx: Path):
    sid = drafting.list_sessions()[0].id
    drafting.export(sid, "md", rent_docx.with_suffix(".md"))
    document = docx.Document(str(rent_docx))
    clauses = [p for p in document.paragraphs if num_of(p)]
    assert len(clauses) == typed_clauses(rent_docx) >= 10  # every "N. That ..." clause, across six sections
    assert all(p.text.startswith("That ") for p in clauses)
    assert len({num_of(p) for p in clauses}) == 1  # one numbering instance: numbers continue
    num_id = num_of(clauses[0])[0]
    assert num_formats(rent_docx)[num_id] == "decimal"
    # The typed numbers are gone, so Word renumbers when a clause is added or removed.
    assert not [p.text for p in document.paragraphs if re.match(r"\d+\.\s", p.text)]
    headings = {p.text for p in document.paragraphs if p.style.name.startswith("Heading")}
    assert {"Term and Rent", "Notice and Termination"} <= headings
    text = "\n".join(p.text for p in document.paragraphs)
    assert "commencing from the 1st day of January, 2027" in text
    assert "Rs. 28,000/- (Rupees Twenty-Eight Thousand only)" in text
    assert "executed at Noida on this 28th day of December, 2026" in text


def test_serif_justified_body_and_plain_black_headings(rent_docx: Path):
    styles = xml(rent_docx, "word/styles.xml")

    def style(style_id: str) -> etree._Element:
        return next(s for s in styles.iter(f"{W}style") if s.get(f"{W}styleId") == style_id)

    normal = style("Normal")
    fonts = normal.find(f"{W}rPr/{W}rFonts")
    assert fonts.get(f"{W}ascii") == fonts.get(f"{W}hAnsi") == "Times New Roman"
    assert normal.find(f"{W}rPr/{W}sz").get(f"{W}val") == "24"  # half-points: 12 pt
    assert normal.find(f"{W}pPr/{W}jc").get(f"{W}val") == "both"
    default_fonts = styles.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr/{W}rFonts")
    assert default_fonts.get(f"{W}asciiTheme") is None and default_fonts.get(f"{W}ascii") == "Times New Roman"
    for style_id in ("Title", "Heading1", "Heading2"):
        rpr = style(style_id).find(f"{W}rPr")
        assert rpr.find(f"{W}color").get(f"{W}val") == "000000"
        assert rpr.find(f"{W}color").get(f"{W}themeColor") is None  # not Word's blue
        assert rpr.find(f"{W}rFonts").get(f"{W}ascii") == "Times New Roman"
        assert rpr.find(f"{W}b") is not None
    title = style("Title")
    assert title.find(f"{W}pPr/{W}jc").get(f"{W}val") == "center" and title.find(f"{W}pPr/{W}pBdr") is None
    page = xml(rent_docx, "word/document.xml").find(f"{W}body/{W}sectPr/{W}pgSz")
    assert (int(page.get(f"{W}w")), int(page.get(f"{W}h"))) == (11906, 16838)  # A4 in twips


def test_footer_says_page_x_of_y_with_fields(rent_docx: Path):
    with zipfile.ZipFile(rent_docx) as archive:
        footers = [n for n in archive.namelist() if re.match(r"word/footer\d*\.xml", n)]
    assert footers
    footer = xml(rent_docx, footers[0])
    instructions = [t.text.strip() for t in footer.iter(f"{W}instrText")]
    assert instructions == ["PAGE", "NUMPAGES"]
    assert [f.get(f"{W}fldCharType") for f in footer.iter(f"{W}fldChar")] == ["begin", "separate", "end"] * 2
    words = "".join(t.text for t in footer.iter(f"{W}t"))
    assert words.startswith("Page ") and " of " in words


def test_signatures_and_witnesses_are_borderless_tables(rent_docx: Path):
    document = docx.Document(str(rent_docx))
    signatures = [t for t in document.tables if "LESSOR" in t.cell(0, 0).text]
    assert len(signatures) == 1
    table = signatures[0]
    assert [c.text.split("\n")[0] for c in table.rows[0].cells] == ["LESSOR", "LESSEE"]
    assert FULL_RENT["lessor"] in table.cell(0, 0).text and FULL_RENT["lessee"] in table.cell(0, 1).text
    borders = table._tbl.tblPr.find(f"{W}tblBorders")
    assert {b.get(f"{W}val") for b in borders} == {"nil"}
    # The line to sign on is a border above the role, with space above it to sign.
    role = table.cell(0, 0).paragraphs[0]
    assert role._p.pPr.find(f"{W}pBdr/{W}top") is not None and role.paragraph_format.space_before.pt >= 36
    witnesses = next(t for t in document.tables if t.cell(0, 0).text.startswith("1."))
    assert witnesses.cell(0, 1).text.startswith("2.") and "Name:" in witnesses.cell(0, 0).text
    assert {b.get(f"{W}val") for b in witnesses._tbl.tblPr.find(f"{W}tblBorders")} == {"nil"}
    schedule = next(t for t in document.tables if t.cell(0, 0).text == "Premises")
    assert schedule.style.name == "Table Grid"  # the schedule keeps its ruled table


def test_affidavit_declarations_are_numbered_and_signed(tmp_path: Path):
    values = {"deponent": "Ramesh Kumar Gupta", "parentage": "S/o Shri Mohan Lal Gupta", "age": "45",
              "occupation": "Service", "address": "House No. 12, Sector 15, Rohini, Delhi 110085",
              "statements": "That I am a citizen of India; That my name is written wrongly in my passport",
              "purpose": "for the correction of my name", "place": "Delhi", "date": "2027-01-05"}
    sid = drafting.new_session("in-affidavit", "Name", values).id
    for section in drafting.get_session(sid).sections:
        if section.key == "declarations":  # as the person wrote it, an extra declaration added
            drafting.edit_section(sid, section.id, "- That I am a citizen of India\n- That my name is written wrongly "
                                  "in my passport\n\nThat both names are mine.\n\nThat this affidavit is made for the "
                                  "correction of my name, and for no other purpose.")
        else:
            drafting.draft_section(sid, section.id, lm=None)
    out = drafting.export(sid, "docx", tmp_path / "affidavit.docx")
    document = docx.Document(str(out))
    numbered = [p.text for p in document.paragraphs if num_of(p)]
    assert numbered == ["That I am a citizen of India", "That my name is written wrongly in my passport",
                        "That both names are mine.",
                        "That this affidavit is made for the correction of my name, and for no other purpose."]
    assert len({num_of(p) for p in document.paragraphs if num_of(p)}) == 1
    headings = [p.text for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert headings == ["AFFIDAVIT", "Verification"]  # the other sections print without a heading
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Verified at Delhi on this 5th day of January, 2027" in text
    place = next(t for t in document.tables if "Place:" in t.cell(0, 0).text)
    assert "Date: 5th January, 2027" in place.cell(0, 0).text and place.cell(0, 1).text.startswith("DEPONENT")


def test_markdown_formatting_is_kept(tmp_path: Path):
    text = ("The **Lessee** shall *not* keep `pets`; see [the rules](https://example.org/rules).\n\n"
            "- first point\n- second **bold** point\n\n"
            "1. step one\n2. step two\n\n"
            "| Item | Count |\n|---|---|\n| Fans | 2 |\n| Geyser | 1 |\n")
    doc = Rendered("T", [], [Part("Notes", text), Part("More", "3. again\n4. and again")], layout=Layout())
    out = tmp_path / "notes.docx"
    to_docx(doc, out)
    document = docx.Document(str(out))
    first = next(p for p in document.paragraphs if p.text.startswith("The Lessee"))
    styled = {(r.text, bool(r.bold), bool(r.italic)) for r in first.runs}
    assert ("Lessee", True, False) in styled and ("not", False, True) in styled
    code = next(r for r in first.runs if r.text == "pets")
    assert code._r.rPr.find(f"{W}rFonts").get(f"{W}ascii") == "Courier New"
    assert "the rules" in "".join(t.text for t in first._p.iter(f"{W}t"))  # the link's text, as a hyperlink
    assert first._p.find(f"{W}hyperlink") is not None
    formats = num_formats(out)
    bullets = [p for p in document.paragraphs if p.text in ("first point", "second bold point")]
    assert [formats[num_of(p)[0]] for p in bullets] == ["bullet", "bullet"]
    assert any(r.bold and r.text == "bold" for r in bullets[1].runs)
    steps = [p for p in document.paragraphs if p.text in ("step one", "step two", "again", "and again")]
    assert [formats[num_of(p)[0]] for p in steps] == ["decimal"] * 4
    # In a plain document each list starts where its Markdown starts (the second at 3).
    assert num_of(steps[0]) == num_of(steps[1]) != num_of(steps[2])
    numbering = xml(out, "word/numbering.xml")
    second = next(n for n in numbering.iter(f"{W}num") if int(n.get(f"{W}numId")) == num_of(steps[2])[0])
    assert second.find(f"{W}lvlOverride/{W}startOverride").get(f"{W}val") == "3"
    table = document.tables[0]
    assert [[c.text for c in row.cells] for row in table.rows] == [["Item", "Count"], ["Fans", "2"], ["Geyser", "1"]]
    assert table.rows[0].cells[0].paragraphs[0].runs[0].bold


def test_stamp_paper_space_and_a_plain_style_for_adrs(tmp_path: Path):
    doc = Rendered("DEED", [], [Part("Terms", "1. That one.")], layout=Layout(style="legal", stamp_space_cm=10))
    out = tmp_path / "deed.docx"
    to_docx(doc, out)
    body = xml(out, "word/document.xml").find(f"{W}body")
    spacer = body.find(f"{W}p")
    spacing = spacer.find(f"{W}pPr/{W}spacing")
    assert spacing.get(f"{W}lineRule") == "exact" and int(spacing.get(f"{W}line")) == 5670  # 10 cm in twips
    assert not "".join(t.text for t in spacer.iter(f"{W}t"))
    # An ADR: no legal numbering or serif, no page footer; its numbered lists are ordinary lists.
    sid = adr("Use SQLite")
    drafting.edit_section(sid, drafting.get_session(sid).sections[2].id, "We will:\n\n1. use WAL\n2. use FTS5")
    record = drafting.export(sid, "docx", tmp_path / "adr.docx")
    styles = xml(record, "word/styles.xml")
    normal = next(s for s in styles.iter(f"{W}style") if s.get(f"{W}styleId") == "Normal")
    assert normal.find(f"{W}rPr/{W}rFonts").get(f"{W}ascii") != "Times New Roman"
    assert normal.find(f"{W}pPr/{W}jc").get(f"{W}val") == "left"
    with zipfile.ZipFile(record) as archive:
        assert not any("instrText" in archive.read(n).decode() for n in archive.namelist() if "footer" in n)
    document = docx.Document(str(record))
    assert [p.text for p in document.paragraphs if num_of(p)] == ["use WAL", "use FTS5"]


LAYOUT_TEMPLATE = '''id = "tiny"
name = "Tiny"
kind = "legal"

[layout]
style = "legal"

[[fields]]
name = "who"

[[sections]]
title = "Greeting"
mode = "fixed"
text = "Hello {who}"
'''


@pytest.mark.parametrize("change,line,message", [
    ('style = "legal"', 6, "unknown style 'fancy'"),
    ('style = "legal"\nfont_size = 40', 7, "'font_size' must be a whole number of points from 8 to 16"),
    ('style = "legal"\nstamp_space_cm = -1', 7, "'stamp_space_cm' must be a number of centimetres from 0 to 20"),
    ('style = "legal"\npaper = "A3"', 7, "unknown paper 'A3'"),
    ('style = "legal"\njustify = "yes"', 7, "'justify' must be true or false"),
    ('style = "legal"\nfront_matter = { status = "state" }', 7, "'front_matter' names unknown field 'state'"),
    ('style = "legal"\nmargins = 2', 7, "layout: unknown key 'margins'"),
])
def test_layout_keys_are_checked_with_file_and_line(change: str, line: int, message: str):
    from assistant.drafting.templates import TemplateError, parse_template

    assert parse_template(LAYOUT_TEMPLATE).layout.legal
    broken = LAYOUT_TEMPLATE.replace('style = "legal"', change.replace('"legal"', '"fancy"', 1) if "fancy" in message
                                     else change)
    with pytest.raises(TemplateError) as caught:
        parse_template(broken, "tiny.toml")
    assert str(caught.value).startswith(f"tiny.toml:{line}: ") and message in str(caught.value)
    section = LAYOUT_TEMPLATE.replace('mode = "fixed"', 'mode = "fixed"\nsignatures = "yes"')
    with pytest.raises(TemplateError, match="'signatures' must be true or false"):
        parse_template(section, "tiny.toml")


def test_inline_markdown_edge_cases():
    from assistant.drafting.markdown_blocks import blocks, plain, runs

    assert [(r.text, r.italic) for r in runs("use snake_case_name here")] == [("use snake_case_name here", False)]
    assert plain("2 * 3 = 6 and a ** b") == "2 * 3 = 6 and a ** b"  # stray markers stay as typed
    assert [(r.text, r.bold, r.italic) for r in runs("***both*** done")] == [("both", True, True), (" done", False, False)]
    # Clauses separated by blank lines are one list; prose ends it; "(a)" is a sub-item.
    found = blocks("1. That one.\n\n2. That two.\n   continued\n(a) sub\n\nProse here.\n\n- x")
    assert [b.kind for b in found] == ["list", "paragraph", "list"]
    assert [(i.text, i.level, i.number) for i in found[0].items] == [
        ("That one.", 0, 1), ("That two. continued", 0, 2), ("sub", 1, 0)]
