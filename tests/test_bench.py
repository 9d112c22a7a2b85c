"""`draftpad bench`: prompt file validation, the table and the JSON, on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.bench import DEFAULT_PROMPTS
from assistant.bench.decoding import load_prompts, parse_methods
from assistant.cli import main
from engine.errors import UserError


def test_shipped_prompts_parse() -> None:
    prompts = load_prompts(DEFAULT_PROMPTS)
    assert len(prompts) >= 8
    assert len({p.id for p in prompts}) == len(prompts)


def test_unreadable_prompt_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "nope.jsonl"
    assert main(["bench", "--prompts", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("draftpad: error: cannot read prompt file") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("line, why", [
    ('{"id": "a", "prompt": "x"', "not valid JSON"),
    ('["a"]', "expected a JSON object"),
    ('{"id": "a"}', "needs 'messages'"),
    ('{"id": "a", "messages": [{"role": "user"}]}', "'messages' must be"),
    ('{"id": "a", "prompt": "x", "max_new_tokens": 0}', "max_new_tokens"),
    ('{"id": "a", "prompt": "x", "references": "text"}', "'references' must be"),
])
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, why: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "ok", "prompt": "fine"}\n\n' + line + "\n")
    with pytest.raises(UserError, match=why) as caught:
        load_prompts(path)
    assert f"{path}:3:" in str(caught.value)


def test_unknown_method_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown method"):
        parse_methods("greedy,warp", {"greedy", "auto"})
    assert parse_methods("auto", {"auto"}) == ["hf-greedy", "auto"]


def test_bench_table_and_json_on_tiny_model(tiny_model_dir: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        json.dumps({"id": "lease", "prompt": "THIS DEED OF LEASE is made between the LESSOR and"}) + "\n"
        + json.dumps({"id": "adr", "messages": [{"role": "user", "content": "## Decision\nWe will use"}],
                      "max_new_tokens": 6, "references": ["We will use PostgreSQL with an append-only table."]})
        + "\n")
    out = tmp_path / "bench.json"
    code = main(["bench", "--prompts", str(prompts), "--max-new-tokens", "8", "--model", str(tiny_model_dir),
                 "--json", str(out)])
    assert code == 0
    table = capsys.readouterr().out
    for method in ("hf-greedy", "hf-prompt-lookup", "greedy", "recycling", "auto", "auto (cold table)"):
        assert f"\n{method} " in table
    data = json.loads(out.read_text())
    assert data["dtype"] == "float32" and data["device"] == "cpu"
    rows = {r["method"]: r for r in data["rows"]}
    assert set(rows["auto"]) >= {"method", "median_tok_s", "speedup_vs_hf_greedy", "tokens_per_forward",
                                 "identical", "prompts"}
    assert rows["hf-greedy"]["speedup_vs_hf_greedy"] == 1.0 and rows["hf-greedy"]["prompts"] == 2
    # every method decodes the same tokens as transformers' own greedy generate
    assert all(r["identical"] == 2 for r in data["rows"]), data["rows"]
