"""The suggestions bench: its metrics, and one small run end to end on a tiny model."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
import torch

from assistant.bench.suggest import distinct_n, load_prompts, perplexity, run_suggest_bench


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAFTPAD_CACHE", str(tmp_path / "cache"))


def test_distinct_n() -> None:
    assert distinct_n([[1, 2, 3], [1, 2, 4]], 1) == pytest.approx(4 / 6)
    assert distinct_n([[1, 2, 3], [1, 2, 4]], 2) == pytest.approx(3 / 4)
    assert distinct_n([[1, 2], [1, 2]], 2) == 0.5
    assert distinct_n([[1]], 2) == 0.0


def test_perplexity_matches_a_manual_computation(tiny_model_dir: Path) -> None:
    from engine import load_model

    lm = load_model(str(tiny_model_dir))
    prompt, cont = [5, 6, 7], [8, 9]
    with torch.no_grad():
        logp = torch.log_softmax(lm.model(input_ids=torch.tensor([prompt + cont])).logits[0].float(), -1)
    manual = math.exp(-(logp[2, 8] + logp[3, 9]).item() / 2)
    assert perplexity(lm, prompt, cont) == pytest.approx(manual, rel=1e-4)


def test_shipped_prompts_load_and_are_partial_sections() -> None:
    prompts = load_prompts(None)
    assert len(prompts) >= 6 and len({p.id for p in prompts}) == len(prompts)
    assert all(p.text.strip() and not p.text.endswith("\n") for p in prompts)


def test_bench_runs_end_to_end(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"id": "lease", "text": "The monthly rent is"}) + "\n"
                       + json.dumps({"id": "adr", "prompt": "We need a durable store"}) + "\n")
    out_file = tmp_path / "out.json"
    args = argparse.Namespace(prompts=prompts, model=str(tiny_model_dir), device="cpu", dtype="fp32", json=False,
                              json_out=out_file, k=3, suggest_tokens=4, rounds=1, alpha=None)
    assert run_suggest_bench(args) == 0
    table = capsys.readouterr().out
    assert "superposed/greedy" in table and "lease" in table and "adr" in table
    report = json.loads(out_file.read_text())
    assert [p["id"] for p in report["prompts"]] == ["lease", "adr"]
    for row in report["prompts"]:
        assert len(row["superposed"]["texts"]) == 3 and len(row["sequential"]["texts"]) == 3
        assert len(row["batched"]["texts"]) == 3 and len(row["greedy"]["texts"]) == 1
        assert all(row[m]["seconds"] > 0 for m in ("superposed", "greedy", "sequential", "batched"))
    assert report["summary"]["superposed_vs_greedy_time"] > 0


def test_bad_prompts_file_is_a_user_error(tmp_path: Path) -> None:
    from engine.errors import UserError

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    with pytest.raises(UserError, match="line 1"):
        load_prompts(bad)
    with pytest.raises(UserError, match="cannot read"):
        load_prompts(tmp_path / "missing.jsonl")


def test_corpus_excerpts_end_mid_line_and_are_repeatable(tmp_path: Path) -> None:
    from assistant.bench.suggest import corpus_excerpts
    from engine.errors import UserError

    for n in range(4):
        body = " ".join(f"word{n}x{i}" for i in range(400))
        (tmp_path / f"doc{n}.md").write_text(f"# Title {n}\n\n{body}\n", encoding="utf-8")
    (tmp_path / "short.md").write_text("too short", encoding="utf-8")
    first = corpus_excerpts(tmp_path, 3)
    assert [p.text for p in first] == [p.text for p in corpus_excerpts(tmp_path, 3)]
    assert len({p.id for p in first}) == 3 and all(len(p.text) == 800 for p in first)
    assert all(not p.text.endswith(" ") and p.text.split()[-1].startswith("word") for p in first)
    with pytest.raises(UserError, match="only 4 excerpts"):
        corpus_excerpts(tmp_path, 5)
