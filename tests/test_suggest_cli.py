"""`draftpad suggest` and the library glue of the suggestions' n-gram store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import main


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAFTPAD_CACHE", str(tmp_path / "cache"))


class FakeLibrary:
    """Stands in for retrieval.library.Library: only the two methods suggestions use."""

    sections: list[str] = []
    closed = 0

    def all_section_texts(self):
        yield from list(self.sections)

    def close(self) -> None:
        FakeLibrary.closed += 1


@pytest.fixture
def fake_library(monkeypatch: pytest.MonkeyPatch) -> type[FakeLibrary]:
    import retrieval.library

    FakeLibrary.sections, FakeLibrary.closed = [], 0
    monkeypatch.setattr(retrieval.library, "open_library", lambda *a, **kw: FakeLibrary())
    return FakeLibrary


def test_suggest_json(tiny_model_dir: Path, capsys: pytest.CaptureFixture, fake_library) -> None:
    fake_library.sections = ["We need a durable store for events.", "The team knows SQL."]
    code = main(["suggest", "We need a durable store", "-k", "3", "--tokens", "6", "--json", "--alpha", "0.3",
                 "--model", str(tiny_model_dir)])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) == {"suggestions", "seconds"} and out["seconds"] > 0
    texts = [s["text"] for s in out["suggestions"]]
    assert len(texts) == 3 and len({t.strip() for t in texts}) == 3
    assert all(isinstance(s["score"], float) for s in out["suggestions"])
    assert fake_library.closed == 1  # with an n-gram weight, the library was read (and closed)


def test_suggest_without_ngram_weight_skips_the_library(tiny_model_dir: Path, capsys: pytest.CaptureFixture,
                                                        fake_library) -> None:
    assert main(["suggest", "We need a durable store", "--tokens", "4", "--json", "--alpha", "0",
                 "--model", str(tiny_model_dir)]) == 0
    assert len(json.loads(capsys.readouterr().out)["suggestions"]) == 3
    assert fake_library.closed == 0


def test_suggest_plain_output_and_stdin(tiny_model_dir: Path, capsys: pytest.CaptureFixture,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("The monthly rent is"))
    assert main(["suggest", "-", "-k", "2", "--tokens", "4", "--no-library", "--model", str(tiny_model_dir)]) == 0
    captured = capsys.readouterr()
    assert [line[:3] for line in captured.out.splitlines()] == ["1. ", "2. "]
    assert "2 suggestions" in captured.err


def test_suggest_in_a_section_reads_the_document_and_section_titles(tiny_model_dir: Path, draftpad_home: Path,
                                                                    capsys: pytest.CaptureFixture,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.drafting as drafting

    session = drafting.new_session("adr-nygard", values={"title": "Use PostgreSQL"})
    seen = []
    monkeypatch.setattr(drafting, "suggest", lambda lm, text, **kw: seen.append(kw["heading"]) or [])
    assert main(["suggest", "We will", "--section", str(session.id), "4", "--model", str(tiny_model_dir)]) == 0
    assert seen == [f"# {session.title}\n\n## {session.section(4).title}\n\n"]
    assert main(["suggest", "We will", "--section", str(session.id), "9", "--model", str(tiny_model_dir)]) == 2
    assert "has no section 9" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["suggest", "   "], "the text is empty"),
    (["suggest", "text", "-k", "0"], "-k must be"),
    (["suggest", "text", "--tokens", "0"], "--tokens must be"),
    (["suggest", "text", "--alpha", "1.5"], "--alpha must be"),
])
def test_suggest_bad_input_is_one_line_error(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("draftpad: error: ") and message in err and "Traceback" not in err


def test_store_grows_as_documents_are_imported(tiny_model_dir: Path, fake_library) -> None:
    from engine import load_model
    from assistant.drafting.suggestions import refresh_store

    lm = load_model(str(tiny_model_dir))
    fake_library.sections = ["That I am the deponent herein.", "Verified at Pune."]
    first = refresh_store(lm)
    fake_library.sections = fake_library.sections + ["The security deposit shall be refunded."]
    second = refresh_store(lm)
    assert second.added == 1 and second.known == first.known + 1 and second.entries > first.entries
    assert refresh_store(lm).added == 0


def test_editor_lookups_build_the_store_once_then_throttle(tiny_model_dir: Path, fake_library,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.drafting.suggestions as suggestions
    from engine import load_model

    lm = load_model(str(tiny_model_dir))
    fake_library.sections = ["The monthly rent is payable in advance."]
    first = suggestions.ngram_for(lm, "typed text")
    assert suggestions.store_path(lm).is_file() and not first.empty and len(first.tables) == 2
    fake_library.sections = fake_library.sections + ["The Lessee shall not sublet."]
    suggestions.ngram_for(lm)  # within REFRESH_EVERY: the new section is not counted yet
    assert suggestions.refresh_store(lm).added == 1
    monkeypatch.setattr(suggestions, "REFRESH_EVERY", 0.0)
    fake_library.sections = fake_library.sections + ["Verified at Pune."]
    suggestions.ngram_for(lm)
    assert suggestions.refresh_store(lm).added == 0  # the throttled lookup already counted it
