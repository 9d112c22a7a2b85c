"""`draftpad …`: the headless CLI. Never imports textual (only `draftpad app` loads the TUI).

Each area registers its own subcommands from a module of its own; those modules keep heavy
imports (torch, transformers, faiss) inside the command functions so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from assistant.cli.options import add_model_options
from engine import enforce_offline

AREAS = ["assistant.cli.model", "assistant.cli.bench", "assistant.cli.library", "assistant.cli.drafting",
         "assistant.cli.suggest", "assistant.cli.logs", "assistant.cli.config"]


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's one-line errors: a mistyped option is named on one line, with where
    to look, instead of a usage block (subcommands' parsers are made of this class too)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"draftpad: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import PackageNotFoundError, version

    parser = Parser(prog="draftpad", description="A local, private writing assistant for structured documents.")
    try:
        parser.add_argument("--version", action="version", version=f"draftpad {version('draftpad')}")
    except PackageNotFoundError:  # run from a source tree that was never installed
        pass
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    app = sub.add_parser("app", help="open the terminal app (the default with no command)")
    add_model_options(app)
    app.set_defaults(func=run_app)
    for name in AREAS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def run_app(args: argparse.Namespace) -> int:
    from assistant.app import run  # the only place textual is imported
    from assistant.cli.options import server_settings_for

    return run(model=args.model, device=args.device, dtype=args.dtype, server=server_settings_for(args)) or 0


def main(argv: list[str] | None = None) -> int:
    enforce_offline()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        args = parser.parse_args(["app", *(argv if argv is not None else sys.argv[1:])])
    from engine import UserError

    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"draftpad: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("draftpad: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - a user never sees a traceback; DRAFTPAD_DEBUG=1 shows it
        if os.environ.get("DRAFTPAD_DEBUG"):
            raise
        print(f"draftpad: error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
