"""Amounts and dates the way Indian legal documents write them (pure functions).

"Rs. 28,000/- (Rupees Twenty-Eight Thousand only)" uses the Indian system (thousand, lakh,
crore) and digit grouping (1,25,00,000); dates in legal prose read "1st day of January, 2027".
A value that cannot be read as an amount or a date is returned as written: the person's words
are never replaced by a guess.
"""

from __future__ import annotations

import datetime as dt
import re

from assistant.drafting.clauses import as_clauses, list_clauses
from assistant.drafting.phrasing import article, elements, noun, purpose

_UNITS = ("Zero One Two Three Four Five Six Seven Eight Nine Ten Eleven Twelve Thirteen Fourteen Fifteen Sixteen"
          " Seventeen Eighteen Nineteen").split()
_TENS = "_ _ Twenty Thirty Forty Fifty Sixty Seventy Eighty Ninety".split()
# Largest first; anything above a crore is counted in crores ("Twelve Thousand Crore").
_SCALE = ((10_000_000, "Crore"), (100_000, "Lakh"), (1_000, "Thousand"), (100, "Hundred"))

_AMOUNT = re.compile(r"^\s*(?:rs\.?|inr|₹|rupees)?\s*(\d[\d,]*)(?:\.(\d{1,2}))?\s*(?:/-|only|/-\s*only)?\s*$", re.I)
_MONTHS = ("January February March April May June July August September October November December").split()
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d %B %Y", "%d %b %Y", "%B %d %Y", "%b %d %Y")


def number_in_words(n: int) -> str:
    """Indian system, title case, hyphenated tens: 2500000 -> 'Twenty-Five Lakh'."""
    if n < 0:
        raise ValueError("a negative amount has no words here")
    if n < 20:
        return _UNITS[n]
    if n < 100:
        tens, unit = divmod(n, 10)
        return _TENS[tens] + (f"-{_UNITS[unit]}" if unit else "")
    for size, name in _SCALE:
        if n >= size:
            head, rest = divmod(n, size)
            return f"{number_in_words(head)} {name}" + (f" {number_in_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def indian_grouping(digits: str) -> str:
    """'12345678' -> '1,23,45,678': the last three digits, then pairs."""
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    pairs = [head[max(i - 2, 0):i] for i in range(len(head), 0, -2)]
    return ",".join(reversed(pairs)) + "," + tail


def parse_amount(value: str) -> tuple[int, int] | None:
    """(rupees, paise) from '28000', 'Rs. 28,000/-', '₹1,25,000.50', 'Rupees 500 only'; None if not an amount."""
    match = _AMOUNT.match(value or "")
    if not match:
        return None
    rupees = int(match.group(1).replace(",", ""))
    paise = int((match.group(2) or "0").ljust(2, "0"))
    return rupees, paise


def amount_in_figures(rupees: int, paise: int = 0) -> str:
    """'Rs. 28,000/-', or 'Rs. 28,000.50' when there are paise (the '/-' means 'no paise')."""
    figures = f"Rs. {indian_grouping(str(rupees))}"
    return f"{figures}.{paise:02d}" if paise else f"{figures}/-"


def amount_in_words(rupees: int, paise: int = 0) -> str:
    """'Rupees Twenty-Eight Thousand only'; paise as 'Rupees Ten and Paise Fifty only'."""
    if paise and not rupees:
        return f"Paise {number_in_words(paise)} only"
    words = f"Rupees {number_in_words(rupees)}"
    return f"{words} and Paise {number_in_words(paise)} only" if paise else f"{words} only"


def amount_long(value: str) -> str:
    """'28000' -> 'Rs. 28,000/- (Rupees Twenty-Eight Thousand only)'; a non-rupee value as written."""
    parsed = parse_amount(value)
    if parsed is None:
        return value
    return f"{amount_in_figures(*parsed)} ({amount_in_words(*parsed)})"


def amount_figures(value: str) -> str:
    parsed = parse_amount(value)
    return value if parsed is None else amount_in_figures(*parsed)


def amount_words(value: str) -> str:
    parsed = parse_amount(value)
    return value if parsed is None else amount_in_words(*parsed)


def _count(value: str) -> int | None:
    """A whole number as a person writes one ('11', '1,000'), else None."""
    digits = value.strip().replace(",", "")
    return int(digits) if digits.isdigit() else None


def number_with_words(value: str) -> str:
    """'11' -> '11 (Eleven)', as agreements write terms and counts; anything else as written."""
    n = _count(value)
    return value if n is None else f"{value.strip()} ({number_in_words(n)})"


def months_possessive(value: str) -> str:
    """'1' -> "1 (One) month's", '2' -> "2 (Two) months'", to go before "notice"; else as written."""
    n = _count(value)
    if n is None:
        return value
    unit = "month's" if n == 1 else "months'"
    return f"{number_with_words(value)} {unit}"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 102nd."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def day_ordinal(value: str) -> str:
    """'5' -> '5th', as "the 5th day of each month" needs; '7th' or anything else as written."""
    n = _count(value)
    return value if n is None else ordinal(n)


def parse_date(value: str) -> dt.date | None:
    """ISO, day-first numeric (Indian usage: 01/03/2025 is 1 March), and written dates
    ('1 March 2025', '1st March, 2025', 'March 1, 2025', '1st day of March, 2025')."""
    text = re.sub(r"\b(\d{1,2})(?:st|nd|rd|th)\b", r"\1", (value or "").strip(), flags=re.I)
    text = re.sub(r"\bday of\b", " ", text, flags=re.I)
    text = " ".join(text.replace(",", " ").split())
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def date_long(value: str) -> str:
    """'2027-01-01' -> '1st day of January, 2027'."""
    day = parse_date(value)
    return value if day is None else f"{ordinal(day.day)} day of {_MONTHS[day.month - 1]}, {day.year}"


def date_written(value: str) -> str:
    """'2027-01-01' -> '1st January, 2027'."""
    day = parse_date(value)
    return value if day is None else f"{ordinal(day.day)} {_MONTHS[day.month - 1]}, {day.year}"


def date_numeric(value: str) -> str:
    """'2027-01-01' -> '01.01.2027' (day first, as Indian documents print a date line)."""
    day = parse_date(value)
    return value if day is None else day.strftime("%d.%m.%Y")


def date_iso(value: str) -> str:
    day = parse_date(value)
    return value if day is None else day.isoformat()


# The `{field:format}` formats a template's text may use, by field type.
FORMATS: dict[str, dict[str, object]] = {
    "money": {"words": amount_long, "figures": amount_figures, "rupees": amount_words},
    "date": {"long": date_long, "written": date_written, "numeric": date_numeric, "iso": date_iso},
    "number": {"words": number_with_words, "months": months_possessive},
    "long_text": {"clauses": as_clauses},  # the parties' own terms as numbered "That ..." clauses
    # a title after "a"; a purpose after "made"; a day of the month typed as "5" or "5th"
    "text": {"noun": noun, "article": article, "purpose": purpose, "ordinal": day_ordinal},
    "list": {"elements": elements, "clauses": list_clauses},  # a claim's elements; an affidavit's facts
}


def formats_for(field_type: str) -> tuple[str, ...]:
    return tuple(FORMATS.get(field_type, {}))


def apply_format(field_type: str, fmt: str, value: str) -> str:
    """The value in the named format; raises KeyError for a format the type does not have."""
    return FORMATS[field_type][fmt](value)  # type: ignore[operator]
