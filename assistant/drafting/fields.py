"""The rules for a template's fields, shared by the CLI and the app (pure functions): which names
exist, what a date, an amount or a number must look like, and the values a new session starts with."""

from __future__ import annotations

import datetime as dt
import re

from assistant.drafting.templates import FieldSpec, Template
from engine.errors import UserError

# figures, optionally in lakh/crore, then the "/-" or "only" and the amount in words that deeds write
# after them: "Rs. 85,00,000/- (Rupees Eighty-Five Lakh only)", "₹ 1.2 crore", "25000"
MONEY = re.compile(r"^(rs\.?|inr|₹|\$|usd|eur|€)?\s*\d[\d,]*(\.\d{1,2})?(\s*(lakhs?|crores?|thousand))?"
                   r"(\s*(/-|only))?(\s*\([^()]+\))?$", re.IGNORECASE)
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d %B %Y", "%d %b %Y", "%B %d, %Y")


def check_answer(spec: FieldSpec, value: str) -> str:
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


def check_all(fields: tuple[FieldSpec, ...], values: dict[str, str]) -> dict[str, str]:
    """field name -> problem, for every answer with one."""
    problems = {f.name: check_answer(f, values.get(f.name, "")) for f in fields}
    return {name: problem for name, problem in problems.items() if problem}


def check_field_names(template: Template, values: dict[str, str]) -> None:
    known = {f.name for f in template.fields}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(f"template '{template.id}' has no field '{unknown[0]}' (fields: {', '.join(sorted(known))})")


def initial_values(template: Template, values: dict[str, str]) -> dict[str, str]:
    """The given values over the template's defaults; a date field defaulting to "today" gets today's date."""
    check_field_names(template, values)
    out = {f.name: f.default for f in template.fields if f.default}
    for f in template.fields:
        if f.type == "date" and f.default == "today":
            out[f.name] = dt.date.today().isoformat()
    out.update({k: str(v).strip() for k, v in values.items()})
    return out


def check_values(template: Template, values: dict[str, str]) -> None:
    """Refuse unknown names and malformed answers, naming the field and a good value.

    Only the values given are checked: a missing required field is for `missing_required`."""
    check_field_names(template, values)
    for spec in template.fields:
        value = str(values.get(spec.name, "")).strip()
        problem = check_answer(spec, value) if value else ""
        if problem:
            raise UserError(f"field '{spec.name}' needs {problem} (got '{value}')")


def missing_required(template: Template, values: dict[str, str]) -> list[FieldSpec]:
    """Required fields with neither an answer nor a default, in the template's order."""
    return [f for f in template.fields if f.required and not str(values.get(f.name, "") or f.default).strip()]
