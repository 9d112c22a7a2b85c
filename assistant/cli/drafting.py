"""`draftpad templates|new|set|plan|outline|draft|show|accept|edit|history|revert|validate|export|sessions`.

Thin wrappers over `assistant.drafting`; the model is loaded only by the commands that need it.
A person names sections by their place in the outline (N); each command turns N into the section's
stable id once, at the start, so the rest of the command means that section even if another
process (the app) moves it meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from engine import UserError


def _out(text: str = "") -> None:
    print(text, flush=True)


def _load(args: argparse.Namespace) -> object:
    from assistant.cli.options import load_lm

    return load_lm(args)


def _parse_sets(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--set needs name=value, got '{pair}'")
        values[name.strip()] = value
    return values


def _section_id(session_id: int, n: int) -> int:
    """The stable id of the section now at position `n` (UserError when there is none)."""
    from assistant import drafting

    return drafting.get_session(session_id).section(n).id


@contextmanager
def _stop_on_ctrl_c() -> Iterator[threading.Event]:
    """The first Ctrl-C sets the event: the generation stops and the core keeps what was streamed
    as a version, as the app's Esc does. A second Ctrl-C interrupts at once."""
    cancel = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return

    def handler(signum: int, frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\ndraftpad: stopping; the text so far is kept (Ctrl-C again to quit at once)", file=sys.stderr,
              flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, previous)


def _show_outline(session: object) -> None:
    for section in session.sections:
        version = f" v{section.current.version}" if section.current else ""
        _out(f"{section.position:>3}. [{section.status}{version}] {section.title}")


# -- commands -------------------------------------------------------------------------------------

def cmd_templates(args: argparse.Namespace) -> int:
    from assistant import drafting

    for error in drafting.template_errors():
        print(f"draftpad: warning: {error}", file=sys.stderr)
    if args.action == "show":
        if not args.id:
            raise UserError("usage: draftpad templates show ID")
        t = drafting.get_template(args.id)
        _out(f"{t.id}: {t.name} (kind {t.kind}){'  variants: ' + ', '.join(t.variants) if t.variants else ''}")
        if t.description:
            _out(t.description)
        _out("\nFields:")
        for f in t.fields:
            default = f" [default: {f.default}]" if f.default else ""
            _out(f"  {f.name:<18} {f.type:<9} {'required' if f.required else 'optional'}  {f.label}{default}")
        _out("\nSections:")
        for i, s in enumerate(t.sections, start=1):
            variants = f" ({', '.join(s.variants)} only)" if s.variants else ""
            uses = f" uses: {', '.join(s.uses)}" if s.uses else ""
            _out(f"  {i:>2}. {s.title} [{s.mode}, {'required' if s.required else 'optional'}]{variants}{uses}")
        return 0
    if args.action:
        raise UserError(f"unknown templates action '{args.action}' (use: show ID)")
    for t in drafting.list_templates():
        variants = f" [{', '.join(t.variants)}]" if t.variants else ""
        _out(f"{t.id:<22} {t.name}{variants}")
    return 0


def _ask_missing(template: object, values: dict[str, str], title: str | None) -> dict[str, str]:
    """Required fields without a value: asked one by one at a terminal, else one error naming them all."""
    from assistant import drafting

    given = {**values, **({"title": title} if title and "title" not in values else {})}
    missing = drafting.missing_required(template, given)
    if not missing:
        return values
    if not sys.stdin.isatty():
        names = ", ".join(f.name for f in missing)
        raise UserError(f"template '{template.id}' needs {names}: give them with --set NAME=VALUE")
    asked = dict(values)
    for spec in missing:
        while True:
            try:
                answer = input(f"{spec.label} ({spec.name}): ").strip()
            except EOFError:
                raise UserError(f"no value for '{spec.name}'") from None
            problem = drafting.check_answer(spec, answer)
            if not problem:
                break
            print(f"  {spec.name} needs {problem}", file=sys.stderr)
        asked[spec.name] = answer
    return asked


def cmd_new(args: argparse.Namespace) -> int:
    from assistant import drafting

    values = _parse_sets(args.set or [])
    template = drafting.get_template(args.template)
    drafting.check_values(template, values)  # a bad value is refused before any question is asked
    values = _ask_missing(template, values, args.title)
    session = drafting.new_session(args.template, args.title, values, args.variant)
    if args.json:
        _out(json.dumps({"id": session.id}))
    else:
        _out(str(session.id))
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    from assistant import drafting

    before = drafting.get_session(args.id)
    session = drafting.set_values(args.id, _parse_sets(args.pairs), args.title)
    for old, new in zip(before.sections, session.sections):
        if new.current and (old.current is None or new.current.version != old.current.version):
            _out(f"section {new.position} '{new.title}' rewritten from the template as v{new.current.version}")
    _out(f"session {session.id}: {', '.join(_parse_sets(args.pairs))} updated")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from assistant import drafting

    lm = _load(args)
    result = drafting.plan(args.id, lm, use_library=not args.no_library, max_new_tokens=args.max_new_tokens)
    if result.notice:
        print(f"draftpad: notice: {result.notice}", file=sys.stderr)
    if result.added:
        _out(f"added proposed sections: {', '.join(result.added)}")
    _show_outline(result.session)
    return 0


def cmd_outline(args: argparse.Namespace) -> int:
    from assistant import drafting

    if args.add is not None:
        session = drafting.add_section(args.id, args.add, position=args.at)
    elif args.remove is not None:
        session = drafting.remove_section(args.id, _section_id(args.id, args.remove))
    elif args.move is not None:
        session = drafting.move_section(args.id, _section_id(args.id, args.move[0]), args.move[1])
    elif args.rename is not None:
        n = int(args.rename[0]) if args.rename[0].isdigit() else -1
        session = drafting.rename_section(args.id, _section_id(args.id, n), args.rename[1])
    else:
        session = drafting.get_session(args.id)
    _show_outline(session)
    return 0


def cmd_draft(args: argparse.Namespace) -> int:
    from assistant import drafting
    from assistant.cli.options import server_settings_for

    session = drafting.get_session(args.id)
    if args.n is not None:
        if args.all or args.section not in (None, args.n):
            raise UserError("say which once: N, --section N or --all")
        args.section = args.n
    if not args.all and args.section is None:
        raise UserError("say which: N (or --section N), or --all")
    section_id = session.section(args.section).id if args.section is not None else None
    extend = args.extend or server_settings_for(args) is not None  # a server's model is a larger one
    left = {s.id for s in drafting.left_to_the_person(args.id)} if args.all else set()
    todo = [s.id for s in session.sections if (args.redraft or s.undrafted) and s.id not in left] if args.all \
        else [section_id]
    lm = _load(args) if any(drafting.needs_model(args.id, sid, extend) for sid in todo) else None
    stream = None if args.quiet else (lambda chunk: print(chunk, end="", flush=True))

    def retrying() -> None:
        marker = "[the first draft was unusable: trying once more]"
        if args.quiet:
            print(f"draftpad: {marker}", file=sys.stderr, flush=True)
        else:
            _out(f"\n{marker}\n")

    def heading(position: int, section: object) -> None:
        if args.quiet:
            print(f"draftpad: drafting section {position} '{section.title}'", file=sys.stderr, flush=True)
        else:
            _out(f"\n## {position}. {section.title}\n")
            # the template's words the prose continues ("* Good, because"), so it streams in place
            if drafting.needs_model(args.id, section.id, extend):
                print(drafting.wording_before_draft(args.id, section.id), end="", flush=True)

    with _stop_on_ctrl_c() as cancel:
        if args.all:
            results = drafting.draft_all(args.id, lm, only_planned=not args.redraft, on_section=heading,
                                         on_text=stream, cancel=cancel, max_new_tokens=args.max_new_tokens,
                                         use_library=not args.no_library, extend=args.extend or None,
                                         on_retry=retrying)
        else:
            heading(args.section, session.section(args.section))
            results = [drafting.draft_section(args.id, section_id, lm, on_text=stream, cancel=cancel,
                                              max_new_tokens=args.max_new_tokens, use_library=not args.no_library,
                                              extend=args.extend or None, on_retry=retrying)]
    if not args.quiet:
        _out()
    for r in results:
        if r.version is None:
            if r.cancelled:
                print(f"draftpad: section {r.position} '{r.title}': stopped before any text; nothing stored",
                      file=sys.stderr)
            continue
        if r.kept:
            print(f"draftpad: section {r.position} '{r.title}': nothing usable was written; v{r.version.version} "
                  "is kept (draft it again, or edit it)", file=sys.stderr)
            continue
        if r.cancelled:
            print(f"draftpad: section {r.position} '{r.title}': stopped; the partial text is kept as "
                  f"v{r.version.version}", file=sys.stderr)
            continue
        stats = r.version.stats
        detail = (f"{stats.get('new_tokens', 0)} tokens, {stats.get('tok_s', 0)} tok/s, {stats.get('examples', 0)} examples"
                  if r.used_model else "from your facts (--extend: the model adds to them)"
                  if r.version.method == drafting.FROM_FACTS else "from the template")
        if r.used_model and not r.version.text.strip():
            detail += "; nothing usable was written, so the section is empty: write it, or draft it again"
        elif r.used_model and stats.get("dropped_sentences", 0) > 0:
            # what streamed is not what was kept: say so, or the person takes the stream for the section
            dropped = stats["dropped_sentences"]
            detail += (f"; the checks left out {dropped} sentence{'s' if dropped > 1 else ''} of what streamed "
                       f"(`draftpad show {args.id}` prints what was kept)")
        print(f"draftpad: section {r.position} '{r.title}' v{r.version.version}: {detail}", file=sys.stderr)
    unwritten = [s for s in drafting.get_session(args.id).sections if s.id in left and s.undrafted]
    if unwritten:
        print(f"draftpad: left for you (optional, and no fact of yours to write them from): "
              f"{', '.join(f'{s.position} {s.title!r}' for s in unwritten)}; draft one with "
              f"`draftpad draft {args.id} N`, or remove it with `draftpad outline {args.id} --remove N`", file=sys.stderr)
    if not results and not unwritten:
        print("draftpad: nothing to draft (every section has text; use --redraft or --section N)", file=sys.stderr)
    if cancel.is_set():
        print("draftpad: interrupted", file=sys.stderr)
        return 130
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from assistant import drafting

    session = drafting.get_session(args.id)
    if args.json:
        _out(json.dumps({
            "id": session.id, "template": session.template_id, "variant": session.variant, "title": session.title,
            "values": session.values,
            "sections": [{"position": s.position, "title": s.title, "status": s.status,
                          "version": s.current.version if s.current else None, "text": s.text} for s in session.sections],
        }, ensure_ascii=False, indent=2))
        return 0
    variant = f" ({session.variant})" if session.variant else ""
    _out(f"Session {session.id}: {session.title} [{session.template_id}{variant}]")
    for name, value in session.values.items():
        _out(f"  {name}: {value}")
    texts = [s.text for s in session.sections]
    try:
        legal = drafting.get_template(session.template_id).layout.legal
    except UserError:  # its template is gone: the texts as stored
        legal = False
    if legal:
        texts = drafting.renumber_clauses(texts)  # as the export numbers them: one sequence
    for s, text in zip(session.sections, texts):
        version = f" v{s.current.version}" if s.current else ""
        _out(f"\n## {s.position}. {s.title}  [{s.status}{version}]\n")
        if text:
            _out(text)
    return 0


def cmd_accept(args: argparse.Namespace) -> int:
    from assistant import drafting

    section_id = _section_id(args.id, args.n)
    session = drafting.accept(args.id, section_id)
    _out(f"accepted section {args.n} '{session.by_id(section_id).title}'")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    from assistant import drafting

    section = drafting.get_session(args.id).section(args.n)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    handle, name = tempfile.mkstemp(prefix=f"draftpad-{args.id}-{args.n}-", suffix=".md")
    path = Path(name)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(section.text)
    try:
        status = subprocess.call([*shlex.split(editor), str(path)])
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise UserError(f"cannot start the editor '{editor}': {exc.strerror or exc}") from None
    if status != 0:
        # Keep the file: whatever the person typed is not thrown away.
        raise UserError(f"the editor exited with status {status}; your text is kept in {path}")
    text = path.read_text(encoding="utf-8")
    if text == section.text:
        path.unlink(missing_ok=True)
        _out("no changes")
        return 0
    version = drafting.edit_section(args.id, section.id, text)
    path.unlink(missing_ok=True)
    _out(f"saved section {args.n} '{section.title}' as version {version.version}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    import datetime as dt

    from assistant import drafting

    for v in drafting.history(args.id, _section_id(args.id, args.n)):
        when = dt.datetime.fromtimestamp(v.created).strftime("%Y-%m-%d %H:%M:%S")
        origin = f" (from v{v.reverted_from})" if v.reverted_from else ""
        model = f" {v.model} {v.method}" if v.model else ""
        first = " ".join(v.text.split())[:70]
        _out(f"v{v.version}  {when}  {v.source}{origin}{model}  {first}")
    return 0


def cmd_revert(args: argparse.Namespace) -> int:
    from assistant import drafting

    version = drafting.revert(args.id, _section_id(args.id, args.n), args.version)
    _out(f"section {args.n} is now version {version.version} (a copy of version {args.version})")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from assistant import drafting

    findings = drafting.validate(args.id)
    errors = [f for f in findings if f.severity == "error"]
    if args.json:
        _out(json.dumps({"ok": not errors, "findings": [f.as_dict() for f in findings]}, ensure_ascii=False, indent=2))
    else:
        for f in findings:
            _out(f"{f.severity}: {f.message}")
        _out(f"{len(errors)} error(s), {len(findings) - len(errors)} warning(s)" if findings else "ok: no findings")
    return 1 if errors else 0


def cmd_export(args: argparse.Namespace) -> int:
    from assistant import drafting

    if args.output == "-":
        if args.format != "md" or args.supersedes is not None:
            raise UserError("-o - writes Markdown to the terminal: use --format md, without --supersedes")
        sys.stdout.write(drafting.export_markdown(args.id, force=args.force))
        return 0
    path = drafting.export(args.id, args.format, Path(args.output) if args.output else None,
                           supersedes=args.supersedes, force=args.force)
    _out(str(path))
    return 0


def cmd_sessions(args: argparse.Namespace) -> int:
    import datetime as dt

    from assistant import drafting

    sessions = drafting.list_sessions()
    if args.json:
        _out(json.dumps([s.__dict__ for s in sessions], ensure_ascii=False))
        return 0
    for s in sessions:
        when = dt.datetime.fromtimestamp(s.updated).strftime("%Y-%m-%d %H:%M")
        _out(f"{s.id:>4}  {when}  {s.template_id:<22} {s.drafted + s.accepted}/{s.sections} drafted,"
             f" {s.accepted} accepted  {s.title}")
    if not sessions:
        _out("no sessions yet: start one with `draftpad new TEMPLATE`")
    return 0


# -- registration ---------------------------------------------------------------------------------

def register(sub: argparse._SubParsersAction) -> None:
    from assistant.cli.options import add_model_options, positive_int

    p = sub.add_parser("templates", help="list document templates, or show one")
    p.add_argument("action", nargs="?", choices=["show"], help="show ID: a template's fields and sections")
    p.add_argument("id", nargs="?")
    p.set_defaults(func=cmd_templates)

    p = sub.add_parser("new", help="start a drafting session from a template; prints its id")
    p.add_argument("template")
    p.add_argument("--title")
    p.add_argument("--variant", help="template variant, e.g. minimal or special")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="a field value (repeatable)")
    p.add_argument("--json", action="store_true", help='print {"id": ...}')
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("set", help="change field values of a session (fixed sections using them are rewritten)")
    p.add_argument("id", type=int)
    p.add_argument("pairs", nargs="+", metavar="NAME=VALUE")
    p.add_argument("--title", help="also rename the session")
    p.set_defaults(func=cmd_set)

    p = sub.add_parser("plan", help="let the model propose the section titles")
    p.add_argument("id", type=int)
    p.add_argument("--no-library", action="store_true", help="do not look at similar documents")
    p.add_argument("--max-new-tokens", type=positive_int, default=96)
    add_model_options(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("outline", help="show or change a session's outline")
    p.add_argument("id", type=int)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--add", metavar="TITLE")
    group.add_argument("--remove", type=int, metavar="N")
    group.add_argument("--move", type=int, nargs=2, metavar=("N", "M"))
    group.add_argument("--rename", nargs=2, metavar=("N", "TITLE"))
    p.add_argument("--at", type=int, metavar="N", help="with --add: the new section's position")
    p.set_defaults(func=cmd_outline)

    p = sub.add_parser("draft", help="draft section N, or every undrafted section, with the model")
    p.add_argument("id", type=int)
    p.add_argument("n", type=int, nargs="?", metavar="N", help="the section's number, as accept and edit take it")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--section", type=int, metavar="N")
    which.add_argument("--all", action="store_true")
    p.add_argument("--redraft", action="store_true", help="with --all: also redraft sections that have text")
    p.add_argument("--max-new-tokens", type=positive_int, help="per section (default: the template's, else 200)")
    p.add_argument("--no-library", action="store_true", help="draft without retrieved examples")
    p.add_argument("--extend", action="store_true",
                   help="let the model add to sections whose facts you gave (default: only with a server's model; "
                        "the embedded model's additions are rarely worth keeping)")
    p.add_argument("--quiet", action="store_true", help="do not stream the text")
    add_model_options(p)
    p.set_defaults(func=cmd_draft)

    p = sub.add_parser("show", help="print a session: fields, outline and current text")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("accept", help="accept section N")
    p.add_argument("id", type=int)
    p.add_argument("n", type=int)
    p.set_defaults(func=cmd_accept)

    p = sub.add_parser("edit", help="edit section N in $EDITOR (saved as a new version)")
    p.add_argument("id", type=int)
    p.add_argument("n", type=int)
    p.set_defaults(func=cmd_edit)

    p = sub.add_parser("history", help="every version of section N")
    p.add_argument("id", type=int)
    p.add_argument("n", type=int)
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("revert", help="make an earlier version of section N current again (as a new version)")
    p.add_argument("id", type=int)
    p.add_argument("n", type=int)
    p.add_argument("version", type=int)
    p.set_defaults(func=cmd_revert)

    p = sub.add_parser("validate", help="check facts, required sections, placeholders and order")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("export", help="write the document as Markdown, DOCX or PDF")
    p.add_argument("id", type=int)
    p.add_argument("--format", required=True, choices=["md", "docx", "pdf"], help="pdf needs LibreOffice (soffice)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="a file, a folder (ADRs get their adr-tools number there), or - for Markdown on standard "
                        "output; ADRs default to the folder "
                        "named by .adr-dir (or doc/adr), found as adr-tools finds it")
    p.add_argument("--supersedes", type=int, metavar="N", help="ADR only: this record supersedes record N")
    p.add_argument("--force", action="store_true",
                   help="export despite missing values or placeholders, and replace an existing file")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("sessions", help="list drafting sessions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sessions)
