"""Pure parts of the app (no Pilot): answer checks, diffs, export paths, saved place, buffers,
ghost-text clean-up, status text, and that the CLI and engine never load textual."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from assistant.app import buffers
from assistant.drafting.fields import check_all, check_answer
from assistant.app.widgets.ghost_text import one_line
from assistant.app.last_place import FILE_NAME, Place, load_place, save_place
from assistant.app.model_host import LastRun, ModelHost
from assistant.app.screens.export import default_path, with_format
from assistant.app.screens.versions import unified_diff
from assistant.app.stream_relay import StreamRelay
from assistant.app.widgets.status_bar import describe_last, describe_model

ROOT = Path(__file__).resolve().parents[1]


def spec(name: str, kind: str = "text", required: bool = True) -> SimpleNamespace:
    return SimpleNamespace(name=name, type=kind, required=required)


def test_answer_checks_by_type() -> None:
    assert check_answer(spec("title"), "") == "required"
    assert check_answer(spec("note", required=False), "  ") == ""
    assert check_answer(spec("term", "number"), "11") == ""
    assert check_answer(spec("term", "number"), "eleven") != ""
    assert check_answer(spec("rent", "money"), "Rs. 28,000") == ""
    assert check_answer(spec("rent", "money"), "₹ 1,00,000/-") == ""
    assert check_answer(spec("rent", "money"), "a lot") != ""
    for good in ("2025-04-01", "1 April 2025", "01/04/2025", "today"):
        assert check_answer(spec("date", "date"), good) == "", good
    assert check_answer(spec("date", "date"), "next week") != ""
    problems = check_all((spec("a"), spec("b", "number"), spec("c", required=False)), {"a": "x", "b": "y"})
    assert set(problems) == {"b"}


def test_unified_diff_and_export_paths(tmp_path: Path) -> None:
    diff = unified_diff("one\ntwo", "one\nthree", "v1", "v2")
    assert "-two" in diff and "+three" in diff and diff.startswith("--- v1")
    assert unified_diff("same", "same", "a", "b") == "(no difference)"
    assert default_path("Use SQLite: for state!", "md", tmp_path) == tmp_path / "use-sqlite-for-state.md"
    assert default_path("???", "docx", tmp_path).name == "document.docx"
    assert with_format("/x/adr.md", "docx") == "/x/adr.docx"
    assert with_format("/x/notes.txt", "docx") == "/x/notes.txt"


def test_place_round_trips_and_survives_damage(draftpad_home: Path) -> None:
    assert load_place() == Place()
    save_place(Place("editor", 3, "2", "nord"))
    assert load_place() == Place("editor", 3, "2", "nord")
    (draftpad_home / FILE_NAME).write_text("{not json")
    assert load_place() == Place()
    (draftpad_home / FILE_NAME).write_text(json.dumps({"screen": "library", "unknown": 1}))
    assert load_place() == Place("library")


def test_buffers_round_trip() -> None:
    assert buffers.read_buffer(7) is None
    buffers.write_buffer(7, "typed — not yet a version")
    assert buffers.read_buffer(7) == "typed — not yet a version"
    buffers.drop_buffer(7)
    assert buffers.read_buffer(7) is None
    buffers.drop_buffer(7)  # dropping twice is fine


def test_ghost_text_is_one_printable_line() -> None:
    assert one_line(" the rent\r\nis due") == " the rent"
    assert one_line("a\rb") == "a"
    assert one_line("x\x00y\x1bz") == "xyz"
    assert one_line("\nlater") == ""


def test_status_text() -> None:
    host = ModelHost("some/folder/llama")
    assert describe_model(host) == "llama (not loaded)"
    host.started_at = 100.0
    assert describe_model(host, now=103.0) == "loading llama … 3s"
    host.error = "no such model"
    assert describe_model(host) == "model failed: no such model"
    assert describe_last(host) == "no generation yet"
    host.begin("planning…")
    assert describe_last(host, now=host.activity_since + 2.2) == "planning… 2s"
    host.end()
    host.last = LastRun(42.0, 2.5, 10, 1.8)
    assert describe_last(host) == "42.0 tok/s · 2.50 tok/fwd · 1.80x speedup"
    host.record_dict({"tok_s": 10, "tokens_per_forward": 1, "new_tokens": 5, "method": "greedy"})
    assert describe_last(host) == "10.0 tok/s · 1.00 tok/fwd"
    # Speedup: decode speed (prefill left out) over the engine's plain-greedy estimate.
    stats = SimpleNamespace(tok_s=20.0, tokens_per_forward=3.0, new_tokens=30, method="recycling", seconds=1.5,
                            prefill_seconds=0.5, baseline_tok_s=15.0)
    assert host.record(stats).speedup == 2.0
    assert host.record_dict({"new_tokens": 30, "seconds": 1.5, "method": "greedy", "baseline_tok_s": 15}).speedup is None
    short = {"new_tokens": 13, "seconds": 1.5, "prefill_seconds": 0.5, "method": "auto", "baseline_tok_s": 15}
    assert host.record_dict(short).speedup is None  # too few tokens to say


def test_cli_and_engine_do_not_load_textual() -> None:
    code = ("import sys, assistant.cli as c; c.build_parser(); import engine, retrieval.library, assistant.drafting;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_planner_view_lists_titles_from_finished_lines() -> None:
    from assistant.app.screens.outline import planner_view

    view = planner_view("1. Context\n2. Decision drivers\n3. Opti").plain
    assert view.splitlines() == ["Proposed so far:", "  • Context", "  • Decision drivers", "3. Opti"]
    assert planner_view("Cont").plain == "Cont"


def test_streamed_text_is_relayed_in_order_without_waiting_for_the_ui() -> None:
    """The worker never blocks on the screen: it only queues, telling the screen once per batch,
    and the screen takes the whole batch in one flush, in the order the text was written."""
    import threading

    posted: list[object] = []
    shown: list[str] = []
    relay = StreamRelay(SimpleNamespace(post_message=posted.append), shown.append)  # type: ignore[arg-type]
    chunks = [f"w{i} " for i in range(200)]

    def worker() -> None:
        for i, chunk in enumerate(chunks):
            relay.push(chunk)
            if i % 50 == 49:
                relay.flush()  # the UI catching up now and then, from another thread

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=10)
    relay.flush()  # what the final update does first
    relay.flush()  # a late notice after that finds nothing to add
    assert "".join(shown) == "".join(chunks)
    assert len(shown) == 4 and len(posted) == 4  # one notice and one update per batch, not per chunk
    assert all(isinstance(m, StreamRelay.Arrived) and m.relay is relay for m in posted)


def test_the_screen_takes_streamed_text_at_most_ten_times_a_second() -> None:
    from assistant.app.stream_relay import MIN_INTERVAL

    relay = StreamRelay(SimpleNamespace(post_message=lambda m: None), lambda text: None)  # type: ignore[arg-type]
    assert relay.due_in() == 0  # the first text shows at once
    relay.flush()
    assert 0 < relay.due_in() <= MIN_INTERVAL == 0.1  # the next waits, and takes all that came meanwhile
