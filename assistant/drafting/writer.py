"""Drafting sections: fixed wording from the template, prose from the model with retrieved examples.
Every result is committed through the SessionStore before a function returns."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from assistant.drafting import examples, generation_log, model_calls, prompts
from assistant.drafting.sessions import OutlineSection, SectionVersion, SessionStore
from assistant.drafting.templates import get_template, render_text, section_spec

DEFAULT_SECTION_TOKENS = 200


@dataclass
class DraftResult:
    position: int
    title: str
    version: SectionVersion | None  # None only when cancelled before any text was written
    cancelled: bool = False
    used_model: bool = True
    examples: int = 0


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

    own_library = library is None and use_library
    if own_library:
        library = examples.open_library()
    try:
        hint = " ".join(v for v in (spec.retrieval if spec else "", section.guidance) if v)
        found = examples.section_examples(library, template, section.title, hint)
    finally:
        if own_library:
            examples.close(library)
    fixed = spec.text if spec is not None and spec.mode == "mixed" else ""
    fixed_text = render_text(template, fixed, session.values) if fixed else ""
    prior = [prompts.PriorSection(s.title, s.text, s.status == "accepted") for s in session.sections[: position - 1]]
    messages = prompts.draft_messages(
        template, session.values, section.title, section.guidance or (spec.guidance if spec else ""),
        [s.title for s in session.sections], position, prior, found,
        fixed_text=fixed_text, uses=spec.uses if spec else (),
    )
    tokens = max_new_tokens or (spec.max_tokens if spec and spec.max_tokens else DEFAULT_SECTION_TOKENS)
    config = model_calls.config(max_new_tokens=tokens, temperature=0.0, stop=prompts.SECTION_STOPS)
    # Retrieved sections and the facts are the likeliest sources of verbatim spans for drafting.
    references = found + [v for v in session.values.values() if v]
    lead = prompts.lead_in(fixed_text) if fixed else ""
    prompt_ids = None
    if lead:
        # The reply is primed with the lead-in words; only the continuation is generated and stored.
        prompt_ids = model_calls.prompt_ids(lm, messages, lead)
    result = model_calls.generate(lm, messages, config, on_text=on_text, cancel=cancel, reference_texts=references,
                       prompt_ids=prompt_ids)
    generation_log.record("draft", lm, messages, result, db=store.db, session_id=session_id, section=section.title)
    # Sentences already in the fixed wording or in earlier sections are not said again.
    already = "\n".join([fixed_text] + [p.text for p in prior])
    prose = prompts.clean_section(result.text, section.title, already, keep_lead=bool(lead))
    text = prompts.join_mixed(template, fixed, session.values, prose) if fixed else prose
    cancelled = result.stats.stop_reason == "cancelled"
    if cancelled and not prose:
        return DraftResult(position, section.title, None, True, True, len(found))
    stats = result.stats.as_dict()
    stats["examples"] = len(found)
    version = store.add_version(session_id, section.id, text, "generated", getattr(lm, "identity", ""),
                                result.stats.method, stats)
    return DraftResult(position, section.title, version, cancelled, True, len(found))


def draft_all(store: SessionStore, session_id: int, lm: object, *, only_planned: bool = True,
              on_section: Callable[[int, OutlineSection], None] | None = None,
              on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None,
              max_new_tokens: int | None = None, use_library: bool = True) -> list[DraftResult]:
    results: list[DraftResult] = []
    library = examples.open_library() if use_library else None
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
        examples.close(library)
    return results
