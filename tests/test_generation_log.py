"""The generation log: every model call's prompt and response in SQLite, readable and switchable."""

from __future__ import annotations

import json
import re
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


# Clean, distinct answers of a few words each: nothing in them is dropped as a repeat or an echo.
ANSWERS = ["The Lessee shall keep the garden of the said Premises tidy every week.",
           "The Lessee may renew this lease by mutual consent.", "The Lessee may keep one small pet.",
           "The Lessee may park one car in the basement of the said Premises.",
           "The Lessee may have guests stay for at most two weeks.", "The Lessee shall not sublet the Premises."]


def test_planning_and_drafting_are_logged_with_their_session(tiny_model_dir: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.drafting import model_calls
    from engine.loading import load_model
    from tests.fixtures_drafting import RENT

    lm = load_model(str(tiny_model_dir))
    answers: list[GenerationResult] = []
    real = model_calls.generate

    def spy(lm, messages, config, **kwargs):
        # the tiny model really runs (its figures are logged); a draft's words are replaced by a known
        # answer, so what the log and the section hold can be compared with what "the model" said
        result = real(lm, messages, config, **kwargs)
        if answers:  # the first call plans; the rest draft
            result = GenerationResult(ANSWERS[len(answers) - 1], result.token_ids, result.stats)
        answers.append(result)
        return result

    monkeypatch.setattr(model_calls, "generate", spy)
    sid = drafting.new_session("in-rent-agreement", values=RENT).id
    drafting.plan(sid, lm, max_new_tokens=8, use_library=False)
    drafting.draft_all(sid, lm, max_new_tokens=6, use_library=False, extend=True)  # a lease's clauses need no model
    entries = list(reversed(open_log().recent()))
    drafted = [s for s in drafting.get_session(sid).sections if s.current.source == "generated"]
    assert len(drafted) >= 1 and len(answers) == 1 + len(drafted)  # one plan, one call per model section
    assert [e.kind for e in entries] == ["plan"] + ["draft"] * len(drafted)
    assert all(e.session_id == sid and e.model == lm.identity for e in entries)
    assert [e.section for e in entries[1:]] == [s.title for s in drafted]
    # the log holds each call's answer and figures; the stored section is the model's answer (placed
    # after the template's wording of a mixed section; among numbered clauses, as one: "9. That the
    # Lessee shall ..."), never lost
    assert [e.response for e in entries] == [a.text for a in answers]
    assert [e.new_tokens for e in entries] == [a.stats.new_tokens for a in answers]
    for entry, answer, section in zip(entries[1:], answers[1:], drafted):
        answer_text = answer.text.strip()
        as_clause = "That " + answer_text[0].lower() + answer_text[1:]
        assert section.text.endswith(answer_text) or re.search(r"\d+\. " + re.escape(as_clause) + r"$", section.text), (
            section.title, section.text)
        assert section.current.stats["new_tokens"] == entry.new_tokens
        assert RENT["lessor"] in entry.prompt_text()  # the facts reached the model


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
