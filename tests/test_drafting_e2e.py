"""End to end on the embedded model, headless: new -> plan -> draft all -> validate -> export md and docx.

Also: a whole session with network connections blocked, and kill -9 in the middle of `draft --all`.
Section lengths are kept small so the whole file stays within the suite's time budget.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import docx
import pytest

from assistant import drafting
from assistant.drafting.templates import get_template, render_text

pytestmark = pytest.mark.real_model

ROOT = Path(__file__).resolve().parents[1]
TOKENS = 48

ADR_FACTS = {
    "title": "Use PostgreSQL for the event store",
    "context": "The order service keeps its events in flat files. Replays are slow and events are lost when a node crashes.",
    "decision": "We will store every domain event as one row of an append-only PostgreSQL table.",
}
RENT_FACTS = {
    "lessor": "Shri Anil Kumar Sharma", "lessor_address": "B-14, Sector 27, Noida 201301",
    "lessee": "Ms. Priya Nair", "lessee_address": "12 MG Road, Ernakulam, Kochi 682011",
    "property": "Flat No. 302, Sunrise Apartments, Sector 62, Noida 201309",
    "rent": "Rs. 28,000", "deposit": "56000", "start_date": "2025-03-01", "term_months": "11", "place": "Noida",
}


def fact_in(value: str, text: str) -> bool:
    """An independent, deliberately plain check: the digits of an amount, or the words of anything else."""
    if re.fullmatch(r"(?:Rs\.?\s*)?[\d,]+", value):
        return value.replace("Rs.", "").replace(",", "").strip() in text.replace(",", "")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        # Legal prose writes the date out: 2025-03-01 is "1st day of March, 2025".
        year, month, day = (int(part) for part in value.split("-"))
        month_name = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                      "October", "November", "December"][month - 1]
        return value in text or re.search(rf"\b{day}(st|nd|rd|th) day of {month_name}, {year}\b", text) is not None
    words = [w for w in re.sub(r"[^\w]+", " ", value.lower()).split() if w not in {"shri", "ms"}]
    return " ".join(words) in " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def words(text: str) -> str:
    return " ".join(text.split())


def section_of(prompt: object) -> str:
    """The section a drafting prompt asks for: the last heading of a continuation prompt, or the
    section a chat prompt names."""
    if isinstance(prompt, str):
        return prompt.rsplit("\n## ", 1)[-1].split("\n", 1)[0].strip()
    found = re.search(r'Write the "([^"]+)" section', "\n".join(m["content"] for m in prompt))
    return found.group(1) if found else ""


def check_model_sections(session_id: int, facts: dict[str, str], calls: list[tuple[object, object]]) -> int:
    """The model's part of the document, apart from the template's wording: each section the model
    drafted was prompted with its facts, and what is stored after the template's wording is the
    model's own answer (cleaned: loops cut, an unfinished last clause ended with a full stop), not
    nothing and not template text. A section may have had one retry. Returns how many there were."""
    session = drafting.get_session(session_id)
    template = get_template(session.template_id)
    drafted = [s for s in session.sections if s.current is not None and s.current.source == "generated"]
    by_section: dict[str, list[tuple[object, object]]] = {}
    for prompt, result in calls:
        by_section.setdefault(section_of(prompt), []).append((prompt, result))
    assert sorted(by_section) == sorted(s.title for s in drafted)
    for section in drafted:
        attempts = by_section[section.title]
        assert 1 <= len(attempts) <= 2, (section.title, len(attempts))  # a first draft, and at most one retry
        spec = next((x for x in template.sections if x.id == section.key), None)
        # the section's own facts (what it `uses`) and the document's title must reach its prompt
        told = [name for name in (*(spec.uses if spec else ()), "title") if facts.get(name)]
        for prompt, _result in attempts:
            text = prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt)
            missing = [name for name in told if not fact_in(facts[name], text)]
            assert not missing, f"{section.title}: facts {missing} never reached the model"
        before = drafting.wording_before_draft(session_id, section.id)
        assert section.text.startswith(before.strip())
        prose = words(section.text[len(before.strip()):])
        assert prose, f"{section.title}: nothing of the model's answer was stored"
        answers = [words(result.text) for _prompt, result in attempts]
        pieces = [words(x).rstrip(".") for x in re.findall(r"[^.!?]+[.!?]*", prose) if x.strip()]
        not_said = [x for x in pieces if not any(x in answer for answer in answers)]
        assert not not_said, (section.title, not_said, answers)
    return len(drafted)


def run_session(template_id: str, facts: dict[str, str], lm: object, out: Path,
                monkeypatch: pytest.MonkeyPatch, model_sections: int) -> tuple[str, list]:
    from assistant.drafting import model_calls

    calls: list[tuple[object, object]] = []  # the drafting calls (a plan passes no reference texts)
    real = model_calls.generate

    def spy(lm, messages, config, **kwargs):
        result = real(lm, messages, config, **kwargs)
        if "reference_texts" in kwargs:
            calls.append((messages, result))
        return result

    monkeypatch.setattr(model_calls, "generate", spy)
    session = drafting.new_session(template_id, values=facts)
    planned = drafting.plan(session.id, lm, max_new_tokens=48)
    drafting.draft_all(session.id, lm, max_new_tokens=TOKENS)
    assert check_model_sections(session.id, facts, calls) == model_sections
    findings = drafting.validate(session.id)
    md = drafting.export(session.id, "md", out / f"{template_id}.md")
    word = drafting.export(session.id, "docx", out / f"{template_id}.docx")
    text = md.read_text(encoding="utf-8")

    template = get_template(template_id)
    final = drafting.get_session(session.id)
    keyed = [s.key for s in final.sections if s.key]
    required = [s.id for s in template.sections_for(final.variant) if s.required]
    assert [k for k in keyed if k in required] == required  # every required section, in template order
    assert all(s.text.strip() for s in final.sections if s.key in required)
    assert len(final.sections) == len(keyed) + len(planned.added)

    md_headings = [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]
    document = docx.Document(str(word))
    assert [p.text for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))] == md_headings
    assert md_headings[1:] == [s.title for s in final.sections if s.text.strip()]  # empty optional ones left out

    absent = {name for name, value in facts.items() if not fact_in(value, text)}
    reported = {f.field for f in findings if f.code == "missing_fact"}
    assert reported == absent  # validate names exactly the facts that are missing
    assert absent == set()  # every given fact is in the document (the template's wording carries most)
    assert not [f for f in findings if f.code in ("missing_section", "missing_value", "empty_section", "order")]
    print(f"\n===== {template_id}: validate")
    print("\n".join(f"{f.severity}: {f.message}" for f in findings) or "ok: no findings")
    print(f"===== {template_id}: {md.name}\n{text}")
    return text, findings


def test_adr_end_to_end(real_lm, no_network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # the model writes Consequences; Context and Decision are the facts given, in the template's wording
    text, _ = run_session("adr-nygard", ADR_FACTS, real_lm, tmp_path, monkeypatch, model_sections=1)
    assert no_network == []  # the whole session ran with connections blocked, and tried none
    assert text.startswith("# Use PostgreSQL for the event store\n\nDate: ")
    assert f"## Context\n\n{ADR_FACTS['context']}\n\n## Decision\n\n{ADR_FACTS['decision']}\n\n" in text


def test_rent_agreement_end_to_end(real_lm, no_network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # every clause is the template's, with the parties' facts in it: the model writes none of a lease
    # (asked to add to one, it invented duties: "keep the said Premises free of fire and water")
    text, _ = run_session("in-rent-agreement", RENT_FACTS, real_lm, tmp_path, monkeypatch, model_sections=0)
    assert no_network == []
    assert "a monthly rent of Rs. 28,000/-" in text and "security deposit of Rs. 56,000/-" in text


def test_kill_during_draft_all_keeps_earlier_sections(real_lm, draftpad_home: Path):
    # real_lm first: the subprocess then finds the dequantised model in the shared DRAFTPAD_CACHE.
    session = drafting.new_session("in-rent-agreement", values=RENT_FACTS)
    template = get_template("in-rent-agreement")
    # --extend: the model adds to the maintenance clause, the first section it writes in this lease
    first_model_section = next(s.position for s in session.sections
                               if drafting.needs_model(session.id, s.id, extend=True))
    env = {**os.environ, "DRAFTPAD_HOME": str(draftpad_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "draft", str(session.id), "--all", "--extend", "--quiet",
         "--no-library", "--max-new-tokens", "400"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    try:
        for line in proc.stderr:
            if f"drafting section {first_model_section} " in line:
                # soon after: with speculative decoding a short section can be done within ~1.5 s
                time.sleep(0.3)
                break
            assert time.monotonic() < deadline, "draft --all never reached the model section"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    with sqlite3.connect(draftpad_home / "draftpad.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    after = drafting.get_session(session.id)
    for section in after.sections[: first_model_section - 1]:
        spec = next(s for s in template.sections if s.id == section.key)
        assert section.status == "drafted" and section.current.version == 1
        assert section.text == render_text(template, spec.text, after.values).strip()
    interrupted = after.section(first_model_section)
    assert interrupted.status == "planned" and interrupted.current is None
    assert all(s.current is None for s in after.sections[first_model_section:])
