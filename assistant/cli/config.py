"""`draftpad config set/get/unset/show`: the small settings file in the data dir (the model server)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    from engine import CONFIG_KEYS

    keys = "; ".join(f"{k}: {v}" for k, v in CONFIG_KEYS.items())
    cmd = sub.add_parser("config", help="show or change settings (the model server)", description=f"Keys — {keys}.")
    actions = cmd.add_subparsers(dest="config_action", metavar="ACTION")
    p = actions.add_parser("set", help="set KEY to VALUE")
    p.add_argument("key")
    p.add_argument("value")
    p = actions.add_parser("get", help="print the value of KEY")
    p.add_argument("key")
    p = actions.add_parser("unset", help="remove KEY")
    p.add_argument("key")
    p = actions.add_parser("show", help="every setting, the file, and the server in effect")
    p.add_argument("--json", action="store_true")
    cmd.set_defaults(func=cmd_config)


def _text(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def cmd_config(args: argparse.Namespace) -> int:
    from engine import (CONFIG_KEYS, UserError, config_path, load_config, server_settings, set_config_value,
                        unset_config_value)

    action = args.config_action or "show"
    if action == "set":
        values = set_config_value(args.key, args.value)
        print(f"{args.key} = {_text(values[args.key])}" if args.key in values else f"{args.key} unset")
        return 0
    if action == "unset":
        unset_config_value(args.key)
        print(f"{args.key} unset")
        return 0
    values = load_config()
    if action == "get":
        if args.key not in CONFIG_KEYS:
            raise UserError(f"unknown config key '{args.key}' (keys: {', '.join(CONFIG_KEYS)})")
        if args.key not in values:
            return 1  # like `git config`: nothing printed, non-zero exit
        print(_text(values[args.key]))
        return 0
    settings = server_settings(env=None, config=values)
    effective = "embedded engine" if settings is None else f"{settings.url} (from {settings.source})"
    if getattr(args, "json", False):
        print(json.dumps({"file": str(config_path()), "values": values, "backend": effective}))
        return 0
    print(f"# {config_path()}")
    for key in CONFIG_KEYS:
        if key in values:
            print(f"{key} = {_text(values[key])}")
    print(f"# backend in effect: {effective}")
    return 0
