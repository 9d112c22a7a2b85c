"""Command-line options shared by every command that runs a model, and the one place the CLI
turns them into a model: the embedded engine, or an OpenAI-compatible server."""

from __future__ import annotations

import argparse
import os


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1, refused at parse time (before any model loads)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_model_options(parser: argparse.ArgumentParser, several_servers: bool = False) -> None:
    parser.add_argument("--model", default=os.environ.get("DRAFTPAD_MODEL", "default"),
                        help="'default' (embedded SmolLM2-135M), a .gguf file, a model folder or a cached hub id")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    parser.add_argument("--dtype", default="auto",
                        help="auto (bf16 on GPU; on a CPU the fastest of fp32, fp16-stored weights and bf16, "
                             "measured once per machine), fp32, fp16w (fp32 arithmetic on fp16 weights), bf16, fp16")
    if several_servers:
        parser.add_argument("--server", action="append", default=None, metavar="URL",
                            help="also measure this OpenAI-compatible server (repeatable; URL#LABEL names the row)")
    else:
        parser.add_argument("--server", default=None, metavar="URL",
                            help="use an OpenAI-compatible server (llama.cpp, Ollama, vLLM, LM Studio) instead of "
                                 "the embedded engine, e.g. http://127.0.0.1:8080/v1; also DRAFTPAD_SERVER or "
                                 "`draftpad config set server URL`; 'local' ignores both")
    parser.add_argument("--server-model", default=None, metavar="NAME",
                        help="the model on that server (also DRAFTPAD_SERVER_MODEL; default: the first it lists)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                        help="let draftpad contact HOST although it is not this machine (repeatable)")


def server_settings_for(args: argparse.Namespace) -> object | None:
    """The server these options, DRAFTPAD_SERVER or the config name; None for the embedded engine."""
    from engine import server_settings

    return server_settings(getattr(args, "server", None), getattr(args, "server_model", None),
                           getattr(args, "allow_host", None) or ())


def load_lm(args: argparse.Namespace) -> object:
    settings = server_settings_for(args)
    if settings is not None:
        from engine import UserError, connect_configured

        local = getattr(args, "model", "default")
        if local not in ("default", "", None):  # silently running another model than asked is worse
            raise UserError(f"--model {local} names a local model, but the server {settings.url} (from the "
                            f"{settings.source}) is in use: name its model with --server-model, or pass "
                            "--server local to run the local one")

        return connect_configured(settings)
    from engine import load_model

    return load_model(args.model, args.device, args.dtype)
