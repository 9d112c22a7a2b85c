"""Checking a template question's answer before the document is created (pure functions)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

MONEY = re.compile(r"^(rs\.?|inr|₹|\$|usd|eur|€)?\s*[\d,]+(\.\d{1,2})?(\s*(/-|only))?$", re.IGNORECASE)
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d %B %Y", "%d %b %Y", "%B %d, %Y")


def check_answer(spec: Any, value: str) -> str:
    """'' when the answer is acceptable, else a short reason shown under the question."""
    value = value.strip()
    if not value:
        return "required" if spec.required else ""
    kind = spec.type
    if kind == "number" and not NUMBER.match(value.replace(",", "")):
        return "a number, e.g. 11"
    if kind == "money" and not MONEY.match(value):
        return "an amount, e.g. Rs. 25,000 or 25000"
    if kind == "date" and not parses_as_date(value):
        return "a date, e.g. 2025-04-01 or 1 April 2025"
    return ""


def parses_as_date(value: str) -> bool:
    if value.lower() == "today":  # templates use it as a default; the drafting core resolves it
        return True
    for fmt in DATE_FORMATS:
        try:
            dt.datetime.strptime(value, fmt)
            return True
        except ValueError:
            continue
    return False


def check_all(fields: tuple[Any, ...], values: dict[str, str]) -> dict[str, str]:
    """field name -> problem, for every answer with one."""
    problems = {f.name: check_answer(f, values.get(f.name, "")) for f in fields}
    return {name: problem for name, problem in problems.items() if problem}
