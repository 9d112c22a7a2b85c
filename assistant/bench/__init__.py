"""The benchmarks behind `draftpad bench` and `draftpad bench-library`: decoding speed, suggestions,
drafting quality and the library. Each runner takes the parsed command line and prints a table whose
figures are ratios to peers measured in the same run."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_QUERIES = DATA_DIR / "library_queries.jsonl"
DEFAULT_PROMPTS = DATA_DIR / "bench_prompts.jsonl"
DEFAULT_METHODS = "hf-greedy,hf-prompt-lookup,greedy,recycling,auto"
# The project's test corpus sits beside a checkout of the repository; users pass --corpus.
DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
