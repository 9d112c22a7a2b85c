"""Word (DOCX) output with python-docx and its OXML layer: page, styles, real numbering, footer
page fields, signature blocks and Markdown formatting.

Why OXML and not typed text: a clause number typed as "7." never renumbers when a clause is
added in Word; a `w:numPr` on the paragraph does, and one numbering instance for the whole
document makes clauses continue across sections. Footer "Page X of Y" uses PAGE and NUMPAGES
fields so Word and LibreOffice fill them in when they lay the document out.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from docx import Document
from docx.enum.table import WD_ALIGN_VERTICAL, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.text.paragraph import Paragraph

from assistant.drafting.markdown_blocks import Block, Item, Run, blocks, runs
from assistant.drafting.templates import Layout

PAPER_CM = {"A4": (21.0, 29.7), "Letter": (21.59, 27.94), "Legal": (21.59, 35.56)}
MONO = "Courier New"
# Signature sections: an all-capitals role ("LESSOR: name", "DEPONENT"), "Label: value" details
# (Place, Date) and numbered witness lines.
ROLE = re.compile(r"^([A-Z][A-Z .,/&'()-]*[A-Z)])\s*(?::\s*(.*))?$")
DETAIL = re.compile(r"^([A-Z][a-z][^:\n]{0,30}):\s*(.*)$")
WITNESS = re.compile(r"^(\d{1,2})[.)]\s*(.*)$")
SCHEDULE_LINE = re.compile(r"^\s*([^:\n]{1,48}):\s+(.+)$")
CONNECTIVE = re.compile(r"^(?:BETWEEN|AND|AND BETWEEN|WITNESSETH)$")


@dataclass(frozen=True)
class Look:
    """The layout with every default resolved for its style."""

    legal: bool
    font: str
    size: int
    justify: bool
    page_numbers: bool
    clause_numbering: bool
    stamp_space_cm: float
    paper: str


def look_of(layout: Layout) -> Look:
    legal = layout.legal
    return Look(
        legal=legal,
        font=layout.font or ("Times New Roman" if legal else "Calibri"),
        size=layout.font_size or (12 if legal else 11),
        justify=legal if layout.justify is None else layout.justify,
        page_numbers=legal if layout.page_numbers is None else layout.page_numbers,
        clause_numbering=legal if layout.clause_numbering is None else layout.clause_numbering,
        stamp_space_cm=layout.stamp_space_cm,
        paper=layout.paper,
    )


# -- low-level OXML helpers --------------------------------------------------------------------------

def _set_fonts(rpr: object, font: str) -> None:
    """Explicit font names on every script slot; theme fonts (Word's Calibri/Cambria) removed."""
    for old in rpr.findall(qn("w:rFonts")):
        rpr.remove(old)
    fonts = OxmlElement("w:rFonts")
    for slot in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(slot), font)
    rpr.insert(0, fonts)


def _black(rpr: object) -> None:
    for old in rpr.findall(qn("w:color")):
        rpr.remove(old)
    color = OxmlElement("w:color")
    color.set(qn("w:val"), "000000")
    rpr.append(color)


def _restyle(style: object, font: str, size: float, bold: bool, align: object | None = None,
             before: float = 0, after: float = 6) -> None:
    rpr = style.element.get_or_add_rPr()
    _set_fonts(rpr, font)
    _black(rpr)
    style.font.size = Pt(size)
    style.font.bold = bold
    style.font.italic = False
    ppr = style.element.get_or_add_pPr()
    for border in ppr.findall(qn("w:pBdr")):
        ppr.remove(border)
    fmt = style.paragraph_format
    fmt.space_before, fmt.space_after = Pt(before), Pt(after)
    fmt.keep_with_next = True
    if align is not None:
        fmt.alignment = align


def _field(paragraph: Paragraph, instruction: str, shown: str) -> None:
    """A complex field (begin, instruction, separate, cached result, end)."""
    def run_with(child: object) -> None:
        run = OxmlElement("w:r")
        run.append(child)
        paragraph._p.append(run)

    for kind, extra in (("begin", None), ("instr", instruction), ("separate", None), ("text", shown), ("end", None)):
        if kind == "instr":
            node = OxmlElement("w:instrText")
            node.set(qn("xml:space"), "preserve")
            node.text = f" {extra} "
        elif kind == "text":
            node = OxmlElement("w:t")
            node.text = extra
        else:
            node = OxmlElement("w:fldChar")
            node.set(qn("w:fldCharType"), kind)
        run_with(node)


def _top_border(paragraph: Paragraph) -> None:
    """A line to sign on: the paragraph's top border (no underscores in the text)."""
    ppr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    top = OxmlElement("w:top")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        top.set(qn(key), value)
    borders.append(top)
    ppr.append(borders)


def _no_borders(table: object) -> None:
    tblpr = table._tbl.tblPr
    for old in tblpr.findall(qn("w:tblBorders")):
        tblpr.remove(old)
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        node = OxmlElement(f"w:{edge}")
        node.set(qn("w:val"), "nil")
        borders.append(node)
    tblpr.append(borders)


def _cant_split(row: object) -> None:
    trpr = row._tr.get_or_add_trPr()
    trpr.append(OxmlElement("w:cantSplit"))


# -- numbering -------------------------------------------------------------------------------------

def _level(ilvl: int, fmt: str, text: str, left_twips: int, hanging_twips: int, font: str = "") -> object:
    lvl = OxmlElement("w:lvl")
    lvl.set(qn("w:ilvl"), str(ilvl))
    for tag, value in (("w:start", "1"), ("w:numFmt", fmt), ("w:lvlText", text), ("w:lvlJc", "left")):
        node = OxmlElement(tag)
        node.set(qn("w:val"), value)
        lvl.append(node)
    ppr = OxmlElement("w:pPr")
    ind = OxmlElement("w:ind")
    ind.set(qn("w:left"), str(left_twips))
    ind.set(qn("w:hanging"), str(hanging_twips))
    ppr.append(ind)
    lvl.append(ppr)
    if font:
        rpr = OxmlElement("w:rPr")
        _set_fonts(rpr, font)
        lvl.append(rpr)
    return lvl


class Numbering:
    """Three list kinds: legal clauses (one instance for the whole document, so they continue
    across sections), bullets, and ordered lists that restart where the Markdown starts them."""

    def __init__(self, document: object, font: str) -> None:
        self.root = document.part.numbering_part.element
        existing = [int(a.get(qn("w:abstractNumId"))) for a in self.root.findall(qn("w:abstractNum"))]
        base = max(existing, default=-1) + 1
        self.clause_abstract, self.bullet_abstract, self.ordered_abstract = base, base + 1, base + 2
        self._abstract(self.clause_abstract, [("decimal", "%1.", 720, 720), ("lowerLetter", "(%2)", 1440, 720),
                                              ("lowerRoman", "(%3)", 2160, 720)], font)
        self._abstract(self.bullet_abstract, [("bullet", "•", 720, 360), ("bullet", "–", 1440, 360),
                                              ("bullet", "•", 2160, 360)], font)
        self._abstract(self.ordered_abstract, [("decimal", "%1.", 720, 360), ("lowerLetter", "%2)", 1440, 360),
                                               ("lowerRoman", "%3.", 2160, 360)], font)
        self.clauses = self._num(self.clause_abstract)
        self.bullets = self._num(self.bullet_abstract)

    def _abstract(self, abstract_id: int, levels: list[tuple[str, str, int, int]], font: str) -> None:
        node = OxmlElement("w:abstractNum")
        node.set(qn("w:abstractNumId"), str(abstract_id))
        kind = OxmlElement("w:multiLevelType")
        kind.set(qn("w:val"), "hybridMultilevel")
        node.append(kind)
        for ilvl, (fmt, text, left, hanging) in enumerate(levels):
            node.append(_level(ilvl, fmt, text, left, hanging, font))
        nums = self.root.findall(qn("w:num"))
        if nums:
            nums[0].addprevious(node)  # the schema wants every abstractNum before the first num
        else:
            self.root.append(node)

    def _num(self, abstract_id: int, start: int | None = None) -> int:
        num = self.root.add_num(abstract_id)
        if start is not None:
            num.add_lvlOverride(ilvl=0).add_startOverride(start)
        return int(num.numId)

    def ordered(self, start: int) -> int:
        return self._num(self.ordered_abstract, max(start, 1))


def _number(paragraph: Paragraph, num_id: int, ilvl: int) -> None:
    numpr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
    numpr.get_or_add_ilvl().val = ilvl
    numpr.get_or_add_numId().val = num_id


# -- the writer -------------------------------------------------------------------------------------

class WordDocument:
    def __init__(self, layout: Layout, title: str) -> None:
        self.look = look_of(layout)
        self.doc = Document()
        self._page()
        self._styles()
        self.numbering = Numbering(self.doc, self.look.font)
        props = self.doc.core_properties
        props.title, props.author, props.last_modified_by, props.comments = title, "", "", ""
        props.created = props.modified = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        props.revision = 1
        body = self.doc.element.body
        for paragraph in list(body.iterchildren(qn("w:p"))):  # the template's empty first paragraph
            body.remove(paragraph)
        if self.look.stamp_space_cm > 0:
            spacer = self.doc.add_paragraph()
            spacing = spacer._p.get_or_add_pPr().get_or_add_spacing()
            spacing.set(qn("w:line"), str(round(self.look.stamp_space_cm * 567)))
            spacing.set(qn("w:lineRule"), "exact")
            spacer.paragraph_format.space_before = spacer.paragraph_format.space_after = Pt(0)
        if self.look.page_numbers:
            self._footer()

    # page and styles
    def _page(self) -> None:
        section = self.doc.sections[0]
        width, height = PAPER_CM[self.look.paper]
        section.page_width, section.page_height = Cm(width), Cm(height)
        section.top_margin = section.bottom_margin = Cm(2.5)
        # Legal papers are bound or stapled on the left: a wider left margin.
        section.left_margin, section.right_margin = (Cm(3.0), Cm(2.5)) if self.look.legal else (Cm(2.5), Cm(2.5))

    def _styles(self) -> None:
        look = self.look
        styles = self.doc.styles
        defaults = styles.element.find(qn("w:docDefaults"))
        if defaults is not None:
            rpr_default = defaults.find(qn("w:rPrDefault"))
            if rpr_default is not None and rpr_default.find(qn("w:rPr")) is not None:
                _set_fonts(rpr_default.find(qn("w:rPr")), look.font)
        normal = styles["Normal"]
        _set_fonts(normal.element.get_or_add_rPr(), look.font)
        normal.font.size = Pt(look.size)
        fmt = normal.paragraph_format
        fmt.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY if look.justify else WD_ALIGN_PARAGRAPH.LEFT
        fmt.space_after = Pt(8 if look.legal else 6)
        fmt.line_spacing = 1.2 if look.legal else 1.1
        fmt.widow_control = True
        title_align = WD_ALIGN_PARAGRAPH.CENTER if look.legal else WD_ALIGN_PARAGRAPH.LEFT
        _restyle(styles["Title"], look.font, look.size + (2 if look.legal else 8), True, title_align, 0, 18)
        sizes = (look.size, look.size, look.size) if look.legal else (look.size + 3, look.size + 1, look.size)
        for level, size in enumerate(sizes, start=1):
            _restyle(styles[f"Heading {level}"], look.font, size, True, WD_ALIGN_PARAGRAPH.LEFT,
                     12 if level == 1 else 8, 6)
            styles[f"Heading {level}"].font.italic = level == 3

    def _footer(self) -> None:
        footer = self.doc.sections[0].footer
        paragraph = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.add_run("Page ")
        _field(paragraph, "PAGE", "1")
        paragraph.add_run(" of ")
        _field(paragraph, "NUMPAGES", "1")
        for run in paragraph.runs:
            run.font.size = Pt(self.look.size - 2)

    # text
    def _runs(self, paragraph: Paragraph, text: str, bold: bool = False) -> None:
        for run in runs(text, bold=bold):
            self._run(paragraph, run)

    def _run(self, paragraph: Paragraph, run: Run) -> None:
        if run.link:
            self._hyperlink(paragraph, run)
            return
        out = paragraph.add_run(run.text)
        out.bold = run.bold or None
        out.italic = run.italic or None
        if run.code:
            out.font.name = MONO
            _set_fonts(out._r.get_or_add_rPr(), MONO)

    def _hyperlink(self, paragraph: Paragraph, run: Run) -> None:
        append_hyperlink(paragraph, run.link, run.text, color="1F3A93", bold=run.bold, italic=run.italic)

    def title(self, text: str) -> None:
        self.doc.add_paragraph(text, style="Title")

    def line(self, text: str) -> Paragraph:
        paragraph = self.doc.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT
        self._runs(paragraph, text)
        return paragraph

    def fields(self, pairs: list[tuple[str, str]]) -> None:
        """Front matter as 'Key: value' lines (MADR's YAML header, readable in print)."""
        for key, value in pairs:
            paragraph = self.doc.add_paragraph()
            paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT
            paragraph.paragraph_format.space_after = Pt(0)
            paragraph.add_run(f"{key.replace('-', ' ').capitalize()}: ").bold = True
            self._runs(paragraph, value)
        if pairs:
            self.doc.paragraphs[-1].paragraph_format.space_after = Pt(12)

    def heading(self, text: str, level: int = 1) -> None:
        paragraph = self.doc.add_paragraph(style=f"Heading {min(max(level, 1), 3)}")
        self._runs(paragraph, text)

    def body(self, text: str, *, schedule: bool = False, signatures: bool = False, numbered: bool = False) -> None:
        if signatures:
            self._signatures(text)
            return
        if schedule:
            for chunk in _chunks(text):
                if not self._schedule(chunk):
                    for block in blocks(chunk):
                        self._block(block, numbered)
            return
        for block in blocks(text):
            self._block(block, numbered)

    def _block(self, block: Block, numbered: bool) -> None:
        if block.kind == "heading":
            self.heading(block.text, min(block.level - 1, 3) if block.level > 2 else 2)
        elif block.kind == "table":
            self._table(block.rows)
        elif block.kind == "code":
            for line in block.text.split("\n") or [""]:
                paragraph = self.doc.add_paragraph()
                paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT
                paragraph.paragraph_format.space_after = Pt(0)
                out = paragraph.add_run(line)
                out.font.size = Pt(self.look.size - 2)
                _set_fonts(out._r.get_or_add_rPr(), MONO)
        elif block.kind == "list":
            self._list(block.items, numbered)
        else:
            paragraph = self.doc.add_paragraph()
            connective = self.look.legal and CONNECTIVE.match(block.text) and not numbered
            self._runs(paragraph, block.text, bold=bool(connective))
            if connective:  # "BETWEEN", "AND" between the parties: centred on a line of their own
                paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
                paragraph.paragraph_format.keep_with_next = True
            if numbered:
                _number(paragraph, self.numbering.clauses, 0)

    def _list(self, items: list[Item], numbered: bool) -> None:
        ordered_num: int | None = None
        for item in items:
            paragraph = self.doc.add_paragraph()
            self._runs(paragraph, item.text)
            if numbered or (item.ordered and self.look.clause_numbering):
                _number(paragraph, self.numbering.clauses, item.level)
            elif item.ordered:
                if ordered_num is None:
                    ordered_num = self.numbering.ordered(item.number or 1)
                _number(paragraph, ordered_num, item.level)
            else:
                _number(paragraph, self.numbering.bullets, item.level)
                paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT if not self.look.justify else paragraph.alignment
            paragraph.paragraph_format.space_after = Pt(6 if item.ordered or numbered else 2)

    def _table(self, rows: list[list[str]], header: bool = True, style: str = "Table Grid") -> object:
        table = self.doc.add_table(rows=0, cols=len(rows[0]))
        table.style = style
        for r, row in enumerate(rows):
            cells = table.add_row().cells
            for cell, value in zip(cells, row):
                paragraph = cell.paragraphs[0]
                paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT
                paragraph.paragraph_format.space_after = Pt(2)
                self._runs(paragraph, value, bold=header and r == 0)
        self.doc.add_paragraph().paragraph_format.space_after = Pt(0)
        return table

    def _schedule(self, text: str) -> bool:
        """'Item: value' lines as a two-column table (the schedule of property)."""
        lines = [ln for ln in text.splitlines() if ln.strip()]
        matches = [SCHEDULE_LINE.match(ln) for ln in lines]
        if not lines or not all(matches):
            return False
        self._table([[m.group(1).strip(), m.group(2).strip()] for m in matches], header=False)
        return True

    # signatures
    def _signatures(self, text: str) -> None:
        """Prose stays prose; roles, Place/Date details and witnesses go into a borderless table
        of two columns, each signatory with blank space above a line to sign on."""
        pending: list[tuple[str, list[str]]] = []  # (kind, lines): role | details | witness

        def flush() -> None:
            if pending:
                self._signature_table(pending[:])
                pending.clear()

        for chunk in _chunks(text):
            lines = [ln.strip() for ln in chunk.splitlines() if ln.strip()]
            if all(WITNESS.match(ln) for ln in lines):
                pending += [("witness", [ln]) for ln in lines]
            elif all(DETAIL.match(ln) for ln in lines):
                pending.append(("details", lines))
            elif all(ROLE.match(ln) for ln in lines):
                for ln in lines:
                    role, name = ROLE.match(ln).group(1), ROLE.match(ln).group(2)
                    if name is not None and not name.strip() and ln.endswith(":"):
                        flush()  # "WITNESSES:" introduces what follows
                        label = self.doc.add_paragraph()
                        label.alignment = WD_ALIGN_PARAGRAPH.LEFT
                        label.paragraph_format.keep_with_next = True
                        label.add_run(role).bold = True
                    else:
                        pending.append(("role", [role, (name or "").strip()]))
            else:
                flush()
                for block in blocks(chunk):
                    self._block(block, False)
                self.doc.paragraphs[-1].paragraph_format.keep_with_next = True
        flush()

    def _signature_table(self, items: list[tuple[str, list[str]]]) -> None:
        rows: list[list[tuple[str, list[str]] | None]] = []
        i = 0
        while i < len(items):
            kind = items[i][0]
            nxt = items[i + 1] if i + 1 < len(items) else None
            if kind == "details":
                rows.append([items[i], nxt if nxt and nxt[0] == "role" else None])
                i += 2 if nxt and nxt[0] == "role" else 1
            elif nxt and nxt[0] == kind:
                rows.append([items[i], nxt])
                i += 2
            else:
                rows.append([None, items[i]] if kind == "role" else [items[i], None])
                i += 1
        table = self.doc.add_table(rows=0, cols=2)
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        _no_borders(table)
        for row in rows:
            added = table.add_row()
            _cant_split(added)
            for cell, item in zip(added.cells, row):
                cell.vertical_alignment = WD_ALIGN_VERTICAL.BOTTOM  # "Date:" level with the signatory's line
                if item is not None:
                    self._signature_cell(cell, *item)
        self.doc.add_paragraph().paragraph_format.space_after = Pt(0)

    def _signature_cell(self, cell: object, kind: str, lines: list[str]) -> None:
        fresh = [cell.paragraphs[0]]  # a new cell has one empty paragraph: use it first

        def para(text: str = "", bold: bool = False, italic: bool = False, space: float = 0) -> Paragraph:
            paragraph = fresh.pop() if fresh else cell.add_paragraph()
            paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT
            paragraph.paragraph_format.space_after = Pt(2)
            paragraph.paragraph_format.space_before = Pt(space)
            if text:
                run = paragraph.add_run(text)
                run.bold, run.italic = bold or None, italic or None
            return paragraph

        if kind == "details":
            para(space=36)
            for line in lines:
                key, _, value = line.partition(":")
                paragraph = para()
                paragraph.add_run(f"{key}:").bold = True
                paragraph.add_run(f" {value.strip()}")
        elif kind == "witness":
            match = WITNESS.match(lines[0])
            para(f"{match.group(1)}.", bold=True, space=12)
            _top_border(para(match.group(2), italic=True, space=40))
            para("Name:", space=8)
            para("Address:", space=8)
        else:
            role, name = lines
            _top_border(para(role, bold=True, space=48))
            if name:
                para(name)


def _chunks(text: str) -> list[str]:
    return [c for c in re.split(r"\n\s*\n", text) if c.strip()]


def add_link_paragraph(document: object, anchor: Paragraph | None, prefix: str, label: str, target: str) -> None:
    """A 'prefix [label](target)' paragraph after `anchor` in an existing document (supersede links)."""
    paragraph = document.add_paragraph()
    if anchor is not None:
        anchor._p.addnext(paragraph._p)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT
    paragraph.add_run(prefix)
    append_hyperlink(paragraph, target, label)


def append_hyperlink(paragraph: Paragraph, target: str, label: str, *, color: str = "", bold: bool = False,
                     italic: bool = False) -> None:
    """An underlined external link run at the end of `paragraph` (python-docx has no API for one)."""
    rel = paragraph.part.relate_to(target, RT.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel)
    node = OxmlElement("w:r")
    rpr = OxmlElement("w:rPr")
    if color:
        shade = OxmlElement("w:color")
        shade.set(qn("w:val"), color)
        rpr.append(shade)
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    rpr.append(underline)
    for flag, tag in ((bold, "w:b"), (italic, "w:i")):
        if flag:
            rpr.append(OxmlElement(tag))
    node.append(rpr)
    text = OxmlElement("w:t")
    text.text = label
    text.set(qn("xml:space"), "preserve")
    node.append(text)
    link.append(node)
    paragraph._p.append(link)
