"""The drafting CLI commands, run in-process (no model needed for these)."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from assistant.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def new_adr(capsys: pytest.CaptureFixture[str]) -> int:
    code, out, _ = run(capsys, "new", "adr-nygard", "--title", "Events", "--set", "title=Use PostgreSQL",
                       "--set", "context=Flat files lose events.", "--set", "decision=Store events in PostgreSQL.", "--json")
    assert code == 0
    return json.loads(out)["id"]


def test_templates_list_and_show(capsys: pytest.CaptureFixture[str]):
    code, out, _ = run(capsys, "templates")
    assert code == 0 and out.splitlines()[0].startswith("adr-madr") and "in-rent-agreement" in out
    code, out, _ = run(capsys, "templates", "show", "in-rent-agreement")
    assert code == 0 and "term_months" in out and "Schedule of Property [fixed, required]" in out
    code, _, err = run(capsys, "templates", "show", "nope")
    assert code == 2 and err.startswith("draftpad: error: no template 'nope'")


def test_new_outline_show_history_revert_validate(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    sid = new_adr(capsys)
    code, out, _ = run(capsys, "outline", str(sid), "--add", "Alternatives", "--at", "4")
    assert out.splitlines()[3].endswith("[planned] Alternatives")
    run(capsys, "outline", str(sid), "--rename", "4", "Options")
    code, out, _ = run(capsys, "outline", str(sid), "--move", "4", "2")
    assert [line.split("] ")[1] for line in out.splitlines()] == ["Status", "Options", "Context", "Decision", "Consequences"]
    run(capsys, "outline", str(sid), "--remove", "2")
    code, _, err = run(capsys, "outline", str(sid), "--remove", "9")
    assert code == 2 and "has no section 9" in err

    code, _, err = run(capsys, "draft", str(sid), "--section", "1")  # fixed: no model is loaded
    assert code == 0 and "from the template" in err
    editor = tmp_path / "editor.py"
    editor.write_text("import sys\nopen(sys.argv[1], 'a').write('Flat files lose events.')\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDITOR", f"{sys.executable} {editor}")
        code, out, _ = run(capsys, "edit", str(sid), "2")
        assert code == 0 and "as version 1" in out
        code, out, _ = run(capsys, "edit", str(sid), "2")
        assert "as version 2" in out
    code, out, _ = run(capsys, "history", str(sid), "2")
    assert [line.split()[0] for line in out.splitlines()] == ["v1", "v2"] and " edited " in out
    code, out, _ = run(capsys, "revert", str(sid), "2", "1")
    assert "version 3 (a copy of version 1)" in out
    code, out, _ = run(capsys, "accept", str(sid), "2")
    assert code == 0

    code, out, _ = run(capsys, "validate", str(sid), "--json")
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    assert {(f["code"], f["section"]) for f in report["findings"]} == {("not_drafted", 3), ("not_drafted", 4)}
    code, out, _ = run(capsys, "show", str(sid), "--json")
    shown = json.loads(out)
    assert shown["sections"][1] == {"position": 2, "title": "Context", "status": "accepted", "version": 3,
                                    "text": "Flat files lose events."}
    code, out, _ = run(capsys, "sessions")
    assert out.split()[0] == str(sid) and "2/4 drafted, 1 accepted" in out


def test_failing_editor_keeps_the_text(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    sid = new_adr(capsys)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDITOR", "false")
        code, _, err = run(capsys, "edit", str(sid), "2")
    assert code == 2 and "your text is kept in" in err
    Path(err.rsplit(" ", 1)[1].strip()).unlink()


def test_bad_arguments_are_one_line_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    code, _, err = run(capsys, "new", "adr-nygard", "--set", "novalue")
    assert code == 2 and err == "draftpad: error: --set needs name=value, got 'novalue'\n"
    code, _, err = run(capsys, "draft", "77", "--all")
    assert code == 2 and err == "draftpad: error: no session 77 (see `draftpad sessions`)\n"
    sid = new_adr(capsys)
    code, _, err = run(capsys, "draft", str(sid))
    assert code == 2 and err == "draftpad: error: say which: N (or --section N), or --all\n"
    code, _, err = run(capsys, "draft", str(sid), "1", "--all")
    assert code == 2 and err == "draftpad: error: say which once: N, --section N or --all\n"
    # N alone, as accept and edit take it: Status is filled from the template, no model needed
    code, _, err = run(capsys, "draft", str(sid), "1")
    assert code == 0 and "section 1 'Status' v1: from the template" in err
    code, out, _ = run(capsys, "export", str(sid), "--format", "md", "-o", str(tmp_path / "a.md"))
    assert code == 0 and Path(out.strip()).read_text().startswith("# Use PostgreSQL\n")


def test_draft_all_of_sections_written_from_facts_loads_no_model(capsys: pytest.CaptureFixture[str]):
    code, out, _ = run(capsys, "new", "adr-nygard", "--set", "title=Use PostgreSQL", "--set",
                       "context=Flat files lose events.", "--set", "decision=Store events in PostgreSQL.",
                       "--set", "consequences=Operations must run a database.", "--json")
    sid = json.loads(out)["id"]
    # a model that does not exist: loading it would fail, so this passing means none was loaded
    code, _, err = run(capsys, "draft", str(sid), "--all", "--quiet", "--model", "/no/such/model.gguf")
    assert code == 0 and err.count("from your facts") == 3 and "from the template" in err
    code, out, _ = run(capsys, "show", str(sid), "--json")
    texts = [s["text"] for s in json.loads(out)["sections"]]
    assert texts[1:] == ["Flat files lose events.", "Store events in PostgreSQL.", "Operations must run a database."]
    code, _, err = run(capsys, "draft", str(sid), "--section", "2", "--extend", "--model", "/no/such/model.gguf")
    assert code != 0 and "model.gguf" in err  # asked to add to the facts, it needs the model


def test_draft_all_names_the_optional_sections_it_leaves(capsys: pytest.CaptureFixture[str]):
    code, out, _ = run(capsys, "new", "adr-madr", "--set", "title=Use Kafka", "--set", "context=Checkout times out.",
                       "--set", "options=Kafka; HTTP", "--set", "chosen=Kafka", "--set", "because=it decouples",
                       "--json")
    sid = json.loads(out)["id"]
    for _ in range(2):  # the second time nothing is drafted, and the message still says why
        code, _, err = run(capsys, "draft", str(sid), "--all", "--quiet", "--model", "/no/such/model.gguf")
        assert code == 0 and "left for you" in err and "6 'Consequences'" in err and "9 'More Information'" in err
        assert f"draftpad draft {sid} N" in err and "nothing to draft" not in err


def test_a_draft_with_nothing_usable_says_so_and_what_to_do(capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch):
    from assistant.cli import drafting as cli_drafting
    from assistant.drafting import examples, model_calls, prompts
    from tests.fixtures_drafting import Scripted

    monkeypatch.setattr(cli_drafting, "_load", lambda args: object())
    monkeypatch.setattr(model_calls, "generate", Scripted([prompts.PLAIN_RULE]))  # an echo, dropped twice
    monkeypatch.setattr(examples, "open_library", lambda: None)
    sid = new_adr(capsys)
    code, _, err = run(capsys, "draft", str(sid), "4", "--quiet")
    assert code == 0
    assert "[the first draft was unusable: trying once more]" in err
    assert "section 4 'Consequences' v1:" in err and "nothing usable was written, so the section is empty" in err


def test_a_draft_whose_checks_dropped_a_streamed_sentence_says_so(capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch):
    from assistant.cli import drafting as cli_drafting
    from assistant.drafting import examples, model_calls, prompts
    from tests.fixtures_drafting import Scripted

    kept = "Operations must now back up and upgrade a PostgreSQL server for the events."
    monkeypatch.setattr(cli_drafting, "_load", lambda args: object())
    monkeypatch.setattr(model_calls, "generate", Scripted([f"{kept} {prompts.PLAIN_RULE}"]))
    monkeypatch.setattr(examples, "open_library", lambda: None)
    sid = new_adr(capsys)
    code, out, err = run(capsys, "draft", str(sid), "4")
    assert code == 0 and prompts.PLAIN_RULE in out  # it streamed
    assert f"the checks left out 1 sentence of what streamed (`draftpad show {sid}`" in err
    code, out, _ = run(capsys, "show", str(sid), "--json")
    assert prompts.PLAIN_RULE not in json.loads(out)["sections"][3]["text"]
