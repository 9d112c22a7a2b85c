"""Pilot tests: the app drafting through an OpenAI-compatible server (the fake one on loopback),
with Esc stopping the HTTP request, a cut stream kept as a version, suggestions from the server,
and the status bar naming the backend, its model and whether it answers."""

from __future__ import annotations

import time

import pytest

from assistant import drafting
from assistant.app.model_host import ModelHost
from assistant.app.widgets.ghost_text import GhostTextArea
from assistant.app.widgets.status_bar import describe_model
from engine.config import server_settings
from engine.server import ServerModel, parse_endpoint
from tests.fake_openai_server import FakeServer, words
from tests.fixtures_app import SIZE, make_app, ready, screen_name, until

SECTION = ("We keep local state in SQLite because it needs no server, survives crashes and ships with Python. "
           "The whole library fits in one file that a person can copy.")


def app_on(fake: FakeServer, **kwargs: object):
    return make_app("default", server=server_settings(fake.url, env={}, config={}), **kwargs)


def new_adr(title: str) -> tuple[int, int]:
    session = drafting.new_session("adr-nygard", title, {"title": title, "context": "A", "decision": "B"})
    return session.id, next(s.id for s in session.sections if s.title == "Context")


async def open_editor(pilot, app, session_id: int, section_id: int):
    await ready(pilot)
    app.open_session(session_id, section_id)
    await until(pilot, lambda: screen_name(pilot) == "EditorScreen" and app.screen.section is not None, what="editor")
    return app.screen


async def test_app_drafts_a_section_through_the_server() -> None:
    session_id, section_id = new_adr("Server draft")
    with FakeServer(reply=SECTION) as fake:
        app = app_on(fake)
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(pilot, app, session_id, section_id)
            assert describe_model(app.host) == f"fake-7b · server 127.0.0.1:{fake.port} · answers"
            await pilot.press("ctrl+g")
            await until(pilot, lambda: editor.generation is not None and not editor.generating, what="generation")
            stored = drafting.get_session(session_id).by_id(section_id).current
            assert stored is not None and stored.source == "generated" and stored.model == f"fake-7b@{fake.url}"
            assert "SQLite because it needs no server" in stored.text and editor.area.text == stored.text
            assert stored.stats["method"] == "server" and stored.stats["new_tokens"] > 0
            assert app.host.last is not None and app.host.last.new_tokens > 0
            posts = [r for r in fake.requests if r["body"]]
            assert posts and all(r["path"] in ("/v1/chat/completions", "/v1/completions") for r in posts)
    [entry] = [e for e in drafting.open_log().recent() if e.session_id == session_id]
    assert entry.kind == "draft" and entry.model == f"fake-7b@{fake.url}"


async def test_escape_stops_the_request_and_keeps_the_text() -> None:
    session_id, section_id = new_adr("Server cancel")
    long_reply = " ".join(f"clause{i}" for i in range(300))
    with FakeServer(reply=long_reply, chunk_delay=0.03) as fake:
        app = app_on(fake, section_tokens=400)
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(pilot, app, session_id, section_id)
            await pilot.press("ctrl+g")
            await until(pilot, lambda: "clause5" in editor.area.text, what="text streaming in")
            started = time.monotonic()
            await pilot.press("escape")
            await until(pilot, lambda: not editor.generating, what="cancellation")
            assert time.monotonic() - started < 3  # the rest would take ~9 s
            assert editor.generation.cancelled
            stored = drafting.get_session(session_id).by_id(section_id).current
            assert stored is not None and stored.stats["stop_reason"] == "cancelled" and "clause5" in stored.text
            await until(pilot, lambda: fake.disconnects >= 1, what="the server to see the client go")
            assert fake.completed == 0


async def test_cut_stream_is_kept_as_a_version_and_said_in_one_line() -> None:
    session_id, section_id = new_adr("Server cut")
    with FakeServer(reply=SECTION, drop_after=8) as fake:
        app = app_on(fake)
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(pilot, app, session_id, section_id)
            await pilot.press("ctrl+g")
            await until(pilot, lambda: not editor.generating and editor.cancel is not None
                        and fake.requests and editor.area.read_only is False
                        and drafting.get_session(session_id).by_id(section_id).current is not None,
                        what="the failed generation to end")
            stored = drafting.get_session(session_id).by_id(section_id).current
            assert stored.stats["stop_reason"] == "interrupted"
            # kept after the lead-in "This matters because", so its first word is lower case there
            assert "".join(words(SECTION)[:8]).strip().lower() in stored.text.lower() and "copy" not in stored.text
            assert editor.area.text == stored.text  # the editor shows the kept text, not the old one
            assert describe_model(app.host).endswith("· not answering")
            messages = [n.message for n in app._notifications]
            assert any("cut the stream" in m and fake.url in m for m in messages), messages


async def test_suggestions_come_from_the_server() -> None:
    session_id, section_id = new_adr("Server ghost")
    with FakeServer(reply="it needs no server at all.") as fake:
        app = app_on(fake)
        async with app.run_test(size=SIZE) as pilot:
            await open_editor(pilot, app, session_id, section_id)
            area = app.screen.query_one(GhostTextArea)
            area.pause = 0.3
            area.focus()
            await pilot.press(*"We chose SQLite because")
            await until(pilot, lambda: len(area.choices) >= 2, what="suggestions")
            assert area.suggestion == area.choices[0] and len(set(area.choices)) == len(area.choices)
            assert any(r["path"] == "/v1/completions" and r["body"]["prompt"].endswith("We chose SQLite because")
                       for r in fake.requests if r["body"])
            await pilot.press("tab")
            assert area.text.startswith("We chose SQLite because" + area.text[len("We chose SQLite because"):])


def test_status_bar_says_plainly_when_the_server_is_another_machine() -> None:
    remote = ServerModel(parse_endpoint("http://gpu-box.lan:8000/v1"), "qwen2.5-7b-instruct", client=None)  # type: ignore[arg-type]
    host = ModelHost(server=server_settings("http://gpu-box.lan:8000/v1", allow_hosts=["gpu-box.lan"], env={},
                                            config={}))
    assert describe_model(host) == "server http://gpu-box.lan:8000/v1 (not loaded)"
    host.lm, host.server_state = remote, "answers"
    assert describe_model(host) == "qwen2.5-7b-instruct · REMOTE server gpu-box.lan:8000 · answers"


@pytest.mark.parametrize("state", ["answers", "not answering"])
def test_status_bar_loopback(state: str) -> None:
    local = ServerModel(parse_endpoint("http://127.0.0.1:11434/v1"), "library/llama3:8b", client=None)  # type: ignore[arg-type]
    host = ModelHost(server=server_settings("http://127.0.0.1:11434/v1", env={}, config={}), lm=local,
                     server_state=state)
    assert describe_model(host) == f"llama3:8b · server 127.0.0.1:11434 · {state}"
