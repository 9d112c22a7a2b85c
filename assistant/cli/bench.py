"""`draftpad bench`: decoding speed (default), `--suggest` (several suggestions at once) and
`--drafting` (what the drafts are worth). Argument parsing only; the runners live in assistant.bench."""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.bench import DEFAULT_CORPUS, DEFAULT_METHODS, DEFAULT_PROMPTS
from assistant.cli.options import add_model_options, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser(
        "bench", help="compare decoding methods on a prompt set (speed, tokens/forward, identity)",
        description=(
            "Runs HF generate (hf-greedy, hf-prompt-lookup with 10 tokens) and draftpad's methods on the "
            "same prompts in one process. Prompt file: JSONL, one object per line, "
            '{"id", "messages": [{"role", "content"}...]} or {"id", "prompt"}, optional "max_new_tokens", '
            'optional "references": [str...] passed to draftpad methods as reference texts (the HF rows '
            "never see them). Every draftpad run starts from a recycling table warmed on the other prompts only; "
            "with recycling/auto in --methods, a '<method> (cold table)' row shows the same method from an "
            "empty table."),
    )
    bench.add_argument("--prompts", type=Path, default=DEFAULT_PROMPTS,
                       help="JSONL prompt file (default: draftpad's own drafting prompts)")
    bench.add_argument("--max-new-tokens", type=positive_int, default=None,
                       help="per prompt, unless the line sets its own (default 128); with --drafting: per section "
                            "(default: the template's)")
    bench.add_argument("--methods", default=DEFAULT_METHODS,
                       help=f"comma-separated (default {DEFAULT_METHODS}); hf-greedy is always included")
    bench.add_argument("--repeats", type=positive_int, default=1, help="runs per prompt and method; the fastest counts")
    bench.add_argument("--no-cold", action="store_true", help="skip the cold-table rows")
    bench.add_argument("--json", dest="json_out", type=Path, default=None, help="also write the table as JSON here")
    bench.add_argument("--suggest", action="store_true",
                       help="benchmark multi-suggestion decoding instead (uses --prompts)")
    bench.add_argument("--excerpts", type=int, default=0, metavar="N",
                       help="with --suggest: N prompts cut mid-sentence from the shared corpus instead")
    bench.add_argument("--llama-server", type=Path, default=None, metavar="PATH",
                       help="also run llama.cpp's llama-server at PATH (plain and --spec-type ngram-mod) on the same "
                            "GGUF and thread count, on loopback, interleaved with the other rows")
    bench.add_argument("--forward-cost", action="store_true",
                       help="time one forward by width (1/4/16/32) against its Linear layers alone instead")
    bench.add_argument("--prefix-reuse", action="store_true",
                       help="time a suggestion's prefill right after one on the same text minus a word instead")
    drafting = bench.add_argument_group(
        "--drafting", "draftpad's pipeline (plan, draft with leave-one-out retrieval, export) against one plain "
        "prompt on the same model; case file: JSONL, one case a line, "
        '{"id", "template", "values": {field: value}, "reference"?: path in the corpus, "variant"?}')
    drafting.add_argument("--drafting", action="store_true", help="benchmark drafting quality instead")
    drafting.add_argument("--cases", type=Path, default=None, help="JSONL case file (default: the shipped cases)")
    drafting.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                          help="folder the library is built from and references are read in (default: shared corpus)")
    drafting.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N cases")
    drafting.add_argument("--case", default=None, metavar="ID", help="only this case")
    drafting.add_argument("--verbose", action="store_true", help="print each case's scores and worst failures")
    add_model_options(bench, several_servers=True)
    bench.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    if getattr(args, "drafting", False):
        from assistant.bench.drafting import run_drafting_bench

        return run_drafting_bench(args)
    if getattr(args, "max_new_tokens", 128) is None:
        args.max_new_tokens = 128
    if args.suggest:
        from assistant.bench.suggest import run_suggest_bench

        return run_suggest_bench(args)
    from assistant.bench.decoding import run_decoding_bench

    return run_decoding_bench(args)
