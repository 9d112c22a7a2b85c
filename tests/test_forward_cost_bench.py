"""The engine's bench modes: `--forward-cost`, `--prefix-reuse` and the llama.cpp peer rows."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from assistant.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def llama_server_binary() -> str | None:
    return os.environ.get("LLAMA_SERVER") or shutil.which("llama-server")


def test_forward_cost_table_against_the_linear_floor(tiny_model_dir: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cost.json"
    assert main(["bench", "--forward-cost", "--model", str(tiny_model_dir), "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "own/floor" in table and "HF/floor" in table
    rows = json.loads(out.read_text())["forward_cost"]
    assert [r["width"] for r in rows] == [1, 4, 16, 32]
    assert all(r["floor_ms"] > 0 and r["own_ms"] > 0 and r["hf_ms"] > 0 and r["own_floor_ms"] > 0 for r in rows)


def test_prefix_reuse_reuses_all_but_the_new_word(tiny_model_dir: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "reuse.json"
    assert main(["bench", "--prefix-reuse", "--model", str(tiny_model_dir), "--json", str(out)]) == 0
    assert "median ratio" in capsys.readouterr().out
    rows = json.loads(out.read_text())["prefix_reuse"]
    assert rows
    for row in rows:
        # the first request's tokens come from the cache (bar the last one or two, which the new word's
        # leading space may merge with); only the new word's tokens run
        assert row["tokens"] - 2 <= row["reused"] < row["then_tokens"]


def test_llama_server_rows_need_the_binary_and_a_gguf(tiny_model_dir: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "--llama-server", str(tmp_path / "nope"), "--model", str(tiny_model_dir),
                 "--max-new-tokens", "4"]) != 0
    assert "llama-server not found" in capsys.readouterr().err
    fake = tmp_path / "llama-server"
    fake.write_text("#!/bin/sh\nexit 1\n")
    assert main(["bench", "--llama-server", str(fake), "--model", str(tiny_model_dir), "--max-new-tokens", "4"]) != 0
    err = capsys.readouterr().err
    assert "GGUF" in err and "Traceback" not in err


@pytest.mark.parametrize("script, reason", [
    ("echo 'loading model' >&2; echo 'error: unknown argument: -tb' >&2; exit 1", "error: unknown argument: -tb"),
    ("kill -SEGV $$", "killed by SIGSEGV"),
    ("exit 3", "exit status 3, no message"),
])
def test_a_llama_server_that_fails_at_start_is_named_with_its_reason(tmp_path: Path, script: str,
                                                                     reason: str) -> None:
    from assistant.bench.llama_server import LlamaServer
    from engine.errors import UserError

    fake = tmp_path / "llama-server"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    server = LlamaServer(fake, tmp_path / "model.gguf", 1)
    with pytest.raises(UserError, match="llama.cpp exited at start: " + reason):
        server.start()
    server.stop()


@pytest.mark.skipif(llama_server_binary() is None, reason="llama-server not found (set LLAMA_SERVER or PATH)")
def test_llama_server_completes_token_ids_greedily() -> None:
    from assistant.bench.llama_server import LlamaServer
    from engine.loading import default_gguf

    resolved = default_gguf()
    server = LlamaServer(Path(llama_server_binary()), Path(resolved.location) / str(resolved.gguf_file), 1)
    server.start()
    try:
        ids = [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 30, 2]  # any valid ids of the vocabulary
        first, seconds = server.complete(ids, 8)
        again, _ = server.complete(ids, 8)
    finally:
        server.stop()
    assert 1 <= len(first) <= 8 and seconds > 0
    assert first == again  # greedy: the same tokens every time


def test_sampled_forwards_time_both_formats_at_each_width(tiny_model_dir) -> None:
    """The stand-in forwards --dtype auto weighs fp32 against fp16 copies with: a few layers of
    each, timed at every width, and the model left as it was."""
    import torch

    import engine
    from engine.forward_cost import time_sampled_forwards

    lm = engine.load_model(str(tiny_model_dir), forward="hf")
    before = [p.clone() for p in lm.model.parameters()]
    times = time_sampled_forwards(lm.model, None, (1, 3), repeats=2)
    assert set(times) == {"forward-fp32", "forward-fp16"}
    assert all(len(v) == 2 and all(t > 0 for t in v) for v in times.values())
    assert all(torch.equal(a, b) for a, b in zip(before, lm.model.parameters()))  # nothing rounded or re-pointed
