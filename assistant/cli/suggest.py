"""`draftpad suggest TEXT`: k continuations of a text in one superposed decoding pass."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    from assistant.cli.options import add_model_options

    cmd = sub.add_parser("suggest", help="suggest k continuations of TEXT (superposed decoding)")
    cmd.add_argument("text", help="the text typed so far ('-' reads it from stdin)")
    cmd.add_argument("-k", type=int, default=3, help="how many suggestions (default 3)")
    cmd.add_argument("--tokens", type=int, default=16, help="at most this many tokens each (default 16)")
    cmd.add_argument("--alpha", type=float, default=None,
                     help="weight of the n-gram model (library, templates, the text) against the model, "
                          "in [0, 1); default 0.3, 0 turns it off")
    cmd.add_argument("--no-library", action="store_true", help="score with the text itself only, not the library")
    cmd.add_argument("--section", nargs=2, metavar=("ID", "N"), type=int,
                     help="continue TEXT as section N of session ID: the model reads the document's and the "
                          "section's titles first, as in the app's editor")
    cmd.add_argument("--json", action="store_true", help='print {"suggestions": [{"text", "score"}...], "seconds"}')
    add_model_options(cmd)
    cmd.set_defaults(func=cmd_suggest)


def cmd_suggest(args: argparse.Namespace) -> int:
    import time

    from assistant import drafting
    from assistant.cli.options import load_lm
    from engine import DEFAULT_ALPHA, UserError

    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise UserError("the text is empty: give the start of a section to continue")
    if not 1 <= args.k <= 16:
        raise UserError("-k must be between 1 and 16")
    if not 1 <= args.tokens <= 256:
        raise UserError("--tokens must be between 1 and 256")
    alpha = DEFAULT_ALPHA if args.alpha is None else args.alpha
    if not 0.0 <= alpha < 1.0:
        raise UserError("--alpha must be in [0, 1)")
    heading = ""
    if args.section:
        session = drafting.get_session(args.section[0])
        heading = drafting.section_heading(session.title, session.section(args.section[1]).title)
    lm = load_lm(args)
    started = time.perf_counter()
    suggestions = drafting.suggest(lm, text, k=args.k, max_tokens=args.tokens, heading=heading,
                                   use_library=not args.no_library, alpha=alpha)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({"suggestions": [{"text": s.text, "score": round(s.score, 4)} for s in suggestions],
                          "seconds": round(seconds, 4)}))
        return 0
    if not suggestions:
        print("(no suggestion)", file=sys.stderr)
    for number, s in enumerate(suggestions, 1):
        print(f"{number}. …{s.text.rstrip()}  [{s.score:.2f}]")
    print(f"[{len(suggestions)} suggestions in {seconds:.2f} s]", file=sys.stderr)
    return 0
