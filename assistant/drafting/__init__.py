"""The drafting core's one public face: every operation the CLI (`assistant/cli`) and the app
(`assistant/app`) perform. Modules inside this package are its implementation; callers use only
the names exported here.

Conventions:
- Sessions are identified by an int id, sections by their stable `OutlineSection.id`: another
  process (the CLI beside the app) may move sections at any time, so positions are for display;
  `Session.section(position)` turns what a person typed into a section, `Session.by_id(id)` finds it again.
- Every function that changes something commits before it returns, and returns fresh data.
- Problems the user can fix raise `engine.errors.UserError` with a one-line message.
- Nothing here imports textual or loads a model by itself: functions that need a model take a
  `LoadedModel` (from `engine.load_model`) as `lm`. Long calls (`plan`, `draft_section`,
  `draft_all`) stream through `on_text` and stop early when `cancel` (a threading.Event) is set;
  run them in a worker thread from the UI.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from assistant.drafting.clauses import renumber as renumber_clauses
from assistant.drafting.fields import check_all, check_answer, check_values, missing_required
from assistant.drafting.generation_log import GenerationLog, LogEntry, open_log
from assistant.drafting.planner import PlanResult
from assistant.drafting.prompts import parse_titles
from assistant.drafting.sessions import OutlineSection, SectionVersion, Session, SessionStore, SessionSummary, open_store
from assistant.drafting.templates import (FieldSpec, SectionSpec, Template, get_template, list_templates, load_templates,
                                          section_spec)
from assistant.drafting.validation import Finding
from assistant.drafting.writer import FROM_FACTS, DraftResult
from engine.errors import UserError

__all__ = [
    "DraftResult", "FROM_FACTS", "FieldSpec", "Finding", "GenerationLog", "LogEntry", "OutlineSection", "PlanResult",
    "SectionSpec", "SectionVersion", "Session", "SessionSummary", "Template", "accept", "add_section", "ask",
    "check_all", "check_answer", "check_values", "default_title", "draft_all", "draft_section", "edit_section",
    "export", "export_findings", "export_markdown", "export_path", "get_session", "get_template", "history",
    "list_sessions", "list_templates", "missing_required", "move_section", "needs_model", "new_session", "open_log",
    "parse_titles", "plan", "refresh_suggestions", "remove_section", "rename_section", "renumber_clauses", "revert",
    "set_values", "suggest", "template_errors", "validate", "wording_before_draft",
]

OnText = Callable[[str], None]


@contextmanager
def _store() -> Iterator[SessionStore]:
    # A short-lived connection per call: safe from worker threads and from two processes at once.
    store = open_store()
    try:
        yield store
    finally:
        store.close()


# -- templates ----------------------------------------------------------------------------------

def template_errors() -> list[str]:
    """`file:line: what is wrong` for every template file that could not be loaded."""
    return load_templates().errors


# Re-exported from assistant.drafting.templates: get_template(template_id) -> Template, and
# list_templates() -> shipped templates plus the user's (`<data dir>/templates/*.toml`, which override by id).


# -- sessions -----------------------------------------------------------------------------------

def new_session(template_id: str, title: str | None = None, values: dict[str, str] | None = None,
                variant: str | None = None) -> Session:
    """Start a session; the outline starts as the template's sections (for `variant`, default the first).

    Unknown field names and malformed answers (a date, an amount, a number) raise UserError naming
    the field; missing values are allowed (validate reports them) and defaults from the template
    fill in what is not given. `title` also fills the template's `title` field when it has one.
    """
    from assistant.drafting.fields import initial_values
    from assistant.drafting.templates import template_outline

    template = get_template(template_id)
    if variant and variant not in template.variants:
        raise UserError(f"template '{template_id}' has no variant '{variant}' (has: {', '.join(template.variants) or 'none'})")
    chosen = variant or (template.variants[0] if template.variants else "")
    values = dict(values or {})
    if title and "title" in {f.name for f in template.fields} and not str(values.get("title", "")).strip():
        values["title"] = title
    check_values(template, values)
    filled = initial_values(template, values)
    name = title or filled.get("title") or default_title(template, filled)
    with _store() as store:
        session_id = store.create(template.id, chosen, name, filled, template_outline(template, chosen))
        return store.get(session_id)


def default_title(template: Template, values: dict[str, str]) -> str:
    """The template's name and, for a document between people, who they are: two rent agreements
    then differ in the session list and in their exported file names."""
    people = [name for f in template.fields if f.type == "person" and (name := str(values.get(f.name, "")).strip())]
    return f"{template.name} — {' and '.join(people)}" if people else template.name


def get_session(session_id: int) -> Session:
    with _store() as store:
        return store.get(session_id)


def list_sessions() -> list[SessionSummary]:
    """Most recently changed first."""
    with _store() as store:
        return store.list()


def set_values(session_id: int, values: dict[str, str], title: str | None = None) -> Session:
    """Update (merge) field values, checked as `new_session` checks them.

    Drafted sections the template wrote (fixed wording, or given facts in their wording) and the
    person has not edited since are written again from the changed fields, as a new version (the
    old one stays in the history)."""
    from assistant.drafting import writer

    with _store() as store:
        session = store.get(session_id)
        template = get_template(session.template_id)
        check_values(template, values)
        merged = {**session.values, **{k: str(v).strip() for k, v in values.items()}}
        store.set_values(session_id, merged, title)
        for section in session.sections:
            spec = section_spec(template, section.key)
            if spec is None or section.current is None or section.current.source != "fixed":
                continue
            text = writer.without_model(template, spec, merged, extend=False)
            if text is not None and text != section.text:
                store.add_version(session_id, section.id, text, "fixed", "template", section.current.method)
        return store.get(session_id)


# -- outline ------------------------------------------------------------------------------------

def add_section(session_id: int, title: str, guidance: str = "", position: int | None = None) -> Session:
    """Insert a new (generated-prose) section at `position` (1-based; default: the end)."""
    if not title.strip():
        raise UserError("a section needs a title")
    with _store() as store:
        store.get(session_id)
        store.add_section(session_id, title.strip(), guidance, position)
        return store.get(session_id)


def remove_section(session_id: int, section_id: int) -> Session:
    """Take a section out of the outline (its versions are kept in the database).

    A section the template requires cannot be removed."""
    with _store() as store:
        session = store.get(session_id)
        section = session.by_id(section_id)
        spec = section_spec(get_template(session.template_id), section.key)
        if spec is not None and spec.required:
            raise UserError(f"section {section.position} ('{section.title}') is required by the template and cannot be removed")
        store.remove_section(session_id, section_id)
        return store.get(session_id)


def move_section(session_id: int, section_id: int, new_position: int) -> Session:
    """Move the section to `new_position` (1-based, a place in the current outline)."""
    with _store() as store:
        session = store.get(session_id)
        session.by_id(section_id)
        session.section(new_position)
        store.move_section(session_id, section_id, new_position)
        return store.get(session_id)


def rename_section(session_id: int, section_id: int, title: str) -> Session:
    if not title.strip():
        raise UserError("a section needs a title")
    with _store() as store:
        section = store.get(session_id).by_id(section_id)
        store.rename_section(section.id, session_id, title.strip())
        return store.get(session_id)


# -- workflow -----------------------------------------------------------------------------------

def plan(session_id: int, lm: object, *, on_text: OnText | None = None, cancel: threading.Event | None = None,
         use_library: bool = True, max_new_tokens: int | None = None) -> PlanResult:
    """Ask the model for section titles (template + fields + similar library documents).

    Required template sections are always kept, in template order; extra proposed titles are added
    before the closing sections. Unparseable output keeps the template's sections and sets
    `PlanResult.notice`. Refuses (UserError) once any section has been drafted.
    """
    from assistant.drafting import planner

    with _store() as store:
        return planner.plan(store, session_id, lm, on_text=on_text, cancel=cancel, use_library=use_library,
                            max_new_tokens=max_new_tokens or planner.PLAN_TOKENS)


def draft_section(session_id: int, section_id: int, lm: object, *, on_text: OnText | None = None,
                  cancel: threading.Event | None = None, max_new_tokens: int | None = None,
                  use_library: bool = True, style: str | None = None, extend: bool | None = None,
                  on_retry: Callable[[], None] | None = None) -> DraftResult:
    """Write one section and store it as a new version (committed before returning).

    Fixed sections are filled from the fields without the model, and so are mixed ones whose
    facts are all given unless `extend` (default: True only in the chat style, for a server's
    larger model; the embedded model's additions to given facts were rarely worth keeping);
    other sections stream the model's prose through `on_text`. If `cancel` is set mid-way, the partial text is still
    stored as a version (nothing the user saw is lost) and `DraftResult.cancelled` is True; cancelled
    before any text, nothing is stored and `DraftResult.version` is None. `style` is the prompt's
    shape: "continue" (the document so far, continued; the default for a local model) or "chat"
    (instructions; the default for a server's model). When the first draft is unusable (repeats,
    or nothing of the document), one more is written: `on_retry` is called before it streams, so a
    preview can start again.
    """
    from assistant.drafting import writer

    with _store() as store:
        return writer.draft_section(store, session_id, section_id, lm, on_text=on_text, cancel=cancel,
                                    max_new_tokens=max_new_tokens, use_library=use_library, style=style,
                                    extend=extend, on_retry=on_retry)


def draft_all(session_id: int, lm: object, *, only_planned: bool = True,
              on_section: Callable[[int, OutlineSection], None] | None = None, on_text: OnText | None = None,
              cancel: threading.Event | None = None, max_new_tokens: int | None = None,
              use_library: bool = True, style: str | None = None,
              extend: bool | None = None, on_retry: Callable[[], None] | None = None) -> list[DraftResult]:
    """Draft every section in outline order (by default only those not drafted yet).

    `on_section(position, section)` is called before each one. Each section is committed as soon as
    it is written, so an interrupted run keeps everything drafted before the interruption.
    """
    from assistant.drafting import writer

    with _store() as store:
        return writer.draft_all(store, session_id, lm, only_planned=only_planned, on_section=on_section,
                                on_text=on_text, cancel=cancel, max_new_tokens=max_new_tokens,
                                use_library=use_library, style=style, extend=extend, on_retry=on_retry)


def left_to_the_person(session_id: int) -> list[OutlineSection]:
    """The sections `draft_all` leaves: optional ones with no fact to write from."""
    from assistant.drafting import writer

    session = get_session(session_id)
    template = get_template(session.template_id)
    return [s for s in session.sections if writer.left_to_the_person(section_spec(template, s.key))]


def needs_model(session_id: int, section_id: int, extend: bool = False) -> bool:
    """False for a section the template writes without the model: a fixed one, or (unless
    `extend`) a mixed one whose facts are all given."""
    from assistant.drafting.writer import without_model

    with _store() as store:
        session = store.get(session_id)
    template = get_template(session.template_id)
    spec = section_spec(template, session.by_id(section_id).key)
    return without_model(template, spec, session.values, extend) is None


def accept(session_id: int, section_id: int) -> Session:
    """Mark a drafted section accepted (it then feeds later sections' prompts)."""
    with _store() as store:
        section = store.get(session_id).by_id(section_id)
        if section.current is None:
            raise UserError(f"section {section.position} ('{section.title}') has no text yet: draft it first")
        store.set_status(section.id, session_id, "accepted")
        return store.get(session_id)


def edit_section(session_id: int, section_id: int, text: str) -> SectionVersion:
    """Store the person's text as a new version (source 'edited'); the section becomes 'drafted'.
    Durable (fsynced) when it returns."""
    with _store() as store:
        section = store.get(session_id).by_id(section_id)
        return store.add_version(session_id, section.id, text, "edited")


def history(session_id: int, section_id: int) -> list[SectionVersion]:
    """Every version of the section, oldest first."""
    with _store() as store:
        section = store.get(session_id).by_id(section_id)
        return store.versions(section.id)


def revert(session_id: int, section_id: int, version: int) -> SectionVersion:
    """Undo: copy an earlier version's text into a new version (source 'reverted')."""
    with _store() as store:
        section = store.get(session_id).by_id(section_id)
        old = next((v for v in store.versions(section.id) if v.version == version), None)
        if old is None:
            raise UserError(f"section {section.position} has no version {version} "
                            f"(see `draftpad history {session_id} {section.position}`)")
        return store.add_version(session_id, section.id, old.text, "reverted", old.model, old.method, old.stats,
                                 reverted_from=version)


def validate(session_id: int) -> list[Finding]:
    """Precise findings: missing fields per section, missing/empty required sections, placeholders, order."""
    from assistant.drafting.validation import validate_session

    with _store() as store:
        session = store.get(session_id)
    return validate_session(get_template(session.template_id), session)


def export(session_id: int, fmt: str, path: Path | None, *, supersedes: int | None = None,
           force: bool = False) -> Path:
    """Write Markdown (`md`), Word (`docx`) or PDF (`pdf`, through LibreOffice) and return the file.

    If `path` is an existing folder, the file name is chosen there; for ADR templates that is the
    record's adr-tools number (`0007-use-postgresql.md`: the next one, or the one this title already
    has), and `supersedes=N` links record N both ways. `path=None` means the ADR folder named by
    `.adr-dir` (or `doc/adr`), looked up from the current folder as adr-tools does.
    Refuses (UserError, one line) unless `force`: when validate finds a missing value or a
    placeholder, and when the file already exists.
    """
    from assistant.drafting.exporter import export_session

    findings = [] if force else export_findings(session_id)
    with _store() as store:
        session = store.get(session_id)
    template = get_template(session.template_id)
    return export_session(template, session, fmt, None if path is None else Path(path), supersedes=supersedes,
                          force=force, findings=findings)


def export_markdown(session_id: int, *, force: bool = False) -> str:
    """The document as Markdown text, for a terminal or a pipe; refused as `export` refuses."""
    from assistant.drafting.exporter import markdown_text

    findings = [] if force else export_findings(session_id)
    session = get_session(session_id)
    return markdown_text(get_template(session.template_id), session, force=force, findings=findings)


def export_path(session_id: int, fmt: str, path: Path | None) -> Path:
    """The file `export` would write (a folder resolves to its chosen name), so a UI can ask
    before replacing it."""
    from assistant.drafting.exporter import target_path

    session = get_session(session_id)
    return target_path(get_template(session.template_id), session, fmt, None if path is None else Path(path))


def export_findings(session_id: int) -> list[Finding]:
    """The findings that stop `export` unless forced: missing values and unresolved placeholders."""
    from assistant.drafting.exporter import BLOCKING

    return [f for f in validate(session_id) if f.code in BLOCKING]


def wording_before_draft(session_id: int, section_id: int) -> str:
    """For a section whose template wording wraps the model's prose, the rendered words before the
    prose ('' otherwise): the editor shows them first so streamed prose reads in place."""
    from assistant.drafting.prompts import wording_before_slot

    session = get_session(session_id)
    template = get_template(session.template_id)
    spec = section_spec(template, session.by_id(section_id).key)
    return wording_before_slot(template, spec.around_prose, session.values) if spec is not None else ""


# -- the model outside a document -----------------------------------------------------------------

def ask(lm: object, prompt: str, *, system: str = "", on_text: OnText | None = None,
        cancel: threading.Event | None = None, kind: str = "ask", **config: object) -> object:
    """One chat turn with the model (recorded in the generation log as `kind`); returns the
    engine's GenerationResult. `config` takes GenerationConfig's fields (max_new_tokens, ...)."""
    from assistant.drafting import generation_log, model_calls

    if not prompt.strip():
        raise UserError("the prompt is empty")
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    from engine import ServerError

    try:
        result = model_calls.generate(lm, messages, model_calls.config(**config), on_text=on_text, cancel=cancel)
    except ServerError as exc:  # what streamed before the server failed is logged like any answer
        if exc.partial is not None:
            generation_log.record(kind, lm, messages, exc.partial)
        raise
    generation_log.record(kind, lm, messages, result)
    return result


def suggest(lm: object, text: str, *, k: int = 3, max_tokens: int = 16, document: str = "", heading: str = "",
            use_library: bool = True, alpha: float | None = None, cancel: threading.Event | None = None) -> list:
    """Up to k distinct continuations of `text` (engine Suggestions, best first), scored with an
    n-gram model of the library, the templates and `document` (the text being edited); the
    model reads `heading` (see section_heading) before the text."""
    from assistant.drafting import suggestions

    return suggestions.suggest(lm, text, k=k, max_tokens=max_tokens, document=document, heading=heading,
                               use_library=use_library, alpha=alpha, cancel=cancel)


def section_heading(document_title: str, section_title: str) -> str:
    """What a suggestion inside a section reads before its text: the document's and the section's
    titles, so that a few typed words are continued on the document's subject."""
    return "".join(f"{mark} {title.strip()}\n\n" for mark, title in (("#", document_title), ("##", section_title))
                   if title.strip())


def refresh_suggestions(lm: object) -> None:
    """Count newly imported library text into the suggestions' n-gram store."""
    from assistant.drafting.suggestions import refresh_store

    if not getattr(lm, "is_server", False):  # server suggestions use no local n-gram store
        refresh_store(lm)
