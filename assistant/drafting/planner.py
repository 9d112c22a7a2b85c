"""Section titles first: the model proposes an outline, merged with the template's own sections."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

from assistant.drafting import examples, generation_log, model_calls, prompts
from assistant.drafting.sessions import Session, SessionStore
from assistant.drafting.templates import SectionSpec, get_template
from engine import ServerError
from engine.errors import UserError

PLAN_TOKENS = 96


@dataclass
class PlanResult:
    session: Session
    proposed: list[str] = field(default_factory=list)  # titles parsed from the model's output
    added: list[str] = field(default_factory=list)  # proposed titles that became new sections
    notice: str = ""  # set when the model's output could not be used
    raw: str = ""


def plan(store: SessionStore, session_id: int, lm: object, *, on_text: Callable[[str], None] | None = None,
         cancel: threading.Event | None = None, use_library: bool = True, max_new_tokens: int = PLAN_TOKENS) -> PlanResult:
    session = store.get(session_id)
    if any(s.current is not None for s in session.sections):
        raise UserError(f"session {session_id} already has drafted sections: change the outline with `draftpad outline`")
    template = get_template(session.template_id)
    if template.max_extra_sections == 0:
        # Convention fixes this template's sections (Nygard's four): asking the model adds only noise.
        return PlanResult(session, [], [], f"{template.name}: the sections are fixed by convention", "")
    library = examples.open_library() if use_library else None
    try:
        headings = examples.similar_headings(library, template, session.values)
    finally:
        examples.close(library)
    messages = prompts.plan_messages(template, session.variant, session.values, headings)
    config = model_calls.config(max_new_tokens=max_new_tokens, temperature=0.0, stop=("\n\n\n",))
    try:
        result = model_calls.generate(lm, messages, config, on_text=on_text, cancel=cancel)
    except ServerError as exc:  # a half-streamed outline is no outline: logged, then the one-line error
        if exc.partial is not None:
            generation_log.record("plan", lm, messages, exc.partial, db=store.db, session_id=session_id)
        raise
    generation_log.record("plan", lm, messages, result, db=store.db, session_id=session_id)
    proposed = prompts.parse_titles(result.text)
    specs = template.sections_for(session.variant)
    if result.stats.stop_reason == "cancelled":
        return PlanResult(session, proposed, [], "planning cancelled: the outline is unchanged", result.text)
    if len(proposed) < 2:
        return PlanResult(session, proposed, [], "the model's outline could not be read: kept the template's sections",
                          result.text)
    known = {**session.values, "_template": template.name, "_title": session.title}
    outline_keys = {spec.id for spec in specs}
    optional = [spec.title for spec in template.sections if spec.id not in outline_keys]
    # A free-form document has no kind to learn from: there the person's plan is the model's.
    supported = proposed if template.kind == "other" else headings + optional
    outline, extras = prompts.merge_plan(specs, proposed, template.max_extra_sections, known, supported)
    rows = [(item.id, item.title, item.guidance) if isinstance(item, SectionSpec) else ("", item, "") for item in outline]
    store.replace_outline(session_id, rows)
    notice = "" if extras else ("the model proposed no section the outline lacks (its titles repeated the outline's, "
                                "the facts, or named nothing): add your own sections to the outline")
    return PlanResult(store.get(session_id), proposed, extras, notice, result.text)
