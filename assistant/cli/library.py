"""`draftpad library …` (import, search, list, remove, stats, reindex) and `draftpad bench-library`.

Heavy imports (torch, faiss, sentence-transformers) happen inside the command functions, through
retrieval.library, so `draftpad --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from assistant.bench import DEFAULT_CORPUS

from retrieval import FORMS, KINDS

# A kind, or a finer form (rent-agreement, affidavit, nda, ...), which implies its kind.
KIND_CHOICES = list(KINDS) + [f for f in FORMS if f not in KINDS]
SHOW_SKIPPED = 15


def register(sub: argparse._SubParsersAction) -> None:
    lib = sub.add_parser("library", help="import and search your past documents")
    lsub = lib.add_subparsers(dest="library_command", metavar="ACTION")
    lib.set_defaults(func=lambda args: (lib.print_help(), 0)[1])

    add = lsub.add_parser("add", aliases=["import"], help="import files or folders (recursively)")
    add.add_argument("paths", nargs="+", metavar="PATH")
    add.add_argument("--kind", choices=KIND_CHOICES, metavar="KIND",
                     help="document kind or form: adr, legal, patent, other, or e.g. rent-agreement, affidavit "
                          "(guessed when not given)")
    add.set_defaults(func=cmd_add)

    search = lsub.add_parser("search", help="search imported documents (words and meaning)")
    search.add_argument("query", nargs="+")
    search.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    search.add_argument("--kind", choices=KIND_CHOICES, metavar="KIND", help="only this kind or form")
    search.add_argument("--source", help="only documents from this source folder name or path")
    search.add_argument("--json", action="store_true", help="print a JSON list")
    search.set_defaults(func=cmd_search)

    lst = lsub.add_parser("list", help="list imported documents")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)

    rm = lsub.add_parser("remove", help="remove documents (a folder removes everything imported from it)")
    rm.add_argument("paths", nargs="+", metavar="PATH")
    rm.set_defaults(func=cmd_remove)

    st = lsub.add_parser("stats", help="counts, sizes and index type")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_stats)

    ri = lsub.add_parser("reindex", help="rebuild the vector index from the database")
    ri.set_defaults(func=cmd_reindex)

    bench = sub.add_parser("bench-library", help="measure import rate, query latency and recall@k")
    bench.add_argument("--queries", type=Path, action="append", metavar="FILE",
                       help="labelled JSONL {query, expect}; repeat for several (default: the shipped and the "
                            "paraphrased query sets)")
    bench.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder to import (default: shared corpus)")
    bench.add_argument("--scale", default="10000,100000",
                       help="comma-separated chunk counts to scale the library to for latency (0: none)")
    bench.add_argument("--rounds", type=int, default=3, help="times each query is timed per size")
    bench.set_defaults(func=cmd_bench)


def _open():
    from retrieval import open_library

    lib = open_library()
    _print_messages(lib.messages)
    return lib


def _print_messages(messages: list[str]) -> None:
    for message in messages:
        print(f"draftpad: note: {message}", file=sys.stderr)
    messages.clear()


def _progress_import(lib, paths: list[str], kind: str | None):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
               TextColumn("{task.fields[name]}")]
    with Progress(*columns, console=_stderr_console(), transient=True) as bar:
        task = bar.add_task("import", total=None, name="")

        def report(done: int, total: int, path: str) -> None:
            bar.update(task, completed=done, total=total, name=Path(path).name[:40])

        return lib.add_paths(paths, kind=kind, progress=report)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def cmd_add(args: argparse.Namespace) -> int:
    lib = _open()
    try:
        summary = _progress_import(lib, args.paths, args.kind)
    finally:
        lib.close()
    _print_messages(summary.messages)
    print(f"added {len(summary.added)}, updated {len(summary.updated)}, unchanged {len(summary.unchanged)}, "
          f"skipped {len(summary.skipped)} ({summary.seconds:.1f} s)")
    for path, reason in summary.skipped[:SHOW_SKIPPED]:
        print(f"  skipped {path}: {reason}")
    if len(summary.skipped) > SHOW_SKIPPED:
        rest = Counter(reason.split(" (")[0] for _p, reason in summary.skipped[SHOW_SKIPPED:])
        print(f"  … and {len(summary.skipped) - SHOW_SKIPPED} more: "
              + ", ".join(f"{n} {reason}" for reason, n in rest.most_common()))
    return 0 if (summary.added or summary.updated or summary.unchanged or not summary.skipped) else 1


def cmd_search(args: argparse.Namespace) -> int:
    from engine import UserError

    query = " ".join(args.query)
    if not query.strip():
        raise UserError("the search query is empty")
    if args.k <= 0:
        raise UserError("-k must be at least 1")
    lib = _open()
    try:
        hits = lib.search(query, k=args.k, kind=args.kind, source=args.source)
    finally:
        lib.close()
    if args.json:
        print(json.dumps([{"path": h.path, "title": h.title, "heading": h.heading, "snippet": h.snippet,
                           "score": h.score, "kind": h.kind, "form": h.form, "page": h.page} for h in hits],
                         ensure_ascii=False, indent=1))
        return 0
    if not hits:
        print("no results")
    for n, h in enumerate(hits, start=1):
        where = (f" › {h.heading}" if h.heading else "") + (f" (p. {h.page})" if h.page else "")
        print(f"{n:>2}. {h.title}{where}  [{h.form or h.kind}, {h.score:.4f}]")
        print(f"    {h.path}")
        print(f"    {h.snippet}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    lib = _open()
    try:
        docs = lib.list_documents()
    finally:
        lib.close()
    if args.json:
        print(json.dumps([d.__dict__ for d in docs], ensure_ascii=False, indent=1))
        return 0
    if not docs:
        print("the library is empty: add documents with `draftpad library add PATH`")
    for d in docs:
        kind = d.kind if d.form in ("", d.kind) else f"{d.kind}/{d.form}"
        print(f"{kind:<22} {d.sections:>4} sections  {d.title[:50]:<50}  {d.path}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    lib = _open()
    removed, missing = 0, []
    try:
        known = None
        for raw in args.paths:
            if lib.remove(raw):
                removed += 1
                continue
            # A folder: everything imported from under it.
            prefix = str(Path(raw).expanduser().absolute()).rstrip("/") + "/"
            known = known if known is not None else [d.path for d in lib.list_documents()]
            under = [p for p in known if p.startswith(prefix)]
            removed += sum(1 for p in under if lib.remove(p))
            if not under:
                missing.append(raw)
    finally:
        lib.close()
    print(f"removed {removed} document{'s' if removed != 1 else ''}")
    for raw in missing:
        print(f"  not in the library: {raw}")
    return 0 if not missing else 1


def cmd_stats(args: argparse.Namespace) -> int:
    lib = _open()
    try:
        stats = lib.stats()
    finally:
        lib.close()
    if args.json:
        print(json.dumps(stats, indent=1))
        return 0
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(stats["by_kind"].items())) or "none"
    print(f"documents  {stats['documents']} ({kinds})")
    print(f"sections   {stats['sections']}")
    print(f"chunks     {stats['chunks']} embedded, {stats['vectors']} in the {stats['index_type']} index")
    print(f"database   {stats['database']} ({stats['database_bytes'] / 1e6:.1f} MB)")
    print(f"index      {stats['index_file']} ({stats['index_bytes'] / 1e6:.1f} MB)")
    print(f"model      {stats['embedding_model']}")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    lib = _open()
    try:
        result = lib.reindex()
    finally:
        lib.close()
    print(f"rebuilt the {result['index_type']} vector index: {result['vectors']} vectors")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from assistant.bench.library import run_library_bench

    return run_library_bench(args, _progress_import)
