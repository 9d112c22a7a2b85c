"""Shared helpers for the drafting core's tests: sample facts and a fully written session."""

from __future__ import annotations

from assistant.drafting.prompts import join_mixed
from assistant.drafting.sessions import OutlineSection, SectionVersion, Session
from assistant.drafting.templates import Template, get_template, render_text

RENT = {"lessor": "Anil Sharma", "lessee": "Priya Nair", "rent": "28000", "deposit": "56000",
        "start_date": "2025-03-01", "property": "Flat 302, Sunrise Apartments, Noida"}

SAMPLE = {"person": "Anil Kumar Sharma", "money": "28000", "date": "2025-03-01", "number": "11",
          "address": "Flat 3, Lotus Court, MG Road, Pune 411001", "list": "first listed item; second listed item",
          "long_text": "The legacy system loses events during failover.", "text": "sample value"}


def filled_session(template_id: str, variant: str = "") -> tuple[Template, Session]:
    """A session whose every section is written: fixed text from the template, prose that names its facts."""
    template = get_template(template_id)
    variant = variant or (template.variants[0] if template.variants else "")
    values = {f.name: SAMPLE[f.type] for f in template.fields}
    sections = []
    for position, spec in enumerate(template.sections_for(variant), start=1):
        prose = "This section states " + "; ".join(values[name] for name in spec.uses) + "." if spec.uses else "Prose."
        if spec.mode == "fixed":
            text = render_text(template, spec.text, values)
        elif spec.mode == "mixed":
            text = join_mixed(template, spec.text, values, "More prose follows here.")
        else:
            text = prose
        version = SectionVersion(position, position, 1, text, "fixed")
        sections.append(OutlineSection(position, position, spec.id, spec.title, spec.guidance, "drafted", version))
    return template, Session(1, template.id, variant, "t", values, tuple(sections))
