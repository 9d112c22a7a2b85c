"""validate: fact normalisation and the precise findings it reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from assistant.drafting.sessions import OutlineSection, SectionVersion, Session
from assistant.drafting.templates import get_template
from assistant.drafting.validation import dates_in, errors, fact_present, numbers_in, placeholders_in, validate_session
from tests.fixtures_drafting import filled_session


@pytest.mark.parametrize("value,text", [
    ("Rs. 28,000", "a monthly rent of 28000 payable"),
    ("28000", "a monthly rent of Rs.28,000/- payable"),
    ("₹ 1,20,000", "deposit of Rs. 120000.00 only"),
    ("56000", "INR 56,000, refundable"),
])
def test_money_matches_however_written(value: str, text: str):
    assert fact_present("money", value, text) == (True, "")


def test_money_reports_the_missing_amount():
    assert fact_present("money", "Rs. 28,000", "a rent of Rs. 2,800 per month") == (False, "28000")


@pytest.mark.parametrize("value,text", [
    ("2025-03-01", "commencing from 1st March, 2025"),
    ("01/03/2025", "commencing on 2025-03-01"),
    ("1 March 2025", "from 01.03.2025 onwards"),
    ("March 1, 2025", "on the 1st day of March 2025"),
    ("1 Mar 2025", "dated 01-03-25"),
])
def test_dates_match_in_several_formats(value: str, text: str):
    assert fact_present("date", value, text)[0]


def test_a_different_date_is_missing():
    assert fact_present("date", "2025-03-01", "commencing from 2nd March, 2025") == (False, "2025-03-01")
    assert dt.date(2025, 3, 1) in dates_in("from 1/3/2025")  # day-first, Indian style
    assert dt.date(2025, 1, 3) in dates_in("from 1/3/2025")  # and month-first, both accepted


def test_a_day_typed_as_a_number_is_found_as_its_ordinal() -> None:
    # the rent agreement writes rent_due_day '5' as "the 5th day of each month"
    assert fact_present("text", "5", "on or before the 5th day of each month") == (True, "")
    assert fact_present("text", "5", "on or before the 15th day of each month") == (False, "5")


def test_names_ignore_case_spacing_and_honorifics():
    assert fact_present("person", "Shri Anil Kumar  Sharma", "between ANIL KUMAR SHARMA and")[0]
    assert fact_present("person", "Ms. Priya Nair", "Priya Nair, residing at")[0]
    assert not fact_present("person", "Priya Nair", "Priya Menon, residing at")[0]


def test_numbers_accept_words_and_figures():
    assert fact_present("number", "11", "for a period of eleven months")[0]
    assert fact_present("number", "11", "for a period of 11 (eleven) months")[0]
    assert not fact_present("number", "11", "for a period of 12 months")[0]
    assert numbers_in("Rs. 1,20,000/- and 3.50") == {"120000", "3.5"}


def test_addresses_and_lists():
    assert fact_present("address", "Flat 302, Sunrise Apts., Noida", "at flat 302 sunrise apts noida, more fully")[0]
    ok, missing = fact_present("list", "fans; geyser; modular kitchen", "with fans and a geyser")
    assert not ok and missing == "modular kitchen"


def test_long_text_allows_paraphrase_but_not_loss():
    gist = "Replays are slow and we lose events when a node crashes."
    assert fact_present("long_text", gist, "Event replays are slow, and when a node crashes we lose events.")[0]
    ok, missing = fact_present("long_text", gist, "We chose a database.")
    assert not ok and "crashes" in missing


def test_placeholders_are_found():
    found = [p for p, _ in placeholders_in("Rent {rent} to [Lessor Name] on ____ TODO, see [docs](x.md)")]
    assert found == ["{rent}", "[Lessor Name]", "____", "TODO"]


def _with_text(session: Session, position: int, text: str) -> Session:
    sections = list(session.sections)
    old = sections[position - 1]
    sections[position - 1] = replace(old, current=SectionVersion(99, old.id, 2, text, "edited"))
    return replace(session, sections=tuple(sections))


def test_findings_name_section_field_and_value():
    template, session = filled_session("in-rent-agreement")
    assert errors(validate_session(template, session)) == []
    term = next(s.position for s in session.sections if s.key == "term-rent")
    broken = _with_text(session, term, "1. That the tenancy shall be for eleven months at a rent of Rs. 2,800.")
    found = errors(validate_session(template, broken))
    assert {(f.code, f.section, f.field) for f in found} == {
        ("missing_fact", term, "start_date"), ("missing_fact", term, "rent"), ("missing_fact", term, "rent_due_day")}
    message = next(f.message for f in found if f.field == "rent")
    assert message == f"section {term} 'Term and Rent' does not mention rent \"28000\""


def test_missing_empty_unfilled_and_out_of_order_sections():
    template, session = filled_session("adr-nygard")
    without_context = replace(session, sections=tuple(s for s in session.sections if s.key != "context"))
    assert [(f.code, f.section_title) for f in validate_session(template, without_context)] == [
        ("missing_section", "Context")]
    emptied = _with_text(session, 3, "  ")
    assert [(f.code, f.section) for f in validate_session(template, emptied)] == [("empty_section", 3)]
    unfilled = _with_text(session, 1, "{status}")
    assert [f.code for f in validate_session(template, unfilled)] == ["missing_fact", "placeholder"]
    swapped = list(session.sections)
    swapped[1], swapped[2] = replace(swapped[2], position=2), replace(swapped[1], position=3)
    found = validate_session(template, replace(session, sections=tuple(swapped)))
    assert [(f.code, f.severity, f.section) for f in found] == [("order", "warning", 3)]


def test_missing_value_and_undrafted_section():
    template = get_template("adr-nygard")
    section = OutlineSection(1, 1, "status", "Status", "", "planned", None)
    session = Session(1, "adr-nygard", "", "t", {"status": "Accepted"}, (section,))
    codes = {(f.code, f.field or f.section_title) for f in validate_session(template, session)}
    assert ("missing_value", "title") in codes and ("missing_value", "decision") in codes
    assert ("not_drafted", "Status") in codes and ("missing_section", "Context") in codes
