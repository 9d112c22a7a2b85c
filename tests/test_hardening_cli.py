"""Issue 15 item 5: Ctrl-C during `draftpad draft` keeps the text streamed so far, as a version."""

from __future__ import annotations

import os
import signal
import time

import pytest

from assistant import drafting
from assistant.cli import drafting as cli_drafting
from assistant.cli import main
from assistant.drafting import model_calls
from engine import GenerationResult, GenerationStats

ADR = {"title": "Use SQLite", "context": "c", "decision": "d"}
STREAMED = "We will keep every draft in one SQLite file because"


def test_ctrl_c_during_draft_keeps_the_streamed_text(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]):
    session = drafting.new_session("adr-nygard", values=ADR)
    target = next(s for s in session.sections if drafting.needs_model(session.id, s.id))
    seen: dict[str, object] = {}

    def generate(lm, messages, config, on_text=None, cancel=None, **kwargs):
        on_text(STREAMED)
        os.kill(os.getpid(), signal.SIGINT)  # the person presses Ctrl-C while the model writes
        deadline = time.monotonic() + 5
        while not (cancel is not None and cancel.is_set()) and time.monotonic() < deadline:
            time.sleep(0.01)
        seen["cancelled"] = cancel is not None and cancel.is_set()
        return GenerationResult(STREAMED, [], GenerationStats(new_tokens=9, stop_reason="cancelled"))

    monkeypatch.setattr(model_calls, "generate", generate)
    monkeypatch.setattr(cli_drafting, "_load", lambda args: object())
    before = signal.getsignal(signal.SIGINT)
    code = main(["draft", str(session.id), "--section", str(target.position), "--no-library"])
    err = capsys.readouterr().err
    assert seen["cancelled"] is True
    assert code == 130 and "partial text is kept as v1" in err
    stored = drafting.get_session(session.id).by_id(target.id).current
    assert stored is not None and "SQLite file" in stored.text and stored.stats["stop_reason"] == "cancelled"
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back
