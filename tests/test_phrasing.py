"""A field's words fitted into the template's sentence: a patent title after "a"/"the", a list as a
claim's elements."""

from __future__ import annotations

import pytest

from assistant.drafting.phrasing import article, elements, noun, purpose
from assistant.drafting.templates import get_template, render_text


@pytest.mark.parametrize("title, expected", [
    ("Self-cleaning solar panel mount", "A self-cleaning solar panel mount"),
    ("Apparatus for drying grain", "An apparatus for drying grain"),
    ("Unit for water filtration", "A unit for water filtration"),  # a vowel that sounds "you"
    ("Uninterruptible power supply", "An uninterruptible power supply"),  # the prefix un-
    ("One-way valve", "A one-way valve"),
    ("Onerous-load tester", "An onerous-load tester"),
    ("Hourly dosing pump", "An hourly dosing pump"),  # a silent h
    ("LED lamp with a heat sink", "An LED lamp with a heat sink"),  # an acronym, letter by letter
    ("USB hub", "A USB hub"),
    ("iPhone case", "An iPhone case"),  # a name's capitals are kept
])
def test_a_title_reads_as_a_noun_phrase_with_its_article(title: str, expected: str) -> None:
    assert f"{article(title)} {noun(title)}" == expected


def test_a_purpose_follows_made_with_its_preposition() -> None:
    assert purpose("correction of my name in school records") == "for correction of my name in school records"
    assert purpose("for change of name in the passport") == "for change of name in the passport"
    assert purpose("To be produced before the bank") == "to be produced before the bank"  # mid-sentence


def test_a_claim_lists_its_elements_with_semicolons_and_a_final_and() -> None:
    assert elements("a frame; an actuator.\na wiper bar") == "a frame; an actuator; and a wiper bar"
    assert elements("a frame") == "a frame"


def test_the_patent_claim_and_abstract_read_as_sentences() -> None:
    template = get_template("patent-spec")
    values = {"title": "Self-cleaning solar panel mount", "solution": "The panel tilts at dawn.",
              "features": "a frame on a pivot; a linear actuator; a wiper bar"}
    claims = render_text(template, next(s.text for s in template.sections if s.id == "claims"), values)
    assert ("1. A self-cleaning solar panel mount, comprising: a frame on a pivot; a linear actuator; and a "
            "wiper bar.") in claims
    assert "2. The self-cleaning solar panel mount of claim 1, wherein" in claims
    abstract = render_text(template, next(s.text for s in template.sections if s.id == "abstract"), values)
    assert abstract.strip().startswith("A self-cleaning solar panel mount is disclosed. The panel tilts at dawn.")
