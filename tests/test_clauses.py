"""An agreement's operative part as one sequence of numbered "That ..." clauses, the parties' own
terms among them; and the checks that a term does not start before the agreement is signed, nor
the earnest money exceed the price."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.drafting.clauses import as_clauses, list_clauses, renumber
from assistant.drafting.exporter import render, to_docx, to_markdown
from assistant.drafting.templates import TemplateError, get_template, parse_template, render_text
from assistant.drafting.validation import validate_session
from tests.fixtures_drafting import filled_session

TERMS = "The lessee may keep one pet dog. 2) No pets other than the dog\nMeera Pillai shall get police verification done."


def test_the_parties_terms_become_clauses_in_their_own_words() -> None:
    assert as_clauses(TERMS).split("\n\n") == [
        "1. That the Lessee may keep one pet dog.",  # "The" opens a sentence; "Lessee" is the defined party
        "2. That there shall be no pets other than the dog.",  # their numbering dropped; a notice made a sentence
        "3. That Meera Pillai shall get police verification done.",  # a name keeps its capital
    ]
    assert as_clauses("That the rent includes parking.") == "1. That the rent includes parking."
    assert as_clauses("  ") == ""


def test_renumbering_runs_across_sections_and_leaves_other_numbers_alone() -> None:
    texts = ["13. That a.\n\n14. That b.", "1. That c.", "15. That d.\n\nWITNESSES:\n\n1. (signature)"]
    assert renumber(texts) == ["1. That a.\n\n2. That b.", "3. That c.", "4. That d.\n\nWITNESSES:\n\n1. (signature)"]


def test_a_that_paragraph_the_model_wrote_after_numbered_clauses_is_numbered_on() -> None:
    drafted = "1. That my name is Ram.\n\nThat I live in Pune.\n\nThat is all I know, said in one line."
    assert renumber(["2. That a.", drafted]) == [
        "1. That a.", "2. That my name is Ram.\n\n3. That I live in Pune.\n\n4. That is all I know, said in one line."]
    # prose without clauses is not a list of them
    assert renumber(["That choice was hard.\n\nThat is why we moved."]) == ["That choice was hard.\n\nThat is why we moved."]


def _rent_with_terms(terms: str):
    template, session = filled_session("in-rent-agreement")
    values = {**session.values, "other_terms": terms}
    spec = next(s for s in template.sections if s.id == "additional-terms")
    sections = tuple(replace(s, current=replace(s.current, text=render_text(template, spec.text, values)))
                     if s.key == "additional-terms" else s for s in session.sections)
    return template, replace(session, values=values, sections=sections)


def test_an_exported_agreement_numbers_its_clauses_in_one_sequence(tmp_path: Path) -> None:
    template, session = _rent_with_terms(TERMS)
    markdown = to_markdown(render(template, session))
    numbers = [int(n) for n in re.findall(r"^(\d+)\. That\b", markdown, re.MULTILINE)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) == 20  # the template's 17 and 3 added
    assert "16. That the Lessee may keep one pet dog." in markdown
    assert "19. That this agreement is for a period of less than one year" in markdown
    import docx

    to_docx(render(template, session), tmp_path / "a.docx")
    added = [p for p in docx.Document(str(tmp_path / "a.docx")).paragraphs if "pet dog" in p.text]
    assert added and added[0].text.startswith("That") and added[0]._p.pPr.numPr is not None  # Word numbering


@pytest.mark.parametrize("template_id, wrong, right, code, message", [
    ("in-rent-agreement", {"start_date": "2025-01-01", "execution_date": "2025-03-01"},
     {"start_date": "2025-03-01", "execution_date": "2025-03-01"}, "date_order",
     "'start_date' (Start of the term) is 2025-01-01, before 'execution_date' (2025-03-01)"),
    ("in-agreement-to-sell", {"price": "8500000", "earnest_money": "1,00,00,000"},
     {"price": "8500000", "earnest_money": "500000"}, "amount_order",
     "'earnest_money' (Earnest money paid now) is Rs. 1,00,00,000/-, more than 'price' (Rs. 85,00,000/-)"),
])
def test_a_value_out_of_order_with_another_is_a_warning(template_id: str, wrong: dict, right: dict, code: str,
                                                        message: str) -> None:
    template, session = filled_session(template_id)
    found = [f for f in validate_session(template, replace(session, values={**session.values, **wrong}))
             if f.code == code]
    assert [f.severity for f in found] == ["warning"] and message in found[0].message
    assert not [f for f in validate_session(template, replace(session, values={**session.values, **right}))
                if f.code == code]


def test_not_before_must_join_two_date_fields() -> None:
    raw = '''
id = "t"
name = "T"
kind = "other"

[[fields]]
name = "start"
type = "date"
not_before = "{other}"

[[fields]]
name = "signed"
type = "{kind}"

[[sections]]
title = "S"
mode = "fixed"
text = "{{start}} {{signed}}"
'''
    parsed = parse_template(raw.format(other="signed", kind="date"))
    assert parsed.field("start").not_before == "signed" and parsed.kind == "other"  # the checks leave the rest
    for other, kind in (("signed", "text"), ("nowhere", "date")):
        with pytest.raises(TemplateError, match="not_before"):
            parse_template(raw.format(other=other, kind=kind))
    with pytest.raises(TemplateError, match="'not_above' needs a money field"):
        parse_template(raw.format(other="signed", kind="date").replace("not_before", "not_above"))


def test_drafting_an_agreement_stores_its_clauses_already_in_sequence() -> None:
    from assistant import drafting
    from tests.fixtures_drafting import RENT

    session = drafting.new_session("in-rent-agreement", values={
        **RENT, "lessor_address": "12 Park Street, Chennai", "lessee_address": "45 Lake View Road, Kochi",
        "place": "Chennai", "other_terms": "The lessee may keep one pet dog."})
    drafting.draft_all(session.id, None)
    stored = "\n\n".join(s.text for s in drafting.get_session(session.id).sections)  # as the editor shows them
    numbers = [int(n) for n in re.findall(r"^(\d+)\. That\b", stored, re.MULTILINE)]
    assert numbers == list(range(1, 19)) and "16. That the Lessee may keep one pet dog." in stored


def test_an_affidavits_facts_are_numbered_that_paragraphs_and_its_purpose_reads_on() -> None:
    template = get_template("in-affidavit")
    spec = next(s for s in template.sections if s.id == "declarations")
    values = {"statements": "My name is spelt Ravi Sankar in my Class X certificate; I am one and the same person",
              "purpose": "correction of my name in school records"}
    text = render_text(template, spec.text.replace("{draft}", ""), values)
    assert [p.strip() for p in text.split("\n\n") if p.strip()] == [
        "1. That my name is spelt Ravi Sankar in my Class X certificate.",
        "2. That I am one and the same person.",  # "I" keeps its capital
        "1. That this affidavit is made for correction of my name in school records, and for no other purpose.",
    ]  # the last "1." is renumbered with the rest (renumber)
    assert list_clauses("- first fact\n- second fact") == "1. That first fact.\n\n2. That second fact."


def test_a_notice_shorthand_becomes_a_clause_that_reads_as_a_sentence() -> None:
    assert as_clauses("No smoking inside the flat. No pets allowed. No party shall assign this agreement.") == (
        "1. That there shall be no smoking inside the flat.\n\n2. That no pets shall be allowed.\n\n"
        "3. That no party shall assign this agreement.")
    # a note's "to be paid" is an obligation, a party is named as the form defines it
    assert as_clauses("Stamp duty on the sale deed to be paid by the purchaser. I want to be clear.") == (
        "1. That stamp duty on the sale deed shall be paid by the Purchaser.\n\n2. That I want to be clear.")
