"""Export to Markdown and DOCX: structure, refusing gaps and overwrites, ADR numbering, .adr-dir,
MADR front matter and supersede links."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest

from assistant import drafting
from assistant.cli import main
from engine.errors import UserError
from tests.fixtures_drafting import RENT

FULL_RENT = {**RENT, "lessor_address": "B-14, Sector 27, Noida", "lessee_address": "12 MG Road, Kochi", "place": "Noida"}


def md_headings(text: str) -> list[str]:
    return [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]


def docx_headings(path: Path) -> list[str]:
    document = docx.Document(str(path))
    return [p.text for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))]


def fixed_rent_session(values: dict[str, str] | None = None) -> int:
    sid = drafting.new_session("in-rent-agreement", "Flat 302", values or FULL_RENT).id
    for section in drafting.get_session(sid).sections:
        if drafting.needs_model(sid, section.id):
            drafting.edit_section(sid, section.id, "That the Lessee shall keep the premises clean.")
        else:
            drafting.draft_section(sid, section.id, lm=None)
    return sid


def test_markdown_and_docx_have_the_same_headings_and_the_schedule(tmp_path: Path):
    sid = fixed_rent_session()
    md = drafting.export(sid, "md", tmp_path / "lease.md")
    out = drafting.export(sid, "docx", tmp_path / "lease.docx")
    text = md.read_text(encoding="utf-8")
    headings = md_headings(text)
    assert headings[0] == "RENT AGREEMENT"
    sections = drafting.get_session(sid).sections
    # no other terms were given: that optional section is left out, not printed as a bare heading
    assert [s.title for s in sections if not s.text.strip()] == ["Additional Terms"]
    assert headings[1:] == [s.title for s in sections if s.text.strip()]
    assert docx_headings(out) == headings
    # Markdown keeps the clause numbers as typed; Word numbers them itself (tests/test_export_docx.py).
    assert "2. That the Lessee shall pay to the Lessor a monthly rent of Rs. 28,000/-" in text
    document = docx.Document(str(out))
    schedule = next(t for t in document.tables if t.cell(0, 0).text == "Premises")
    assert schedule.cell(0, 1).text == RENT["property"]
    clause = next(p for p in document.paragraphs if p.text.startswith("That the Lessee shall pay to the Lessor"))
    assert clause._p.pPr.numPr is not None


def test_export_refuses_missing_values_and_placeholders_unless_forced(tmp_path: Path):
    sid = fixed_rent_session({k: v for k, v in FULL_RENT.items() if k not in ("place", "lessor_address")})
    with pytest.raises(UserError) as caught:
        drafting.export(sid, "md", tmp_path / "lease.md")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("not exported: ")
    assert "no value for lessor_address, place" in message and "\"{place}\" in section 1" in message
    assert "--force" in message and not (tmp_path / "lease.md").exists()
    assert {f.code for f in drafting.export_findings(sid)} == {"missing_value", "placeholder"}
    written = drafting.export(sid, "md", tmp_path / "lease.md", force=True)
    assert "{place}" in written.read_text(encoding="utf-8")


def test_export_refuses_to_replace_a_file_unless_forced(tmp_path: Path):
    sid = fixed_rent_session()
    target = tmp_path / "lease.docx"
    target.write_bytes(b"the lawyer's own copy")
    with pytest.raises(UserError, match=r"lease.docx already exists: use --force to replace it"):
        drafting.export(sid, "docx", target)
    assert target.read_bytes() == b"the lawyer's own copy"
    # A non-ADR document into a folder: the chosen name is protected the same way.
    first = drafting.export(sid, "md", tmp_path)
    assert first == tmp_path / "flat-302.md" and drafting.export_path(sid, "md", tmp_path) == first
    with pytest.raises(UserError, match="flat-302.md already exists"):
        drafting.export(sid, "md", tmp_path)
    assert drafting.export(sid, "docx", target, force=True) == target and target.read_bytes()[:2] == b"PK"


def test_cli_export_refuses_with_one_line_and_force_writes(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    sid = fixed_rent_session({k: v for k, v in FULL_RENT.items() if k != "place"})
    target = tmp_path / "lease.md"
    code = main(["export", str(sid), "--format", "md", "-o", str(target)])
    out, err = capsys.readouterr()
    assert code != 0 and out == "" and err.count("\n") == 1 and "no value for place" in err
    assert main(["export", str(sid), "--format", "md", "-o", str(target), "--force"]) == 0
    assert capsys.readouterr().out.strip() == str(target)
    drafting.set_values(sid, {"place": "Noida"})
    for section in drafting.get_session(sid).sections:  # the fixed sections take the new place
        if not drafting.needs_model(sid, section.id):
            drafting.draft_section(sid, section.id, lm=None)
    code = main(["export", str(sid), "--format", "md", "-o", str(target)])
    assert code != 0 and "already exists" in capsys.readouterr().err
    assert main(["export", str(sid), "--format", "md", "-o", str(target), "--force"]) == 0
    capsys.readouterr()
    # "-o -": the same document on standard output, with the same refusals
    assert main(["export", str(sid), "--format", "md", "-o", "-"]) == 0
    assert capsys.readouterr().out == target.read_text(encoding="utf-8")
    drafting.set_values(sid, {"place": ""})
    assert main(["export", str(sid), "--format", "md", "-o", "-"]) != 0
    out, err = capsys.readouterr()
    assert out == "" and "no value for place" in err
    assert main(["export", str(sid), "--format", "docx", "-o", "-"]) != 0
    assert "--format md" in capsys.readouterr().err


def adr(title: str, template: str = "adr-nygard", **values: str) -> int:
    facts = {"title": title, "context": "c", "decision": "d"} if template == "adr-nygard" else {
        "title": title, "context": "c", "options": "SQLite; flat files", "chosen": "SQLite", "because": "it is simple",
        **values}
    sid = drafting.new_session(template, values=facts).id
    sections = drafting.get_session(sid).sections
    drafting.draft_section(sid, sections[0].id, lm=None)
    for section in sections[1:4]:
        if drafting.needs_model(sid, section.id):
            drafting.edit_section(sid, section.id, f"Text of section {section.position}.")
        else:
            drafting.draft_section(sid, section.id, lm=None)
    return sid


def test_adr_numbering_and_supersede_links_as_adr_tools_does(tmp_path: Path):
    folder = tmp_path / "doc" / "adr"
    folder.mkdir(parents=True)
    (folder / "0001-record-architecture-decisions.md").write_text(
        "# 1. Record architecture decisions\n\nDate: 2024-01-01\n\n## Status\n\nAccepted\n\n## Context\n\nx\n")
    flat = adr("Use flat files for events")
    second = drafting.export(flat, "md", folder)
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


def test_re_export_keeps_the_record_number(tmp_path: Path):
    tmp_path = tmp_path / "decisions"
    tmp_path.mkdir()
    first, second = adr("Use SQLite for local state"), adr("Use NATS for events")
    assert drafting.export(first, "md", tmp_path).name == "0001-use-sqlite-for-local-state.md"
    assert drafting.export(second, "md", tmp_path).name == "0002-use-nats-for-events.md"
    with pytest.raises(UserError, match=r"0001-use-sqlite-for-local-state.md already exists \(this document's ADR 1\)"):
        drafting.export(first, "md", tmp_path)
    again = drafting.export(first, "md", tmp_path, force=True)
    assert again.name == "0001-use-sqlite-for-local-state.md" and again.read_text().startswith("# 1. Use SQLite")
    # The same record in Word keeps the number too.
    assert drafting.export(first, "docx", tmp_path).name == "0001-use-sqlite-for-local-state.docx"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "0001-use-sqlite-for-local-state.docx", "0001-use-sqlite-for-local-state.md", "0002-use-nats-for-events.md"]


def test_adr_folder_from_adr_dir_as_adr_tools_finds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    repo = tmp_path / "repo"
    (repo / "docs" / "architecture").mkdir(parents=True)
    (repo / "src" / "app").mkdir(parents=True)
    (repo / ".adr-dir").write_text("docs/architecture\n")
    monkeypatch.chdir(repo / "src" / "app")  # adr-tools walks up from the current folder
    written = drafting.export(adr("Use SQLite"), "md", None)
    assert written == repo / "docs" / "architecture" / "0001-use-sqlite.md"
    # -o pointing at the repository root follows its .adr-dir too.
    assert drafting.export(adr("Use NATS"), "md", repo).parent == repo / "docs" / "architecture"
    # Without .adr-dir, a doc/adr folder further up is used, as adr-tools does.
    other = tmp_path / "other"
    (other / "doc" / "adr").mkdir(parents=True)
    (other / "deep").mkdir()
    monkeypatch.chdir(other / "deep")
    assert drafting.export(adr("Use Redis"), "md", None) == other / "doc" / "adr" / "0001-use-redis.md"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="say where to write it"):
        drafting.export(adr("Nowhere"), "md", None)
    with pytest.raises(UserError, match="say where to write it"):
        drafting.export(fixed_rent_session(), "md", None)


def test_madr_front_matter_and_supersede(tmp_path: Path):
    old = drafting.export(adr("Use flat files", "adr-madr", deciders="Asha; Ravi", date="2026-11-02"), "md", tmp_path)
    text = old.read_text()
    assert text.startswith('---\nstatus: accepted\ndate: 2026-11-02\ndecision-makers: "Asha, Ravi"\n---\n\n# Use flat files\n')
    assert "## Status" not in text  # MADR keeps the status in the front matter
    new = drafting.export(adr("Use SQLite", "adr-madr", date="2026-12-01"), "md", tmp_path, supersedes=1)
    assert new.name == "0002-use-sqlite.md"
    assert "# Use SQLite\n\nSupersedes [Use flat files](0001-use-flat-files.md)\n" in new.read_text()
    old_text = old.read_text()
    assert old_text.startswith('---\nstatus: "superseded by ADR-0002"\ndate: 2026-11-02\n')
    assert "# Use flat files\n\nSuperseded by [ADR-0002](0002-use-sqlite.md)\n" in old_text


def hyperlinks(path: Path) -> list[tuple[str, str]]:
    document = docx.Document(str(path))
    rels = document.part.rels
    out = []
    for link in document.element.body.iter("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}hyperlink"):
        rid = link.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")
        out.append(("".join(t.text for t in link.iter() if t.tag.endswith("}t")), rels[rid].target_ref))
    return out


def test_supersede_links_both_ways_in_docx(tmp_path: Path):
    old = drafting.export(adr("Use flat files for events"), "docx", tmp_path)
    new = drafting.export(adr("Use PostgreSQL for events"), "docx", tmp_path, supersedes=1)
    assert new.name == "0002-use-postgresql-for-events.docx"
    assert hyperlinks(new) == [("1. Use flat files for events", "0001-use-flat-files-for-events.docx")]
    assert hyperlinks(old) == [("2. Use PostgreSQL for events", "0002-use-postgresql-for-events.docx")]
    paragraphs = [p.text for p in docx.Document(str(old)).paragraphs]
    status = paragraphs.index("Status")
    assert paragraphs[status + 1] == "Superseded by 2. Use PostgreSQL for events" and "Accepted" not in paragraphs


def test_export_errors_are_user_errors(tmp_path: Path):
    sid = adr("x")
    with pytest.raises(UserError, match="unknown export format 'odt'"):
        drafting.export(sid, "odt", tmp_path / "x.odt")
    with pytest.raises(UserError, match="does not exist"):
        drafting.export(sid, "md", tmp_path / "missing" / "x.md")


def test_superseding_again_or_in_another_format_links_once(tmp_path: Path):
    drafting.export(adr("Use flat files"), "md", tmp_path)
    first = drafting.export(adr("Use flat files"), "docx", tmp_path, force=True)  # the same record, in Word
    assert first.name == "0001-use-flat-files.docx"
    newer = adr("Use SQLite")
    drafting.export(newer, "md", tmp_path, supersedes=1)
    drafting.export(newer, "docx", tmp_path, supersedes=1)
    drafting.export(newer, "md", tmp_path, supersedes=1, force=True)
    assert (tmp_path / "0001-use-flat-files.md").read_text().count("Superseded by") == 1
    texts = [p.text for p in docx.Document(str(first)).paragraphs]
    assert texts.count("Superseded by 2. Use SQLite") == 1
