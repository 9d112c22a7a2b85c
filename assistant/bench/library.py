"""`draftpad bench-library`: import rate, query latency at scale, and recall on labelled queries."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Callable

from assistant.bench import DATA_DIR, DEFAULT_QUERIES

# Written by someone who had not seen the shipped set, for documents it does not target, before
# any tuning on them: the check that the shipped set is not all the ranking is good at.
PARAPHRASED_QUERIES = DATA_DIR / "paraphrased_queries.jsonl"


def run_library_bench(args: argparse.Namespace, import_with_progress: Callable) -> int:
    import tempfile

    from engine.errors import UserError
    from retrieval import open_library
    from retrieval.benchmark import latency_row, load_queries, measure_recall, scale_database

    if not args.corpus.is_dir():
        raise UserError(f"corpus folder {args.corpus} not found: pass --corpus FOLDER")
    try:
        sizes = [int(s) for s in args.scale.split(",") if s.strip() and int(s) > 0]
    except ValueError:
        raise UserError("--scale takes comma-separated chunk counts, e.g. 10000,100000") from None
    query_files = args.queries or [DEFAULT_QUERIES, PARAPHRASED_QUERIES]
    query_sets = [(path, load_queries(path)) for path in query_files]
    texts = [q.query for _path, queries in query_sets for q in queries]
    with tempfile.TemporaryDirectory(prefix="draftpad-bench-") as tmp:
        db_path = Path(tmp) / "real.db"
        lib = open_library(db_path)
        summary = import_with_progress(lib, [str(args.corpus)], None)
        imported = len(summary.added)
        stats = lib.stats()
        print(f"import: {imported} documents, {stats['sections']} sections, {stats['chunks']} chunks in "
              f"{summary.seconds:.1f} s = {imported / summary.seconds:.1f} docs/s, "
              f"{stats['chunks'] / summary.seconds:.1f} chunks/s ({len(summary.skipped)} files skipped)")
        recalls = [measure_recall(lambda text: [h.path for h in lib.search(text, k=10)], queries, path.name)
                   for path, queries in query_sets]
        rows = [latency_row(lib, "real", texts, args.rounds)]
        lib.close()
        for size in sizes:
            scaled = Path(tmp) / f"scaled-{size}.db"
            scale_database(db_path, scaled, size)
            big = open_library(scaled)
            big.messages.clear()
            rows.append(latency_row(big, "scaled", texts, args.rounds))
            big.close()
            scaled.unlink()
            for extra in Path(tmp).glob(f"scaled-{size}.*"):
                extra.unlink()
    print()
    print(f"{'queries':<28} {'n':>3} {'@1':>5} {'@5':>5} {'@10':>5} {'MRR':>6}")
    for r in recalls:
        print(f"{r.name:<28} {r.queries:>3} {r.at1:>5.2f} {r.at5:>5.2f} {r.at10:>5.2f} {r.mrr:>6.3f}")
    for r in recalls:
        for q in r.missed:
            print(f"  not in top 5 ({r.name}): {q}")
    print()
    print(f"{'size':<6} {'documents':>9} {'chunks':>7} {'index':>5} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'cpu p50':>7} {'cpu p95':>7} {'embed p50':>9} {'p95/real':>8} {'ann@10':>6}")
    for row in rows:
        print(f"{row.label:<6} {row.documents:>9} {row.chunks:>7} {row.index_type:>5} {row.p50_ms:>7.1f} "
              f"{row.p95_ms:>7.1f} {row.cpu_p50_ms:>7.1f} {row.cpu_p95_ms:>7.1f} {row.embed_p50_ms:>9.1f} "
              f"{row.p95_ms / rows[0].p95_ms:>8.2f} {row.ann_recall:>6.2f}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print("(latency: one search(k=10) call, query embedding included, wall and CPU time of this process; "
          "scaled sizes are the real library duplicated with perturbed vectors; "
          f"load average at the end {load:.1f} on {os.cpu_count()} cores)")
    return 0
