"""`draftpad bench`: decoding speed (default), `--suggest` (several suggestions at once) and
`--drafting` (what the drafts are worth). Argument parsing only; the runners live in assistant.bench."""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.bench import DEFAULT_METHODS, DEFAULT_PROMPTS
from assistant.cli.options import add_model_options


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser(
        "bench", help="compare decoding methods on a prompt set (speed, tokens/forward, identity)",
        description=(
            "Runs HF generate (hf-greedy, hf-prompt-lookup with 10 tokens) and draftpad's methods on the "
            "same prompts in one process. Prompt file: JSONL, one object per line, "
            '{"id", "messages": [{"role", "content"}...]} or {"id", "prompt"}, optional "max_new_tokens", '
            'optional "references": [str...] passed to draftpad methods as reference texts (the HF rows '
            "never see them). With recycling/auto in --methods, a '<method> (cold table)' row shows the "
            "same method starting from an empty recycling table, i.e. the gain the persisted table gives a "
            "second session."),
    )
    bench.add_argument("--prompts", type=Path, default=DEFAULT_PROMPTS,
                       help="JSONL prompt file (default: draftpad's own drafting prompts)")
    bench.add_argument("--max-new-tokens", type=int, default=128, help="per prompt, unless the line sets its own")
    bench.add_argument("--methods", default=DEFAULT_METHODS,
                       help=f"comma-separated (default {DEFAULT_METHODS}); hf-greedy is always included")
    bench.add_argument("--repeats", type=int, default=1, help="runs per prompt and method; the fastest counts")
    bench.add_argument("--no-cold", action="store_true", help="skip the cold-table rows")
    bench.add_argument("--json", dest="json_out", type=Path, default=None, help="also write the table as JSON here")
    bench.add_argument("--suggest", action="store_true",
                       help="benchmark multi-suggestion decoding instead (uses --prompts)")
    bench.add_argument("--excerpts", type=int, default=0, metavar="N",
                       help="with --suggest: N prompts cut mid-sentence from the shared corpus instead")
    add_model_options(bench)
    bench.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    if args.suggest:
        from assistant.bench.suggest import run_suggest_bench

        return run_suggest_bench(args)
    from assistant.bench.decoding import run_decoding_bench

    return run_decoding_bench(args)
