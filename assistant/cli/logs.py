"""`draftpad logs`: read back the prompts and responses of past model calls; switch recording off or on."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import asdict

from engine import UserError

PREVIEW = 70


def register(sub: argparse._SubParsersAction) -> None:
    logs = sub.add_parser("logs", help="prompts and responses of past model calls (on, off, status, show ID)")
    logs.add_argument("action", nargs="?", default="list", choices=["list", "show", "on", "off", "status"])
    logs.add_argument("id", nargs="?", type=int, help="the entry to show")
    logs.add_argument("-n", type=int, default=20, help="how many recent entries to list (default 20)")
    logs.add_argument("-q", "--search", help="only entries whose prompt or response contains this text")
    logs.add_argument("--json", action="store_true", help="print JSON")
    logs.set_defaults(func=cmd_logs)


def _when(created: float) -> str:
    return dt.datetime.fromtimestamp(created).strftime("%Y-%m-%d %H:%M")


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW else flat[:PREVIEW - 1] + "…"


def cmd_logs(args: argparse.Namespace) -> int:
    from assistant.drafting import open_log

    log = open_log()
    try:
        if args.action in ("on", "off"):
            log.set_enabled(args.action == "on")
            print(f"logging is {args.action}" + ("" if log.enabled == (args.action == "on") else
                                                  " (but DRAFTPAD_LOG turns it off in this environment)"))
        elif args.action == "status":
            print(f"logging is {'on' if log.enabled else 'off'}; {log.count()} entries in the database")
        elif args.action == "show":
            if args.id is None:
                raise UserError("`draftpad logs show` needs the entry's number (see `draftpad logs`)")
            entry = log.get(args.id)
            if entry is None:
                raise UserError(f"no log entry {args.id}")
            if args.json:
                print(json.dumps(asdict(entry), ensure_ascii=False))
            else:
                where = f" · session {entry.session_id}" if entry.session_id is not None else ""
                where += f" · {entry.section}" if entry.section else ""
                print(f"#{entry.id} {_when(entry.created)} · {entry.kind}{where} · {entry.model} · {entry.method} · "
                      f"{entry.new_tokens} tokens in {entry.seconds:.1f} s ({entry.stop_reason})")
                print(f"\n--- prompt\n{entry.prompt_text()}\n\n--- response\n{entry.response}")
        else:
            if args.n < 1:
                raise UserError("-n must be at least 1")
            entries = log.recent(args.n, args.search)
            if args.json:
                print(json.dumps([asdict(e) for e in entries], ensure_ascii=False))
                return 0
            if not entries:
                print("no logged generations" + ("" if log.enabled else " (logging is off: `draftpad logs on`)"))
            for e in entries:
                print(f"{e.id:>5}  {_when(e.created)}  {e.kind:<8} {e.new_tokens:>4} tok  {_one_line(e.response)}")
    finally:
        log.close()
    return 0
