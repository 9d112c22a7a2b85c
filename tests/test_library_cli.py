"""`draftpad library …` end to end: in-process for the commands, two processes for concurrency."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.cli import main
from retrieval.library import open_library
from tests.fixtures_library import write_docs

REPO = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.real_model  # loads the MiniLM embedding model
def test_add_search_list_stats_remove_reindex(capsys, tmp_path: Path, draftpad_home: Path):
    docs = write_docs(tmp_path / "docs")
    (docs / "notes.bin").write_bytes(b"\x00\x01")
    code, out, err = run(capsys, "library", "add", str(docs))
    assert code == 0
    assert out.splitlines()[0].startswith("added 3, updated 0, unchanged 0, skipped 1")
    assert "unsupported file type .bin" in out and "Traceback" not in err

    code, out, _ = run(capsys, "library", "add", str(docs / "adrs"))
    assert code == 0 and out.startswith("added 0, updated 0, unchanged 2, skipped 0")

    code, out, _ = run(capsys, "library", "search", "deposit refunded when the tenant leaves", "-k", "2", "--json")
    hits = json.loads(out)
    assert code == 0 and len(hits) == 2
    assert set(hits[0]) == {"path", "title", "heading", "snippet", "score", "kind", "form", "page"}
    assert hits[0]["path"] == str((docs / "leases/flat-lease.txt").resolve())
    assert hits[0]["heading"] == "SECURITY DEPOSIT"
    assert (hits[0]["kind"], hits[0]["form"], hits[0]["page"]) == ("legal", "rent-agreement", None)

    code, out, _ = run(capsys, "library", "search", "queue", "--kind", "adr")
    assert code == 0 and "message-queue.md" in out and "flat-lease" not in out

    code, out, _ = run(capsys, "library", "list")
    assert code == 0 and len(out.splitlines()) == 3 and "RENT AGREEMENT" in out

    code, out, _ = run(capsys, "library", "stats", "--json")
    stats = json.loads(out)
    assert stats["documents"] == 3 and stats["by_kind"] == {"adr": 2, "legal": 1}
    assert stats["vectors"] == stats["chunks"] > 0 and stats["index_type"] == "flat"
    assert Path(stats["database"]).parent == draftpad_home

    code, out, _ = run(capsys, "library", "remove", str(docs / "adrs"))
    assert code == 0 and out.startswith("removed 2 documents")
    code, out, _ = run(capsys, "library", "remove", str(docs / "adrs"))
    assert code == 1 and "not in the library" in out

    code, out, _ = run(capsys, "library", "reindex")
    assert code == 0 and "1 vectors" not in out and "vectors" in out


def test_user_errors_are_one_line(capsys, tmp_path: Path):
    code, out, err = run(capsys, "library", "search", "  ")
    assert code == 2 and err.strip() == "draftpad: error: the search query is empty"
    code, out, err = run(capsys, "library", "add", str(tmp_path / "nothing-here"))
    assert code == 1 and "no such file or folder" in out and "Traceback" not in err
    code, out, err = run(capsys, "bench-library", "--corpus", str(tmp_path / "nope"))
    assert code == 2 and err.startswith("draftpad: error: corpus folder")


@pytest.mark.real_model  # loads the MiniLM embedding model
def test_a_missing_index_file_is_repaired_with_a_note(capsys, tmp_path: Path, draftpad_home: Path):
    docs = write_docs(tmp_path / "docs")
    assert run(capsys, "library", "add", str(docs))[0] == 0
    (draftpad_home / "draftpad.library.faiss").unlink()
    code, out, err = run(capsys, "library", "search", "sublet", "--json")
    assert code == 0 and json.loads(out)
    assert "draftpad: note: vector index file is missing; rebuilt it from the database" in err


@pytest.mark.real_model  # loads the MiniLM embedding model
def test_two_processes_adding_at_once_do_not_corrupt_the_store(tmp_path: Path, draftpad_home: Path):
    common = write_docs(tmp_path / "common")
    folders = []
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        for n in range(6):
            (folder / f"{name}-{n}.md").write_text(
                f"# Decision {name} {n}\n\n## Context\n\nWe compare option {n} of team {name} for caching and queues.\n\n"
                f"## Decision\n\nTeam {name} picks option {n} because it is simpler to operate.\n")
        folders.append(folder)
    env = {**os.environ, "DRAFTPAD_HOME": str(draftpad_home), "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-m", "assistant.cli", "library", "add", str(folder), str(common)],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for folder in folders]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    db = draftpad_home / "draftpad.db"
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    paths = [r[0] for r in conn.execute("SELECT path FROM library_documents")]
    orphans = conn.execute("SELECT count(*) FROM library_sections s LEFT JOIN library_documents d "
                           "ON d.id = s.document_id WHERE d.id IS NULL").fetchone()[0]
    conn.close()
    assert len(paths) == len(set(paths)) == 15 and orphans == 0
    lib = open_library(db)
    try:
        assert lib.messages == []  # the index file the last writer left agrees with the database
        assert lib.vectors.index.ntotal == lib.stats()["chunks"]
        assert lib.search("team two option 3", k=1)[0].path.endswith("two-3.md")
    finally:
        lib.close()


@pytest.mark.real_model  # loads the MiniLM embedding model
def test_bench_library_prints_recall_and_latency_rows(capsys, tmp_path: Path):
    docs = write_docs(tmp_path / "docs")
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"query": "refund of the deposit when moving out", "expect": "leases/flat-lease.txt"})
                       + "\n" + json.dumps({"query": "durable queue for outgoing email", "expect": "0002-message-queue.md"})
                       + "\n")
    code, out, err = run(capsys, "bench-library", "--corpus", str(docs), "--queries", str(queries),
                         "--scale", "60", "--rounds", "1")
    assert code == 0, err
    assert "import: 3 documents" in out and "docs/s" in out
    recall = [line.split() for line in out.splitlines() if line.startswith("q.jsonl ")]
    assert recall == [["q.jsonl", "2", "1.00", "1.00", "1.00", "1.000"]]
    rows = [line.split() for line in out.splitlines() if line.startswith(("real ", "scaled "))]
    assert [r[0] for r in rows] == ["real", "scaled"]
    assert int(rows[1][2]) >= 60 and int(rows[1][1]) > int(rows[0][1])  # the scaled copy is bigger
