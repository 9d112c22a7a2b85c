"""Shared helpers for the drafting core's tests: sample facts and a fully written session."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.drafting.prompts import join_mixed
from assistant.drafting.sessions import OutlineSection, SectionVersion, Session
from assistant.drafting.templates import Template, get_template, render_text
from engine.generation import GenerationResult
from engine.stats import GenerationStats

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


@dataclass
class Scripted:
    """Answers each generate call with the next text, streamed in words, honouring cancel."""

    texts: list[str]

    def __post_init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, lm, prompt, config, *, on_text=None, cancel=None, **kwargs) -> GenerationResult:
        self.calls.append({"prompt": prompt, "config": config, **kwargs})
        text = self.texts[min(len(self.calls), len(self.texts)) - 1]
        out, reason = "", "eos"
        for word in text.split(" "):
            if cancel is not None and cancel.is_set():
                reason = "cancelled"
                break
            piece = (" " if out else "") + word
            out += piece
            if on_text:
                on_text(piece)
        return GenerationResult(out, [], GenerationStats(stop_reason=reason, new_tokens=len(out.split())))
