"""Drafting sections: fixed wording from the template, prose from the model with retrieved examples.
Every result is committed through the SessionStore before a function returns."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from assistant.drafting import examples, generation_log, guards, model_calls, prompts
from assistant.drafting.clauses import CLAUSE, as_clauses, renumber
from assistant.drafting.sessions import OutlineSection, SectionVersion, Session, SessionStore
from assistant.drafting.templates import SectionSpec, Template, get_template, render_text, section_spec
from engine import ServerError

DEFAULT_SECTION_TOKENS = 200
STYLES = ("continue", "chat")


def default_style(lm: object) -> str:
    """Continuation for the local model (small models continue text better than they follow
    instructions); the chat prompt for a model behind a server, usually a larger instruct model."""
    from engine import is_server

    return "chat" if is_server(lm) else "continue"


def document_heading(template: Template, session: Session) -> str:
    return render_text(template, template.heading, session.values) if template.heading else session.title


def document_before(template: Template, session: Session, position: int) -> list[prompts.DocumentPart]:
    """The sections before `position` as the reader sees them: their text, or for a fixed section
    not drafted yet, the template's wording with the facts filled in."""
    parts = []
    for s in session.sections[: position - 1]:
        spec = section_spec(template, s.key)
        text = s.text or (render_text(template, spec.text, session.values) if spec and spec.mode == "fixed" else "")
        parts.append(prompts.DocumentPart(s.title, text.strip()))
    return parts


FROM_FACTS = "facts"  # the method of a version written from the template and the person's facts


def without_model(template: Template, spec: SectionSpec | None, values: dict[str, str], extend: bool) -> str | None:
    """The section's text when the model has nothing to add, else None: a fixed section's wording;
    a mixed one whose facts are all given (unless `extend`), as its wording around those facts.

    What the embedded 135M model added after a person's facts was, in the drafting bench's 26
    cases, almost never worth keeping: it restated the facts ("This matters because it is a very
    simple and light."), contradicted them ("we will have to implement a new version of the
    self-hosted Jenkins server" under a decision to replace it) or invented them, which in an
    affidavit means a sworn declaration nobody made ("Rahul Kumar is a Rahul Verma"), and after a
    standard clause an obligation nobody agreed to ("the purchaser shall be entitled to the full
    value of the property"). So it writes only sections whose wording leaves a fact unsaid (a
    Consequences section with none given, a patent's detailed description); a clause that needs no
    fact is the template's wording alone."""
    if spec is None:
        return None
    if spec.mode == "fixed":
        # Where law or convention fixes the wording, the template writes it: no model involved.
        return render_text(template, spec.text, values).strip()
    if spec.mode == "mixed" and not extend and all(values.get(name, "").strip() for name in spec.uses):
        return prompts.join_mixed(template, spec.text, values, "")
    return None


@dataclass
class DraftResult:
    position: int  # for display: where the section was when it was drafted
    title: str
    version: SectionVersion | None  # None only when cancelled before any text was written
    cancelled: bool = False
    used_model: bool = True
    examples: int = 0
    section_id: int = 0  # the stable id the section was addressed by
    kept: bool = False  # nothing usable was written, so `version` is the section's text as it was
    run_stats: dict | None = None  # with kept: the figures of the model's run, which no version holds


def numbered_on(session: Session, position: int, text: str) -> str:
    """A section's clauses numbered on from the sections before it, as the export numbers them."""
    return renumber([s.text for s in session.sections[: position - 1]] + [text])[-1]


def grounding_text(template: Template, session: Session, section: OutlineSection) -> str:
    """What a generated sentence must name something of to be about this document: its heading and
    facts, the template's wording of the other sections, and what the person wrote or accepted.
    Not the model's own prose elsewhere (one invented sentence would ground the next: "a
    combination of the existing one" under Decision, then again under Consequences), nor this
    section's heading or lead-in ("We chose this because" grounds nothing)."""
    own = [s.text for s in session.sections
           if s.id != section.id and s.current is not None
           and (s.status == "accepted" or s.current.source in ("edited", "fixed"))]
    wording = [prompts.join_mixed(template, other.text, session.values, "")
               for other in template.sections if other.text and other.id != section.key]
    return "\n".join([document_heading(template, session), *(v for v in session.values.values() if v),
                      *own, *wording])


def draft_section(store: SessionStore, session_id: int, section_id: int, lm: object, *,
                  on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None,
                  max_new_tokens: int | None = None, use_library: bool = True,
                  library: object | None = None, style: str | None = None,
                  extend: bool | None = None, on_retry: Callable[[], None] | None = None) -> DraftResult:
    """`extend`: whether the model adds prose to a section whose facts are all given (default: only
    in the chat style, a server's larger model; see without_model). `on_retry` is called when the
    first draft was unusable and a second one starts streaming through `on_text`."""
    session = store.get(session_id)
    section = session.by_id(section_id)
    position = section.position
    template = get_template(session.template_id)
    spec = section_spec(template, section.key)

    shape = style or default_style(lm)
    text = without_model(template, spec, session.values, shape == "chat" if extend is None else extend)
    if text is not None:
        if template.layout.legal:
            text = numbered_on(session, position, text)
        if on_text:
            on_text(text)
        version = store.add_version(session_id, section.id, text, "fixed", "template",
                                    FROM_FACTS if spec.mode == "mixed" and spec.uses else "fixed")
        return DraftResult(position, section.title, version, used_model=False, section_id=section.id)

    own_library = library is None and use_library
    if own_library:
        library = examples.open_library()
    try:
        hint = " ".join(v for v in (spec.retrieval if spec else "", section.guidance) if v)
        found = examples.section_examples(library, template, section.title, hint, values=session.values,
                                          uses=spec.uses if spec else ())
    finally:
        if own_library:
            examples.close(library)
    fixed = spec.around_prose if spec is not None else ""
    fixed_text = render_text(template, fixed, session.values) if fixed else ""
    prior = [prompts.PriorSection(s.title, s.text, s.status == "accepted") for s in session.sections[: position - 1]]
    if shape == "continue":
        opening = prompts.wording_before_slot(template, fixed, session.values) if fixed else ""
        prompt: object = prompts.continuation_prompt(template, document_heading(template, session),
                                                     document_before(template, session, position), section.title,
                                                     found, opening)
        # A small model that fails here has usually copied an earlier section's prose: the retry
        # sees this section's heading and opening without the document before it.
        retry_prompt: object = prompts.continuation_prompt(template, document_heading(template, session), [],
                                                           section.title, found, opening)
        lead = ""
        # An inline slot ("This matters because {draft}") is one paragraph; prose after a paragraph
        # of its own (a gist, then {draft}) may run to several.
        inline = bool(opening.strip()) and not opening.endswith("\n")
        continues = opening if inline else ""  # the words the prose's first sentence finishes
        stops = prompts.CONTINUATION_STOPS + (("\n\n",) if inline else ())
    else:
        prompt = prompts.draft_messages(
            template, session.values, section.title, section.guidance or (spec.guidance if spec else ""),
            [s.title for s in session.sections], position, prior, found,
            fixed_text=fixed_text, uses=spec.uses if spec else (),
        )
        # The reply is primed with the lead-in words; only the continuation is generated and stored.
        lead = prompts.lead_in(fixed_text) if fixed else ""
        continues = lead
        stops = prompts.SECTION_STOPS
        retry_prompt = prompt
    tokens = max_new_tokens or (spec.max_tokens if spec and spec.max_tokens else DEFAULT_SECTION_TOKENS)
    # Retrieved sections and the facts are the likeliest sources of verbatim spans for drafting.
    references = found + [v for v in session.values.values() if v]
    # Sentences already in the fixed wording or in earlier sections are not said again.
    already = "\n".join([fixed_text] + [p.text for p in prior])
    scaffold = prompts.scaffolding(template)
    grounds = grounding_text(template, session, section)
    # Statements (not names or dates) a sentence must not negate; not the situation a decision
    # changes, which a consequence rightly negates ("We will not keep notes as JSON files").
    facts = [v for name, v in session.values.items()
             if v and len(v.split()) >= 4 and name not in guards.SITUATION_FIELDS]
    # Prose may state an amount or a date only where the section is given one.
    figures_given = any(getattr(template.field(name), "type", "") in ("money", "date", "number")
                        for name in (spec.uses if spec else ()))

    # Reproducible, yet drafting the section again is a new try: the greedy first draft repeats
    # itself, so the retry's seed moves on with each version the section already has.
    retry_seed = guards.RETRY_SEED + (section.current.version if section.current else 0)

    def attempt(sampled: bool) -> guards.Attempt:
        config = model_calls.config(max_new_tokens=tokens, stop=stops, **(
            dict(temperature=guards.RETRY_TEMPERATURE, top_p=guards.RETRY_TOP_P, seed=retry_seed)
            if sampled else dict(temperature=0.0)))
        watch = guards.RepetitionStop(already)

        def feed(chunk: str) -> None:
            watch.feed(chunk)
            if on_text:
                on_text(chunk)

        asked = retry_prompt if sampled else prompt
        result = model_calls.generate(lm, asked, config, on_text=feed, cancel=guards.EitherEvent(cancel, watch.tripped),
                                      reference_texts=references, lead=lead)
        if watch.tripped.is_set() and not (cancel is not None and cancel.is_set()):
            result.stats.stop_reason = "repetition"
        generation_log.record("draft", lm, asked, result, db=store.db, session_id=session_id, section=section.title)
        seen = prompts.clean_section(guards.cut_loop(result.text), section.title, already, keep_lead=bool(lead))
        prose = guards.drop_repeated_items(guards.cut_party_switch(seen, lead or ""))
        prose, echoed = guards.drop_echo(prose, scaffold)
        prose, stuttered = guards.drop_stutter(guards.drop_unpaired_brackets(prose))
        prose, near = guards.drop_near_repeats(prose, already)
        invented = 0
        if not figures_given:
            prose, invented = guards.drop_unasked_figures(prose)
        # A server's larger model names what it knows ("SQLite ships with Python"); the embedded
        # model's names are guesses ("Google has created a new way to search").
        unsupported = guards.ungrounded_sentences(prose, grounds, opening=continues, names=shape == "continue")
        unsupported += [c for c in guards.contradicting_sentences(prose, facts) if c not in unsupported]
        return guards.Attempt(guards.finish_sentence(guards.drop_sentences(prose, unsupported)), result, watch,
                              echoed + stuttered + near + invented + len(unsupported), unsupported,
                              guards.finish_sentence(prose), seen)

    failure: Exception | None = None
    retried = False
    try:
        first = attempt(sampled=False)
        user_stopped = cancel is not None and cancel.is_set()
        if user_stopped:
            chosen = first
        else:
            if on_retry and guards.degenerate(first.prose):
                on_retry()
            chosen, retried = guards.best_of(first, lambda: attempt(sampled=True))
    except ServerError as exc:  # the text streamed before a server failed is kept, as a cancel keeps it
        result, failure = model_calls.partial_or_raise(exc), exc
        generation_log.record("draft", lm, prompt, result, db=store.db, session_id=session_id, section=section.title)
        chosen = guards.Attempt(prompts.clean_section(result.text, section.title, already, keep_lead=bool(lead)),
                                result, guards.RepetitionStop())
    result, prose = chosen.result, chosen.prose
    unsupported: list[str] = []
    without_prose = prompts.join_mixed(template, fixed, session.values, "") if fixed else ""
    cancelled = result.stats.stop_reason in ("cancelled", "interrupted")
    kept_as_seen = cancelled and guards.degenerate(prose) and len(guards.words(chosen.seen)) > len(guards.words(prose))
    if kept_as_seen:
        # A draft the person stopped while watching it keeps the text they saw, filters or not;
        # `validate` asks them to check it.
        prose, unsupported = chosen.seen, chosen.unsupported
    elif guards.degenerate(prose) and chosen.unsupported and spec is not None and spec.required \
            and guards.degenerate(without_prose):
        # Nothing the model wrote names anything of the document; a required section is not left
        # empty for that: its text is kept and `validate` asks the person to check it.
        prose, unsupported = chosen.unfiltered, chosen.unsupported
    if template.layout.legal and fixed and CLAUSE.search(fixed) and prose.strip():
        # what the model adds to numbered clauses is a clause too ("That the Lessee shall not ..."),
        # numbered on with them
        prose = as_clauses(prose)
    text = prompts.join_mixed(template, fixed, session.values, prose) if fixed else prose
    if template.layout.legal and fixed:
        text = numbered_on(session, position, text)
    if cancelled and not prose:
        if failure is not None:
            raise failure
        return DraftResult(position, section.title, None, True, True, len(found), section.id)
    if not cancelled and not prose.strip() and section.current is not None and section.current.text.strip():
        # a redraft that wrote nothing usable does not replace the text the person has
        if failure is not None:
            raise failure
        return DraftResult(position, section.title, section.current, False, True, len(found), section.id, kept=True,
                           run_stats=result.stats.as_dict())
    stats = result.stats.as_dict()
    stats.update(examples=len(found), prompt_style=shape, retried=retried,
                 dropped_sentences=chosen.dropped - len(unsupported), repetition_stop=chosen.stop.reason)
    if unsupported:
        stats["unsupported"] = unsupported
    elif kept_as_seen:
        stats["unchecked"] = True
    elif prose.strip() and not any(session.values.get(name, "").strip() for name in (spec.uses if spec else ())):
        stats["from_no_fact"] = True  # validate asks the person to check what the model wrote unprompted
    version = store.add_version(session_id, section.id, text, "generated", getattr(lm, "identity", ""),
                                result.stats.method, stats)
    if failure is not None:
        raise failure
    return DraftResult(position, section.title, version, cancelled, True, len(found), section.id)


def left_to_the_person(spec: SectionSpec | None) -> bool:
    """An optional section the model would write from no fact at all (MADR's Confirmation, Pros
    and Cons, More Information): drafting them all fills them with filler ("Markdown with Markdown
    with YAML."), so `draft --all` leaves them; each can still be drafted on its own."""
    return spec is not None and not spec.required and spec.mode == "generate" and not spec.uses


def draft_all(store: SessionStore, session_id: int, lm: object, *, only_planned: bool = True,
              on_section: Callable[[int, OutlineSection], None] | None = None,
              on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None,
              max_new_tokens: int | None = None, use_library: bool = True,
              style: str | None = None, extend: bool | None = None,
              on_retry: Callable[[], None] | None = None) -> list[DraftResult]:
    results: list[DraftResult] = []
    library = examples.open_library() if use_library else None
    try:
        session = store.get(session_id)
        template = get_template(session.template_id)
        for section in session.sections:
            if cancel is not None and cancel.is_set():
                break
            if only_planned and not section.undrafted:
                continue
            if left_to_the_person(section_spec(template, section.key)):
                continue
            if on_section:
                on_section(section.position, section)
            results.append(draft_section(store, session_id, section.id, lm, on_text=on_text, cancel=cancel,
                                         max_new_tokens=max_new_tokens, use_library=use_library, library=library,
                                         style=style, extend=extend, on_retry=on_retry))
    finally:
        examples.close(library)
    return results
