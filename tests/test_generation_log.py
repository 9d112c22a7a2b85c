"""The generation log: every model call's prompt and response in SQLite, readable and switchable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import drafting
from assistant.drafting.generation_log import open_log
from engine.generation import GenerationResult
from engine.stats import GenerationStats
from tests.test_cli_model import assert_clean_error

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why PostgreSQL?"}]


@pytest.fixture
def result() -> GenerationResult:
    return GenerationResult("Because the team knows SQL.", [1, 2, 3],
                            GenerationStats(method="auto", prompt_tokens=9, new_tokens=3, seconds=0.5, stop_reason="eos"))


def test_record_list_search_and_show(tmp_path: Path, result: GenerationResult) -> None:
    log = open_log(tmp_path / "db.sqlite")
    first = log.record("generate", None, MESSAGES, result)
    second = log.record("draft", None, "plain prompt", GenerationResult("Other text.", []), session_id=4,
                        section="Context")
    assert [e.id for e in log.recent()] == [second, first]  # newest first
    assert [e.id for e in log.recent(search="team knows")] == [first]
    entry = log.get(first)
    assert (entry.kind, entry.method, entry.new_tokens, entry.stop_reason) == ("generate", "auto", 3, "eos")
    assert entry.prompt_text() == "system: Be brief.\n\nuser: Why PostgreSQL?"
    assert log.get(second).prompt_text() == "plain prompt" and log.get(second).section == "Context"
    assert log.get(999) is None


def test_off_stops_recording_and_survives_reopening(tmp_path: Path, result: GenerationResult,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "db.sqlite"
    log = open_log(path)
    log.set_enabled(False)
    assert log.record("generate", None, MESSAGES, result) is None
    log.close()
    log = open_log(path)
    assert not log.enabled and log.count() == 0
    log.set_enabled(True)
    monkeypatch.setenv("DRAFTPAD_LOG", "0")  # the environment wins over the stored setting
    assert not log.enabled and log.record("generate", None, MESSAGES, result) is None
    monkeypatch.delenv("DRAFTPAD_LOG")
    assert log.record("generate", None, MESSAGES, result) is not None


def test_planning_and_drafting_are_logged_with_their_session(tiny_model_dir: Path) -> None:
    from engine.loading import load_model

    lm = load_model(str(tiny_model_dir))
    sid = drafting.new_session("adr-nygard", values={"title": "T", "context": "Flat files lose events.",
                                                     "decision": "Use PostgreSQL."}).id
    drafting.plan(sid, lm, max_new_tokens=8, use_library=False)
    drafting.draft_all(sid, lm, max_new_tokens=6, use_library=False)
    log = open_log()
    entries = list(reversed(log.recent()))
    assert [e.kind for e in entries] == ["plan", "draft", "draft", "draft"]
    assert all(e.session_id == sid and e.model == lm.identity for e in entries)
    assert [e.section for e in entries[1:]] == [s.title for s in drafting.get_session(sid).sections[1:]]
    # what was stored as the section is what the model answered (after cleaning), never lost
    assert "Flat files lose events." in entries[1].prompt_text()


def test_cli_logs_generate_then_reads_back(cli, tiny_model_dir: Path) -> None:
    generated = cli("generate", "Use PostgreSQL", "--model", str(tiny_model_dir), "--max-new-tokens", "6", "--json")
    assert generated.returncode == 0, generated.stderr
    text = json.loads(generated.stdout.strip().splitlines()[-1])["text"]
    listed = cli("logs", "--json")
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)
    assert entry["kind"] == "generate" and entry["response"] == text and "Use PostgreSQL" in entry["prompt"]
    shown = cli("logs", "show", str(entry["id"]))
    assert "--- prompt\nuser: Use PostgreSQL" in shown.stdout and "--- response" in shown.stdout
    assert cli("logs", "off").stdout.strip() == "logging is off"
    cli("generate", "Again", "--model", str(tiny_model_dir), "--max-new-tokens", "4")
    assert "1 entries" in cli("logs", "status").stdout
    assert_clean_error(cli("logs", "show", "999"), "no log entry 999")
    assert_clean_error(cli("logs", "show"), "needs the entry's number")
