"""The small Markdown a section's text uses, read into blocks and inline runs (pure functions).

Enough for what drafts contain: paragraphs, bulleted and numbered lists (with "(a)" sub-items),
pipe tables, fenced code, `###` sub-headings, and inline bold, italics, code and links. Export
turns these into Word paragraphs, numbering and tables instead of stripping the markers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_BULLET = re.compile(r"^(\s*)[-*+•]\s+(.*)$")
_ORDERED = re.compile(r"^(\s*)(\d{1,3})[.)]\s+(.*)$")
_LETTERED = re.compile(r"^(\s*)\(([a-z]|[ivx]{1,4})\)\s+(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_INLINE = re.compile(
    r"`(?P<code>[^`\n]+)`"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>[^)\s]+)\)"
    r"|\*\*\*(?P<bi>.+?)\*\*\*"
    r"|\*\*(?P<b1>.+?)\*\*|__(?P<b2>.+?)__"
    r"|\*(?P<i1>[^\s*](?:.*?[^\s*])?)\*|(?<![\w])_(?P<i2>[^\s_](?:.*?[^\s_])?)_(?![\w])"
)


@dataclass(frozen=True)
class Run:
    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False
    link: str = ""


@dataclass(frozen=True)
class Item:
    text: str
    level: int = 0  # 0: a clause or top item; 1: "(a)" or an indented item
    ordered: bool = False
    number: int = 0  # the number as typed (ordered lists may start anywhere)


@dataclass
class Block:
    kind: str  # paragraph | list | table | code | heading
    text: str = ""
    items: list[Item] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # table: the first row is the header
    level: int = 0  # heading level


def runs(text: str, bold: bool = False, italic: bool = False) -> list[Run]:
    """Inline Markdown as runs; nested bold/italic combine, unmatched markers stay as typed."""
    out: list[Run] = []
    position = 0
    for match in _INLINE.finditer(text):
        if match.start() > position:
            out.append(Run(text[position:match.start()], bold, italic))
        if match.group("code") is not None:
            out.append(Run(match.group("code"), bold, italic, code=True))
        elif match.group("url") is not None:
            label = runs(match.group("label"), bold, italic)
            out += [Run(r.text, r.bold, r.italic, r.code, match.group("url")) for r in label]
        elif match.group("bi") is not None:
            out += runs(match.group("bi"), True, True)
        elif match.group("b1") is not None or match.group("b2") is not None:
            out += runs(match.group("b1") or match.group("b2"), True, italic)
        else:
            out += runs(match.group("i1") or match.group("i2"), bold, True)
        position = match.end()
    if position < len(text):
        out.append(Run(text[position:], bold, italic))
    return [r for r in out if r.text]


def plain(text: str) -> str:
    """The text without inline markers (for titles and table cells compared as text)."""
    return "".join(r.text for r in runs(text))


def _item(line: str) -> Item | None:
    if m := _ORDERED.match(line):
        return Item(m.group(3).strip(), 1 if len(m.group(1)) >= 2 else 0, True, int(m.group(2)))
    if m := _LETTERED.match(line):
        return Item(m.group(3).strip(), 1, True, 0)
    if m := _BULLET.match(line):
        return Item(m.group(2).strip(), 1 if len(m.group(1)) >= 2 else 0, False)
    return None


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def blocks(text: str) -> list[Block]:
    """Blocks in order. Items separated by blank lines still make one list (a loose list), so a
    clause "1." and the clause "2." after a blank line number as one sequence."""
    lines = text.replace("\r\n", "\n").split("\n")
    out: list[Block] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.lstrip().startswith("```"):
            body = []
            i += 1
            while i < len(lines) and not lines[i].lstrip().startswith("```"):
                body.append(lines[i])
                i += 1
            out.append(Block("code", "\n".join(body)))
            i += 1
            continue
        if m := _HEADING.match(line):
            out.append(Block("heading", m.group(2), level=len(m.group(1))))
            i += 1
            continue
        if "|" in line and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]) and "-" in lines[i + 1]:
            rows = [_cells(line)]
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_cells(lines[i]))
                i += 1
            width = len(rows[0])
            out.append(Block("table", rows=[(r + [""] * width)[:width] for r in rows]))
            continue
        if _item(line):
            items: list[Item] = []
            while i < len(lines):
                current = lines[i]
                if not current.strip():
                    # A blank line ends the list unless another item follows it.
                    j = i
                    while j < len(lines) and not lines[j].strip():
                        j += 1
                    if j < len(lines) and _item(lines[j]):
                        i = j
                        continue
                    break
                found = _item(current)
                if found:
                    items.append(found)
                elif items and not _HEADING.match(current):
                    last = items[-1]
                    items[-1] = Item(f"{last.text} {current.strip()}", last.level, last.ordered, last.number)
                else:
                    break
                i += 1
            out.append(Block("list", items=items))
            continue
        body = []
        while i < len(lines) and lines[i].strip() and not _item(lines[i]) and not _HEADING.match(lines[i]) \
                and not lines[i].lstrip().startswith("```"):
            body.append(lines[i].strip())
            i += 1
        out.append(Block("paragraph", " ".join(body)))
    return out
