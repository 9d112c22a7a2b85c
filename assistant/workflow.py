"""Section-titles-first drafting: plan the outline, then draft each section with the model.

Model calls go through `engine.generation`; retrieval through `retrieval.library`. An empty or
missing library just means no examples. Every result is committed through the SessionStore
before a function returns.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Callable

from assistant import generation_log, prompts
from assistant.sessions import OutlineSection, SectionVersion, Session, SessionStore
from assistant.templates import SectionSpec, Template, get_template, render_text
from engine.errors import UserError

DEFAULT_SECTION_TOKENS = 200
PLAN_TOKENS = 96


@dataclass
class PlanResult:
    session: Session
    proposed: list[str] = field(default_factory=list)  # titles parsed from the model's output
    added: list[str] = field(default_factory=list)  # proposed titles that became new sections
    notice: str = ""  # set when the model's output could not be used
    raw: str = ""


@dataclass
class DraftResult:
    position: int
    title: str
    version: SectionVersion | None  # None only when cancelled before any text was written
    cancelled: bool = False
    used_model: bool = True
    examples: int = 0


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


def template_outline(template: Template, variant: str) -> list[tuple[str, str, str]]:
    return [(s.id, s.title, s.guidance) for s in template.sections_for(variant)]


def section_spec(template: Template, key: str) -> SectionSpec | None:
    return next((s for s in template.sections if s.id == key), None) if key else None


# -- the model ----------------------------------------------------------------------------------

def _generate(lm: object, messages: list, config: object, **kwargs: object) -> object:
    """The one place the workflow calls the engine (tests spy on it)."""
    from engine.generation import generate

    return generate(lm, messages, config, **kwargs)


def _config(**kwargs: object) -> object:
    from engine.generation import GenerationConfig

    return GenerationConfig(**kwargs)


# -- retrieval ------------------------------------------------------------------------------------

def _open_library() -> object | None:
    try:
        from retrieval.library import open_library

        return open_library()
    except Exception:  # noqa: BLE001 - drafting works without examples when the library is unusable
        return None


def _close(library: object | None) -> None:
    if library is not None:
        try:
            library.close()
        except Exception:  # noqa: BLE001
            pass


def _has_kind(library: object, kind: str) -> bool:
    """Skips retrieval (and loading the embedding model) when the library has nothing of this kind."""
    try:
        by_kind = library.stats().get("by_kind", {})
    except Exception:  # noqa: BLE001
        return False
    return bool(by_kind.get(kind)) if by_kind else False


def similar_headings(library: object | None, template: Template, values: dict[str, str]) -> list[str]:
    if library is None or not _has_kind(library, template.kind):
        return []
    query = " ".join([template.name] + [v for v in values.values() if v][:4])[:400]
    try:
        hits = library.search(query, k=10, kind=template.kind)
    except Exception:  # noqa: BLE001
        return []
    seen: list[str] = []
    for hit in hits:
        heading = (hit.heading or "").split(" > ")[-1].strip()
        if heading and heading.casefold() not in {h.casefold() for h in seen}:
            seen.append(heading)
    return seen


def section_examples(library: object | None, template: Template, title: str, hint: str, k: int = 2) -> list[str]:
    if library is None or not _has_kind(library, template.kind):
        return []
    try:
        found = library.examples(template.kind, title, hint, k=k)
    except Exception:  # noqa: BLE001
        return []
    return [e.text for e in found if getattr(e, "text", "").strip()]


# -- plan -----------------------------------------------------------------------------------------

def plan(store: SessionStore, session_id: int, lm: object, *, on_text: Callable[[str], None] | None = None,
         cancel: threading.Event | None = None, use_library: bool = True, max_new_tokens: int = PLAN_TOKENS) -> PlanResult:
    session = store.get(session_id)
    if any(s.current is not None for s in session.sections):
        raise UserError(f"session {session_id} already has drafted sections: change the outline with `draftpad outline`")
    template = get_template(session.template_id)
    library = _open_library() if use_library else None
    try:
        headings = similar_headings(library, template, session.values)
    finally:
        _close(library)
    messages = prompts.plan_messages(template, session.variant, session.values, headings)
    config = _config(max_new_tokens=max_new_tokens, temperature=0.0, stop=("\n\n\n",))
    result = _generate(lm, messages, config, on_text=on_text, cancel=cancel)
    generation_log.record("plan", lm, messages, result, db=store.db, session_id=session_id)
    proposed = prompts.parse_titles(result.text)
    specs = template.sections_for(session.variant)
    if result.stats.stop_reason == "cancelled":
        return PlanResult(session, proposed, [], "planning cancelled: the outline is unchanged", result.text)
    if len(proposed) < 2:
        return PlanResult(session, proposed, [], "the model's outline could not be read: kept the template's sections",
                          result.text)
    known = {**session.values, "_template": template.name, "_title": session.title}
    outline, extras = prompts.merge_plan(specs, proposed, template.max_extra_sections, known)
    rows = [(item.id, item.title, item.guidance) if isinstance(item, SectionSpec) else ("", item, "") for item in outline]
    store.replace_outline(session_id, rows)
    return PlanResult(store.get(session_id), proposed, extras, "", result.text)


# -- draft ----------------------------------------------------------------------------------------

def draft_section(store: SessionStore, session_id: int, position: int, lm: object, *,
                  on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None,
                  max_new_tokens: int | None = None, use_library: bool = True,
                  library: object | None = None) -> DraftResult:
    session = store.get(session_id)
    section = session.section(position)
    template = get_template(session.template_id)
    spec = section_spec(template, section.key)

    if spec is not None and spec.mode == "fixed":
        # Where law or convention fixes the wording, the template writes it: no model involved.
        text = render_text(template, spec.text, session.values).strip()
        if on_text:
            on_text(text)
        version = store.add_version(session_id, section.id, text, "fixed", "template", "fixed")
        return DraftResult(position, section.title, version, used_model=False)

    from engine.generation import encode_prompt

    own_library = library is None and use_library
    if own_library:
        library = _open_library()
    try:
        hint = " ".join(v for v in (spec.retrieval if spec else "", section.guidance) if v)
        examples = section_examples(library, template, section.title, hint)
    finally:
        if own_library:
            _close(library)
    fixed = spec.text if spec is not None and spec.mode == "mixed" else ""
    fixed_text = render_text(template, fixed, session.values) if fixed else ""
    prior = [prompts.PriorSection(s.title, s.text, s.status == "accepted") for s in session.sections[: position - 1]]
    messages = prompts.draft_messages(
        template, session.values, section.title, section.guidance or (spec.guidance if spec else ""),
        [s.title for s in session.sections], position, prior, examples,
        fixed_text=fixed_text, uses=spec.uses if spec else (),
    )
    tokens = max_new_tokens or (spec.max_tokens if spec and spec.max_tokens else DEFAULT_SECTION_TOKENS)
    config = _config(max_new_tokens=tokens, temperature=0.0, stop=prompts.SECTION_STOPS)
    # Retrieved sections and the facts are the likeliest sources of verbatim spans for drafting.
    references = examples + [v for v in session.values.values() if v]
    lead = prompts.lead_in(fixed_text) if fixed else ""
    prompt_ids = None
    if lead:
        # The reply is primed with the lead-in words; only the continuation is generated and stored.
        # No trailing space: BPE words carry their leading space, so a bare space token derails the model.
        prompt_ids = encode_prompt(lm, messages) + list(
            lm.tokenizer(lead.rstrip(), add_special_tokens=False)["input_ids"])
    result = _generate(lm, messages, config, on_text=on_text, cancel=cancel, reference_texts=references,
                       prompt_ids=prompt_ids)
    generation_log.record("draft", lm, messages, result, db=store.db, session_id=session_id, section=section.title)
    # Sentences already in the fixed wording or in earlier sections are not said again.
    already = "\n".join([fixed_text] + [p.text for p in prior])
    prose = prompts.clean_section(result.text, section.title, already, keep_lead=bool(lead))
    text = prompts.join_mixed(template, fixed, session.values, prose) if fixed else prose
    cancelled = result.stats.stop_reason == "cancelled"
    if cancelled and not prose:
        return DraftResult(position, section.title, None, True, True, len(examples))
    stats = result.stats.as_dict()
    stats["examples"] = len(examples)
    version = store.add_version(session_id, section.id, text, "generated", getattr(lm, "identity", ""),
                                result.stats.method, stats)
    return DraftResult(position, section.title, version, cancelled, True, len(examples))


def draft_all(store: SessionStore, session_id: int, lm: object, *, only_planned: bool = True,
              on_section: Callable[[int, OutlineSection], None] | None = None,
              on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None,
              max_new_tokens: int | None = None, use_library: bool = True) -> list[DraftResult]:
    results: list[DraftResult] = []
    library = _open_library() if use_library else None
    try:
        for section in store.get(session_id).sections:
            if cancel is not None and cancel.is_set():
                break
            if only_planned and section.current is not None:
                continue
            if on_section:
                on_section(section.position, section)
            results.append(draft_section(store, session_id, section.position, lm, on_text=on_text, cancel=cancel,
                                         max_new_tokens=max_new_tokens, use_library=use_library, library=library))
    finally:
        _close(library)
    return results
