"""`draftpad bench-library`: import rate, query latency at scale, and recall on labelled queries."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Callable


def run_library_bench(args: argparse.Namespace, import_with_progress: Callable) -> int:
    import tempfile

    from engine.errors import UserError
    from retrieval.benchmark import first_relevant_rank, latency_row, load_queries, recall_at, scale_database
    from retrieval import open_library

    if not args.corpus.is_dir():
        raise UserError(f"corpus folder {args.corpus} not found: pass --corpus FOLDER")
    try:
        sizes = [int(s) for s in args.scale.split(",") if s.strip() and int(s) > 0]
    except ValueError:
        raise UserError("--scale takes comma-separated chunk counts, e.g. 10000,100000") from None
    queries = load_queries(args.queries)
    texts = [q.query for q in queries]
    with tempfile.TemporaryDirectory(prefix="draftpad-bench-") as tmp:
        db_path = Path(tmp) / "real.db"
        lib = open_library(db_path)
        summary = import_with_progress(lib, [str(args.corpus)], None)
        imported = len(summary.added)
        stats = lib.stats()
        print(f"import: {imported} documents, {stats['sections']} sections, {stats['chunks']} chunks in "
              f"{summary.seconds:.1f} s = {imported / summary.seconds:.1f} docs/s, "
              f"{stats['chunks'] / summary.seconds:.1f} chunks/s ({len(summary.skipped)} files skipped)")
        ranks = [first_relevant_rank([h.path for h in lib.search(q.query, k=10)], q.expect) for q in queries]
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
    print(f"recall on {len(queries)} labelled queries ({args.queries.name}): "
          f"@1 {recall_at(ranks, 1):.2f}  @5 {recall_at(ranks, 5):.2f}  @10 {recall_at(ranks, 10):.2f}")
    missed = [q.query for q, r in zip(queries, ranks) if r is None or r > 5]
    for q in missed:
        print(f"  not in top 5: {q}")
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
