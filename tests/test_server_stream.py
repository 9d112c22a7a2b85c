"""Generation through an OpenAI-compatible server, against a real HTTP server on loopback that
speaks the protocol (SSE over chunked HTTP, [DONE], error bodies), including its failures."""

from __future__ import annotations

import threading
import time

import pytest

from engine.errors import UserError
from engine.generation import GenerationConfig, generate
from engine.server import ServerError, connect, is_server, probe, sse
from engine.server.client import error_message
from tests.fake_openai_server import FakeServer, words

MESSAGES = [{"role": "system", "content": "You draft leases."}, {"role": "user", "content": "Write the rent clause."}]
REPLY = "The Lessee shall pay a monthly rent of Rs. 25,000 on or before the fifth day of each month."


@pytest.fixture
def server():
    with FakeServer(reply=REPLY) as fake:
        yield fake


def test_sse_events_follow_the_spec() -> None:
    lines = [": comment", "data: {\"a\": 1}", "", "event: x", "data: {\"b\":", "data: 2}", "", "data:[DONE]", "",
             "data: {\"after\": 1}", ""]
    assert list(sse.events(lines)) == ['{"a": 1}', '{"b":\n2}', "[DONE]", '{"after": 1}']
    got = list(sse.payloads(lines))
    assert got[:2] == [{"a": 1}, {"b": 2}] and isinstance(got[2], sse.StreamEnd) and len(got) == 3


def test_error_bodies_in_every_dialect() -> None:
    assert error_message(b'{"error": {"message": "model x not found", "type": "e"}}') == "model x not found"
    assert error_message(b'{"object": "error", "message": "bad n"}') == "bad n"
    assert error_message(b'{"detail": "Not Found"}') == "Not Found"
    assert error_message(b'{"error": "plain"}') == "plain"
    assert error_message(b"<html>\n502 Bad Gateway\n</html>") == "<html> 502 Bad Gateway </html>"


def test_chat_streams_chunk_by_chunk_with_server_counts(server: FakeServer) -> None:
    lm = connect(server.url)
    assert is_server(lm) and lm.model == "fake-7b" and lm.available == ("fake-7b", "fake-small")
    chunks: list[str] = []
    result = generate(lm, MESSAGES, GenerationConfig(max_new_tokens=100), on_text=chunks.append)
    assert result.text == REPLY
    assert chunks == words(REPLY)  # streamed as it came, not at the end
    body = server.requests[-1]["body"]
    assert server.requests[-1]["path"] == "/v1/chat/completions"
    assert body["messages"] == MESSAGES and body["stream"] is True and body["max_tokens"] == 100
    assert body["temperature"] == 0.0 and "continue_final_message" not in body
    s = result.stats
    assert (s.method, s.prompt_tokens, s.new_tokens, s.stop_reason) == ("server", 7, len(words(REPLY)), "eos")
    assert s.seconds >= s.prefill_seconds > 0 and s.tok_s > 0


def test_named_model_and_plain_prompt(server: FakeServer) -> None:
    lm = connect(server.url, "fake-small")
    result = generate(lm, "Rent:", GenerationConfig(max_new_tokens=4))
    req = server.requests[-1]
    assert req["path"] == "/v1/completions" and req["body"]["prompt"] == "Rent:" and req["body"]["model"] == "fake-small"
    assert result.text == "".join(words(REPLY)[:4]) and result.stats.stop_reason == "length"


def test_stop_strings_are_matched_locally_too(server: FakeServer) -> None:
    lm = connect(server.url)
    config = GenerationConfig(max_new_tokens=100, stop=("w1", "w2", "w3", "w4", "Rs."))
    result = generate(lm, MESSAGES, config)
    assert server.requests[-1]["body"]["stop"] == ["w1", "w2", "w3", "w4"]  # the API takes four
    assert result.text == "The Lessee shall pay a monthly rent of " and result.stats.stop_reason == "stop"


def test_assistant_prefill_is_continued(server: FakeServer) -> None:
    lm = connect(server.url)
    generate(lm, MESSAGES + [{"role": "assistant", "content": "The Lessee"}], GenerationConfig(max_new_tokens=5))
    body = server.requests[-1]["body"]
    assert body["messages"][-1] == {"role": "assistant", "content": "The Lessee"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False


def test_llama_cpp_timings_give_forwards_and_draft_acceptance() -> None:
    with FakeServer(reply=REPLY, timings=True) as fake:
        result = generate(connect(fake.url), MESSAGES, GenerationConfig())
    n = len(words(REPLY))
    assert result.stats.forwards == n - 2 and result.stats.source_acceptance == {"server-draft": 0.5}


def test_cut_stream_keeps_the_text_so_far(server: FakeServer) -> None:
    server.drop_after = 5
    lm = connect(server.url)
    seen: list[str] = []
    with pytest.raises(ServerError) as info:
        generate(lm, MESSAGES, GenerationConfig(), on_text=seen.append)
    message = str(info.value)
    assert "cut the stream" in message and server.url in message and "kept" in message and "\n" not in message
    partial = info.value.partial
    assert partial.text == "".join(words(REPLY)[:5]) == "".join(seen)
    assert partial.stats.stop_reason == "interrupted" and partial.stats.new_tokens == 5


def test_error_event_mid_stream(server: FakeServer) -> None:
    server.error_event_after, server.error_message = 3, "kv cache full"
    with pytest.raises(ServerError, match="kv cache full") as info:
        generate(connect(server.url), MESSAGES, GenerationConfig())
    assert info.value.partial.text == "".join(words(REPLY)[:3])


@pytest.mark.parametrize("status, message, hint", [
    (503, "Loading model", "still loading its model"),
    (500, "failed to decode the batch", "see its log"),
    (401, "no key", "api_key_env"),
    (400, "the request exceeds the available context size", "larger context"),
])
def test_http_errors_are_one_line_with_a_hint(server: FakeServer, status: int, message: str, hint: str) -> None:
    lm = connect(server.url)
    server.status, server.error_message = status, message
    with pytest.raises(ServerError) as info:
        generate(lm, MESSAGES, GenerationConfig())
    text = str(info.value)
    assert f"answered {status}" in text and message in text and hint in text and server.url in text
    assert "\n" not in text and info.value.partial is None


def test_wrong_model_names_what_the_server_has(server: FakeServer) -> None:
    with pytest.raises(UserError, match=r"no model 'llama-70b' \(it serves: fake-7b, fake-small\)"):
        connect(server.url, "llama-70b")
    lm = connect(server.url, "fake-small")
    server.models = ("fake-7b",)  # the server was restarted with another model
    with pytest.raises(ServerError, match="answered 404.*--server-model"):
        generate(lm, MESSAGES, GenerationConfig())
    assert "no longer lists 'fake-small'" in probe(lm)


def test_server_down_is_one_line() -> None:
    with FakeServer() as fake:
        url = fake.url
    with pytest.raises(ServerError) as info:
        connect(url)
    text = str(info.value)
    assert text.startswith(f"no server answers at {url}") and "llama-server" in text and "\n" not in text


def test_timeout_before_the_first_token() -> None:
    with FakeServer(reply=REPLY, first_delay=1.5) as fake:
        lm = connect(fake.url, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(ServerError, match=r"did not answer within 0.3 s.*config set timeout"):
            generate(lm, MESSAGES, GenerationConfig())
        assert time.monotonic() - started < 1.4


def test_slow_stream_within_the_timeout_is_fine() -> None:
    with FakeServer(reply="one two three four", chunk_delay=0.1) as fake:
        result = generate(connect(fake.url, timeout=1.0), MESSAGES, GenerationConfig())
    assert result.text == "one two three four" and result.stats.seconds >= 0.3


def test_cancel_stops_the_request_promptly_and_keeps_the_text() -> None:
    long_reply = " ".join(f"word{i}" for i in range(400))
    with FakeServer(reply=long_reply, chunk_delay=0.02) as fake:
        lm = connect(fake.url)
        cancel = threading.Event()
        seen: list[str] = []

        def on_text(chunk: str) -> None:
            seen.append(chunk)
            if len(seen) == 10:
                cancel.set()

        started = time.monotonic()
        result = generate(lm, MESSAGES, GenerationConfig(max_new_tokens=1000), on_text=on_text, cancel=cancel)
        assert time.monotonic() - started < 2.0  # 400 pieces at 20 ms would take 8 s
        assert result.stats.stop_reason == "cancelled"
        assert result.text.startswith("word0 word1") and 10 <= len(result.text.split()) < 40
        deadline = time.monotonic() + 3
        while fake.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.disconnects == 1 and fake.completed == 0  # the server saw the client go


def test_cancel_while_waiting_for_the_first_token() -> None:
    with FakeServer(reply=REPLY, first_delay=3.0) as fake:
        lm = connect(fake.url)
        cancel = threading.Event()
        threading.Timer(0.3, cancel.set).start()
        started = time.monotonic()
        result = generate(lm, MESSAGES, GenerationConfig(), cancel=cancel)
        assert time.monotonic() - started < 1.5 and result.stats.stop_reason == "cancelled" and result.text == ""


def test_api_key_comes_from_the_named_variable_only(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SERVER_KEY", "sk-test-secret")
    lm = connect(server.url, api_key_env="TEST_SERVER_KEY")
    generate(lm, MESSAGES, GenerationConfig(max_new_tokens=3))
    assert all(r["headers"].get("Authorization") == "Bearer sk-test-secret" for r in server.requests)
    assert "sk-test" not in lm.identity and "sk-test" not in repr(lm)
    monkeypatch.delenv("TEST_SERVER_KEY")
    with pytest.raises(UserError, match=r"\$TEST_SERVER_KEY.*not set"):
        connect(server.url, api_key_env="TEST_SERVER_KEY")


def test_proxy_variables_are_ignored(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # a proxy would see the document; the request must go straight to the loopback server
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    result = generate(connect(server.url), MESSAGES, GenerationConfig(max_new_tokens=3))
    assert result.text == "".join(words(REPLY)[:3])
