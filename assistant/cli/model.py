"""`draftpad generate` and `draftpad doctor`."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    from assistant.cli.options import add_model_options, positive_int

    gen = sub.add_parser("generate", help="answer one prompt, streaming to stdout")
    gen.add_argument("prompt", help="the prompt ('-' reads it from stdin)")
    gen.add_argument("--system", default=None, help="a system message")
    gen.add_argument("--max-new-tokens", type=positive_int, default=256)
    gen.add_argument("--temperature", type=float, default=0.0)
    gen.add_argument("--top-p", type=float, default=1.0)
    gen.add_argument("--seed", type=int, default=None)
    # engine.METHODS' names, spelt out so a mistyped one is refused without importing torch (a test
    # keeps the two equal)
    gen.add_argument("--method", default="auto", choices=("auto", "recycling", "greedy"), help="decoding method")
    gen.add_argument("--json", action="store_true", help="end with one JSON line of text and stats")
    add_model_options(gen)
    gen.set_defaults(func=cmd_generate)

    doctor = sub.add_parser("doctor", help="versions, device, model and data locations, offline status")
    add_model_options(doctor)
    doctor.add_argument("--no-load", action="store_true", help="do not load the model")
    doctor.set_defaults(func=cmd_doctor)


def cmd_generate(args: argparse.Namespace) -> int:
    from assistant import drafting
    from assistant.cli.options import load_lm
    from engine import ServerError, UserError

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        raise UserError("the prompt is empty")
    if not 0.0 < args.top_p <= 1.0 or args.temperature < 0:
        raise UserError("--temperature must be >= 0 and --top-p in (0, 1]")
    lm = load_lm(args)

    def show(chunk: str) -> None:
        sys.stdout.write(chunk)
        sys.stdout.flush()

    try:
        result = drafting.ask(lm, prompt, system=args.system or "", on_text=show, kind="generate",
                              max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                              seed=args.seed, method=args.method)
    except ServerError:
        sys.stdout.write("\n")  # the text so far stays on screen (and in the log); the error follows
        raise
    sys.stdout.write("\n")
    s = result.stats
    if args.json:
        print(json.dumps({"text": result.text, "new_tokens": s.new_tokens, "seconds": round(s.seconds, 4),
                          "tok_s": round(s.tok_s, 2), "forwards": s.forwards,
                          "tokens_per_forward": round(s.tokens_per_forward, 3), "method": s.method,
                          "prompt_tokens": s.prompt_tokens, "stop_reason": s.stop_reason,
                          "model": getattr(lm, "identity", "")}))
    else:
        per_forward = f", {s.tokens_per_forward:.2f} tokens/forward" if s.forwards else ""
        print(f"[{s.new_tokens} tokens, {s.tok_s:.1f} tok/s{per_forward}, {s.method}]",
              file=sys.stderr)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    import platform

    import torch
    import transformers

    from engine import data_dir, database_path, offline_status, pick_device, pick_dtype, resolve_spec

    device = pick_device(args.device)
    rows = [
        ("python", platform.python_version()),
        ("torch", torch.__version__),
        ("transformers", transformers.__version__),
        ("device", str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")),
        ("dtype", str(pick_dtype(args.dtype, device)).replace("torch.", "")),
        ("model spec", args.model),
        ("model file", resolve_spec(args.model).display),
        ("data directory", str(data_dir())),
        ("database", str(database_path())),
        ("offline", ", ".join(f"{k}={v}" for k, v in offline_status().items())),
    ]
    from assistant.cli.options import server_settings_for

    settings = server_settings_for(args)
    failed = False
    rows.append(("backend", "embedded engine")) if settings is None else None
    if settings is not None:
        rows += _server_rows(settings, probe=not args.no_load)
        failed = rows[-1][1].startswith("no:")
    elif not args.no_load:
        from engine import load_model

        lm = load_model(args.model, args.device, args.dtype)
        rows.append(("model loaded", f"{type(lm.model).__name__}, vocab {lm.vocab_size}, {lm.load_seconds:.1f} s, "
                                     f"{lm.forward_label} forward, {lm.weights} weights"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 1 if failed else 0


def _server_rows(settings: object, probe: bool) -> list[tuple[str, str]]:
    """What doctor says about a configured server: where, which model, and whether it answers."""
    from engine import UserError, connect_configured, probe_server

    rows = [("backend", f"server {settings.url} (from {settings.source})"),
            ("server model", settings.model or "(the first the server lists)")]
    if settings.allow_hosts:
        rows.append(("allowed hosts", ", ".join(settings.allow_hosts)))
    if settings.api_key_env:
        rows.append(("api key", f"from ${settings.api_key_env}"))
    if not probe:
        return rows
    try:
        lm = connect_configured(settings)
    except UserError as exc:
        return rows + [("server answers", f"no: {exc}")]
    rows[1] = ("server model", lm.model)
    rows.append(("server lists", ", ".join(lm.available[:6]) or "(nothing)"))
    return rows + [("server answers", f"yes: {probe_server(lm)}")]
