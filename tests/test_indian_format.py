"""Amounts and dates in words, the Indian way, and the `{field:format}` formats templates use."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.drafting import indian_format as f
from assistant.drafting.templates import TemplateError, parse_template, render_text


@pytest.mark.parametrize("n,words", [
    (0, "Zero"), (1, "One"), (7, "Seven"), (10, "Ten"), (11, "Eleven"), (13, "Thirteen"), (19, "Nineteen"),
    (20, "Twenty"), (21, "Twenty-One"), (45, "Forty-Five"), (99, "Ninety-Nine"), (100, "One Hundred"),
    (101, "One Hundred One"), (115, "One Hundred Fifteen"), (999, "Nine Hundred Ninety-Nine"),
    (1000, "One Thousand"), (1001, "One Thousand One"), (28000, "Twenty-Eight Thousand"),
    (99999, "Ninety-Nine Thousand Nine Hundred Ninety-Nine"), (100000, "One Lakh"),
    (125000, "One Lakh Twenty-Five Thousand"), (2500000, "Twenty-Five Lakh"), (10000000, "One Crore"),
    (12345678, "One Crore Twenty-Three Lakh Forty-Five Thousand Six Hundred Seventy-Eight"),
    (990000000, "Ninety-Nine Crore"), (1000000000, "One Hundred Crore"),
    (123456789012, "Twelve Thousand Three Hundred Forty-Five Crore Sixty-Seven Lakh Eighty-Nine Thousand Twelve"),
])
def test_numbers_in_words_use_lakh_and_crore(n: int, words: str):
    assert f.number_in_words(n) == words


@pytest.mark.parametrize("value,written", [
    ("1", "1 (One) month's"), ("2", "2 (Two) months'"), ("12", "12 (Twelve) months'"), ("one", "one"),
])
def test_a_notice_period_reads_as_a_possessive(value: str, written: str):
    assert f.months_possessive(value) == written


@pytest.mark.parametrize("value,written", [("5", "5th"), ("1", "1st"), ("22", "22nd"), ("7th", "7th"), ("last", "last")])
def test_a_day_of_the_month_reads_as_an_ordinal(value: str, written: str):
    assert f.day_ordinal(value) == written


def test_negative_numbers_have_no_words():
    with pytest.raises(ValueError):
        f.number_in_words(-1)


@pytest.mark.parametrize("digits,grouped", [
    ("0", "0"), ("999", "999"), ("1000", "1,000"), ("28000", "28,000"), ("100000", "1,00,000"),
    ("12345678", "1,23,45,678"), ("123456789012", "1,23,45,67,89,012"),
])
def test_indian_digit_grouping(digits: str, grouped: str):
    assert f.indian_grouping(digits) == grouped


@pytest.mark.parametrize("value,long", [
    ("28000", "Rs. 28,000/- (Rupees Twenty-Eight Thousand only)"),
    ("Rs. 28,000", "Rs. 28,000/- (Rupees Twenty-Eight Thousand only)"),
    ("₹1,25,000/-", "Rs. 1,25,000/- (Rupees One Lakh Twenty-Five Thousand only)"),
    ("INR 5,00,00,000", "Rs. 5,00,00,000/- (Rupees Five Crore only)"),
    ("1500.50", "Rs. 1,500.50 (Rupees One Thousand Five Hundred and Paise Fifty only)"),
    ("1500.5", "Rs. 1,500.50 (Rupees One Thousand Five Hundred and Paise Fifty only)"),
    ("10.05", "Rs. 10.05 (Rupees Ten and Paise Five only)"),
    ("0.75", "Rs. 0.75 (Paise Seventy-Five only)"),
    ("0", "Rs. 0/- (Rupees Zero only)"),
    ("Rupees 500 only", "Rs. 500/- (Rupees Five Hundred only)"),
])
def test_amounts_in_figures_and_words(value: str, long: str):
    assert f.amount_long(value) == long


@pytest.mark.parametrize("value", ["twenty thousand", "$500", "USD 100", "", "12-34"])
def test_what_is_not_a_rupee_amount_is_kept_as_written(value: str):
    assert f.amount_long(value) == value and f.amount_words(value) == value


@pytest.mark.parametrize("n,text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"),
                                    (13, "13th"), (21, "21st"), (22, "22nd"), (23, "23rd"), (31, "31st"), (102, "102nd"),
                                    (111, "111th")])
def test_ordinals(n: int, text: str):
    assert f.ordinal(n) == text


@pytest.mark.parametrize("value", ["2027-01-01", "01/01/2027", "1-1-2027", "01.01.2027", "1 January 2027",
                                   "1 Jan 2027", "1st January, 2027", "January 1, 2027", "1st day of January, 2027"])
def test_dates_in_the_forms_people_write_them(value: str):
    assert f.parse_date(value) == dt.date(2027, 1, 1)
    assert f.date_long(value) == "1st day of January, 2027"


def test_date_formats():
    assert f.date_long("2025-03-22") == "22nd day of March, 2025"
    assert f.date_long("2024-02-29") == "29th day of February, 2024"
    assert f.date_written("2027-01-01") == "1st January, 2027"
    assert f.date_numeric("2027-01-05") == "05.01.2027"
    assert f.date_iso("5 January 2027") == "2027-01-05"
    # Day first, as Indian documents write them: 03/01/2027 is 3 January.
    assert f.date_long("03/01/2027") == "3rd day of January, 2027"
    for bad in ("next tuesday", "2027-02-30", ""):
        assert f.date_long(bad) == bad


TEMPLATE = '''
id = "tiny-lease"
name = "Lease"
kind = "legal"

[[fields]]
name = "rent"
type = "money"

[[fields]]
name = "start"
type = "date"

[[fields]]
name = "months"
type = "number"

[[fields]]
name = "note"
required = false

[[sections]]
title = "Rent"
mode = "fixed"
text = "A rent of {rent:words} from the {start:long} for {months:words} months; {rent}{note}."
'''


def test_render_text_formats_by_field_type():
    template = parse_template(TEMPLATE)
    text = render_text(template, template.sections[0].text, {"rent": "28000", "start": "2027-01-01", "months": "11"})
    assert text == ("A rent of Rs. 28,000/- (Rupees Twenty-Eight Thousand only) from the 1st day of January, 2027 "
                    "for 11 (Eleven) months; Rs. 28,000/-.")
    # A missing required value stays visible as {name} (without its format), as validate looks for it.
    assert render_text(template, "{rent:words} {start:long}", {}) == "{rent} {start}"


@pytest.mark.parametrize("text,message", [
    ("{rent:long}", "field 'rent' (money) has no format 'long' (its formats: words, figures, rupees)"),
    ("{start:words}", "field 'start' (date) has no format 'words'"),
    ("{note:words}", "field 'note' (text) has no format 'words' (its formats: noun, article, purpose, ordinal)"),
])
def test_a_format_the_type_lacks_is_a_template_error(text: str, message: str):
    broken = TEMPLATE.replace('text = "A rent of {rent:words} from the {start:long} for {months:words} months; '
                              '{rent}{note}."', f'text = "{text}"')
    with pytest.raises(TemplateError) as caught:
        parse_template(broken, "lease.toml")
    assert str(caught.value).startswith("lease.toml:") and message in str(caught.value)
