"""Issue 15's fuzz test of the CLI: random values for the real commands' arguments and fields, and
random bytes as imported files. Never a traceback (DRAFTPAD_DEBUG=1 lets any unexpected exception
escape, so hypothesis reports it), exit status 0, 1 or 2, and nothing already saved is lost.

Not covered here: `plan`/`draft` with a model (the model load is stubbed to a refusal, so their
argument handling is fuzzed up to it) and `export`, whose overwrite rules are being changed apart.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import drafting
from assistant.cli import drafting as cli_drafting
from assistant.cli import main
from engine.errors import UserError
from engine.paths import database_path

# Text a shell could pass: anything but NUL, with the odd option-looking and number-looking value.
TEXT = st.one_of(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40),
                 st.sampled_from(["--", "-1", "0", "1", "2", "99999999999999999999", "1e3", " ", "=", "a=b", "title=x",
                                  "rent=abc", "start_date=2025-02-30", "--all", "-h"]))
NUMBER = st.one_of(st.integers(-3, 12).map(str), TEXT)
TEMPLATES = ["adr-nygard", "adr-madr", "in-rent-agreement", "nope"]


def _argv(session: str) -> st.SearchStrategy[list[str]]:
    sid = st.one_of(st.just(session), NUMBER)
    sets = st.lists(TEXT, max_size=3).map(lambda values: [arg for value in values for arg in ("--set", value)])
    return st.one_of(
        st.tuples(st.just("new"), st.sampled_from(TEMPLATES), sets,
                  st.sampled_from([[], ["--title", "T"], ["--variant", "minimal"], ["--json"]])).map(
            lambda t: [t[0], t[1], *t[2], *t[3]]),
        st.tuples(st.just("set"), sid, st.lists(TEXT, min_size=1, max_size=3)).map(lambda t: [t[0], t[1], *t[2]]),
        st.tuples(st.just("outline"), sid, st.sampled_from(["--add", "--remove", "--move", "--rename", "--at", ""]),
                  st.lists(TEXT | NUMBER, max_size=2)).map(lambda t: [t[0], t[1], *([t[2]] if t[2] else []), *t[3]]),
        st.tuples(st.sampled_from(["accept", "history", "edit"]), sid, NUMBER).map(list),
        st.tuples(st.just("revert"), sid, NUMBER, NUMBER).map(list),
        st.tuples(st.sampled_from(["show", "validate"]), sid, st.sampled_from([[], ["--json"]])).map(
            lambda t: [t[0], t[1], *t[2]]),
        st.tuples(st.just("draft"), sid, st.sampled_from([["--all"], ["--section"], []]), st.lists(NUMBER, max_size=1),
                  st.sampled_from([[], ["--max-new-tokens", "-5"], ["--no-library", "--quiet"]])).map(
            lambda t: [t[0], t[1], *t[2], *t[3], *t[4]]),
        st.tuples(st.just("plan"), sid, st.sampled_from([[], ["--max-new-tokens", "0"]])).map(lambda t: [t[0], t[1], *t[2]]),
        st.tuples(st.sampled_from(["sessions", "templates"]), st.lists(TEXT, max_size=2)).map(lambda t: [t[0], *t[1]]),
        st.tuples(st.just("logs"), st.sampled_from(["list", "show", "status", "bogus"]), st.lists(NUMBER, max_size=1)).map(
            lambda t: [t[0], t[1], *t[2]]),
    )


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help exits 0
        return int(exc.code or 0)


def _versions() -> dict[int, str]:
    with sqlite3.connect(database_path()) as conn:
        return dict(conn.execute("SELECT id, text FROM drafting_versions").fetchall())


@pytest.fixture
def fuzz_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("DRAFTPAD_DEBUG", "1")  # an unexpected exception escapes instead of becoming exit 1
    monkeypatch.setenv("DRAFTPAD_LOG", "0")

    def no_model(args: object) -> object:
        raise UserError("no model in the fuzz test")

    monkeypatch.setattr(cli_drafting, "_load", no_model)
    text = tmp_path / "editor-text.md"
    text.write_text("Text from the fuzzed editor.", encoding="utf-8")
    monkeypatch.setenv("EDITOR", f"cp {text}")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False, raising=False)
    return tmp_path


def test_fuzzed_arguments_never_crash_and_never_lose_saved_text(fuzz_env: Path, capsys: pytest.CaptureFixture[str]):
    session = drafting.new_session("adr-nygard", values={"title": "Kept", "context": "c", "decision": "d"})
    drafting.edit_section(session.id, session.sections[1].id, "Saved before the fuzzing.")

    @settings(max_examples=120, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(argv=_argv(str(session.id)))
    def check(argv: list[str]) -> None:
        before = _versions()
        code = _run(argv)
        out, err = capsys.readouterr()
        assert code in (0, 1, 2), (argv, code, err)
        assert "Traceback" not in err and "Traceback" not in out, (argv, err)
        if code == 1:
            assert argv[0] == "validate" or "draftpad: error" not in err, (argv, err)  # 1 only for findings
        after = _versions()
        assert all(after.get(vid) == text for vid, text in before.items()), argv  # append-only, whatever ran

    check()
    context = session.sections[1].id
    assert drafting.history(session.id, context)[0].text == "Saved before the fuzzing."


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".md", ".txt", ".pdf", ".docx", ".html", ".bin", ""]))
def test_random_bytes_as_imported_files_are_skipped_or_imported_never_a_crash(
        data: bytes, suffix: str, fuzz_env: Path, capsys: pytest.CaptureFixture[str]):
    path = fuzz_env / f"random{suffix}"
    path.write_bytes(data)
    code = _run(["library", "add", str(path)])
    _, err = capsys.readouterr()
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err, err
    assert _run(["library", "list"]) == 0
    capsys.readouterr()
