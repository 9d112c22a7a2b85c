"""Parsing files into titled documents, sections and metadata (pure; no model, no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.parsing import Skip, guess_kind, parse_bytes

FRONT_MATTER = b"""---
title: Use PostgreSQL
status: accepted
date: 2021-03-04
---

## Context and Problem Statement

We need a database.

## Decision Outcome

Chosen option: PostgreSQL, because it is boring.
"""

STATUS_LINES = b"""# 7. Queue for emails

* Status: superseded
* Deciders: platform team
* Date: 2020-01-02

## Context

Emails are sent inline.

```python
# not a heading
print("x")
```

## Decision

Use a queue.

### Retries

Three times.
"""

STATUS_SECTION = b"""# 2. Deployment platform

Date: 2020-10-22

## Status

Accepted

## Context

We deploy to a PaaS.
"""

META_TABLE = b"""# NATS contexts

| Metadata | Value                 |
|----------|-----------------------|
| Date     | 2021-12-14            |
| Author   | @ripienaar            |
| Status   | Partially Implemented |

## Background

A context is a named configuration.
"""


def test_front_matter_gives_title_and_metadata():
    doc = parse_bytes(Path("notes/0001-db.md"), FRONT_MATTER)
    assert doc.title == "Use PostgreSQL"
    assert doc.metadata["status"] == "accepted"
    assert doc.metadata["date"] == "2021-03-04"  # YAML dates become ISO strings
    assert [s.heading for s in doc.sections] == ["Context and Problem Statement", "Decision Outcome"]
    assert doc.kind == "adr"  # two ADR headings


def test_status_lines_nested_headings_and_code_fences():
    doc = parse_bytes(Path("x/queue.md"), STATUS_LINES)
    assert doc.title == "7. Queue for emails"
    assert doc.metadata["status"] == "superseded"
    assert doc.metadata["deciders"] == "platform team"
    assert doc.metadata["date"] == "2020-01-02"
    headings = [s.heading for s in doc.sections]
    assert headings == ["", "Context", "Decision", "Decision > Retries"]
    context = doc.sections[1].text
    assert "# not a heading" in context  # a '#' inside a code fence is code, not a heading
    assert doc.sections[3].level == 3


def test_status_section_and_date_line():
    doc = parse_bytes(Path("adr/0002.md"), STATUS_SECTION)
    assert doc.metadata == {"date": "2020-10-22", "status": "Accepted"}


def test_metadata_table():
    doc = parse_bytes(Path("n/ADR-21.md"), META_TABLE)
    assert doc.metadata["status"] == "Partially Implemented"
    assert doc.metadata["author"] == "@ripienaar"
    assert doc.metadata["date"] == "2021-12-14"
    assert "metadata" not in doc.metadata


def test_plain_text_all_caps_headings():
    text = b"LEASE DEED\n\nThis deed is made at Pune.\n\nTERM OF LEASE\nEleven months from 1 April.\n\nRENT\nRs. 20,000 per month.\n"
    doc = parse_bytes(Path("docs/lease.txt"), text)
    assert doc.title == "LEASE DEED"
    assert [s.heading for s in doc.sections] == ["", "TERM OF LEASE", "RENT"]
    assert "Eleven months" in doc.sections[1].text


def test_docx_headings_and_tables(tmp_path: Path):
    import docx

    d = docx.Document()
    d.core_properties.title = "Agreement to Sell"
    d.add_heading("Parties", level=1)
    d.add_paragraph("The vendor and the purchaser.")
    d.add_heading("Price", level=1)
    d.add_paragraph("Rs. 50,00,000 payable as below.")
    d.add_heading("Earnest money", level=2)
    d.add_paragraph("Rs. 5,00,000 on signing.")
    path = tmp_path / "sale.docx"
    d.save(str(path))
    doc = parse_bytes(path, path.read_bytes())
    assert doc.title == "Agreement to Sell"
    assert [s.heading for s in doc.sections] == ["Parties", "Price", "Price > Earnest money"]
    assert doc.sections[2].text == "Rs. 5,00,000 on signing."


@pytest.mark.parametrize("name,data,reason", [
    ("a.md", b"", "empty file"),
    ("a.md", b"  \n\n ", "empty file"),
    ("a.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary file"),
    ("a.md", "caf\u00e9".encode("latin-1") + b" au lait\n", "not UTF-8 text"),
    ("a.docx", b"PK\x03\x04 not really a zip", "not a readable Word document"),
])
def test_bad_content_is_skipped_with_a_reason(name: str, data: bytes, reason: str):
    with pytest.raises(Skip, match=reason):
        parse_bytes(Path(name), data)


def test_kind_given_wins_and_guesses_use_folders_then_content():
    nda = b"# Mutual NDA\n\nThis Agreement is made between the parties. Whereas each party ... hereby agrees.\n" \
          b"## Liability\n\nNo party is liable. Governing law: India. The parties warrant ...\n"
    assert parse_bytes(Path("x/nda.md"), nda, kind="other").kind == "other"
    assert parse_bytes(Path("x/nda.md"), nda).kind == "legal"
    assert parse_bytes(Path("decisions/nda.md"), nda).kind == "adr"
    claims = b"# Widget\n\n## Claims\n\n1. A widget wherein the claims ... wherein an embodiment ... " \
             b"claim 2 wherein ... prior art embodiments\n"
    assert parse_bytes(Path("x/w.md"), claims).kind == "patent"
    assert parse_bytes(Path("x/hello.md"), b"# Hello\n\nshopping list: eggs\n").kind == "other"


def test_guess_kind_on_the_corpus_layout(corpus: Path):
    adr = corpus / "adr-nats" / "adr__ADR-21.md"
    assert parse_bytes(adr, adr.read_bytes()).kind == "adr"
    assert guess_kind(Path("legal-commonpaper/x.md"), parse_bytes(Path("y.md"), b"# x\n\nhello")) == "legal"
