"""The CLI on an OpenAI-compatible server (the fake one on loopback), in-process: generate,
suggest, doctor, config, the drafting commands, and the failures a person meets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import drafting
from assistant.cli import main
from engine import ServerError, connect_server
from tests.fake_openai_server import FakeServer, words

RENT_FACTS = {
    "lessor": "Shri Anil Kumar Sharma", "lessor_address": "B-14, Sector 27, Noida 201301",
    "lessee": "Ms. Priya Nair", "lessee_address": "12 MG Road, Ernakulam, Kochi 682011",
    "property": "Flat No. 302, Sunrise Apartments, Sector 62, Noida 201309",
    "rent": "Rs. 28,000", "deposit": "56000", "start_date": "2025-03-01", "term_months": "11", "place": "Noida",
}
# No figure: prose may state an amount only in a section given one (the drafting guards drop it).
SECTION = "The Lessee shall pay a monthly maintenance charge to the society on or before the fifth day of every month."


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def reply_for(body: dict) -> str:
    """Titles for a planning prompt, a section otherwise: enough for the whole workflow."""
    messages = body.get("messages") or [{}]
    if "Usual sections:" in str(messages[-1].get("content", "")):  # the planning prompt
        return "1. Parties\n2. Rent\n3. Security Deposit\n4. Term"
    return SECTION


@pytest.fixture
def server():
    with FakeServer(reply=reply_for) as fake:
        yield fake


def test_generate_streams_and_reports_tokens(server: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "generate", "Write the rent clause", "--server", server.url, "--json",
                         "--max-new-tokens", "64")
    assert code == 0, err
    streamed, last = out.rsplit("\n", 2)[0], json.loads(out.strip().splitlines()[-1])
    assert streamed.startswith(SECTION)
    assert last["text"] == SECTION and last["new_tokens"] == len(words(SECTION)) and last["method"] == "server"
    assert last["model"] == f"fake-7b@{server.url}" and last["stop_reason"] == "eos"
    assert server.requests[-1]["body"]["max_tokens"] == 64
    # the generation log records it like a local call
    code, out, _ = run(capsys, "logs", "--json")
    entries = json.loads(out)
    entry = entries[0] if isinstance(entries, list) else entries["entries"][0]
    assert entry["kind"] == "generate" and entry["model"] == f"fake-7b@{server.url}"
    assert entry["response"] == SECTION and entry["new_tokens"] == len(words(SECTION))


def test_env_and_config_select_the_server(server: FakeServer, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAFTPAD_SERVER", server.url)
    monkeypatch.setenv("DRAFTPAD_SERVER_MODEL", "fake-small")
    code, _, err = run(capsys, "generate", "hi", "--json")
    assert code == 0, err and server.requests[-1]["body"]["model"] == "fake-small"
    monkeypatch.delenv("DRAFTPAD_SERVER")
    monkeypatch.delenv("DRAFTPAD_SERVER_MODEL")
    assert run(capsys, "config", "set", "server", server.url)[0] == 0
    assert run(capsys, "config", "set", "server_model", "fake-small")[0] == 0
    code, out, _ = run(capsys, "config", "get", "server")
    assert (code, out.strip()) == (0, server.url)
    code, out, _ = run(capsys, "config", "show")
    assert f"server = {server.url}" in out and "(from config)" in out
    before = len(server.requests)
    code, out, _ = run(capsys, "generate", "hi", "--json")
    assert code == 0 and len(server.requests) > before and json.loads(out.splitlines()[-1])["model"].startswith("fake-small")
    assert run(capsys, "config", "get", "api_key_env")[0] == 1  # unset: nothing, non-zero


def test_suggest_gives_k_distinct(server: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "suggest", "The Lessee shall pay", "-k", "3", "--json", "--server", server.url)
    assert code == 0, err
    texts = [s["text"] for s in json.loads(out)["suggestions"]]
    assert len(texts) == 3 == len(set(texts))


def test_doctor_shows_backend_model_and_reachability(server: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "doctor", "--server", server.url, "--server-model", "fake-small")
    assert code == 0
    assert f"server {server.url} (from flag)" in out and "fake-small" in out and "server answers  yes" in out
    server.stop()
    code, out, _ = run(capsys, "doctor", "--server", server.url)
    assert code == 1 and "server answers  no: no server answers at" in out
    code, out, _ = run(capsys, "doctor", "--no-load")
    assert code == 0 and "embedded engine" in out


@pytest.mark.parametrize("argv, expected", [
    (["--server", "http://10.1.2.3:8080/v1"], "is not on this machine"),
    (["--server", "http://127.0.0.1:{port}/v1", "--server-model", "gpt-9"], "has no model 'gpt-9'"),
    (["--server", "http://127.0.0.1:{port}/v1", "--model", "/models/qwen"], "name its model with --server-model"),
])
def test_failures_are_one_line(server: FakeServer, capsys: pytest.CaptureFixture[str], argv: list[str],
                               expected: str) -> None:
    argv = [a.replace("{port}", str(server.port)) for a in argv]
    code, _, err = run(capsys, "generate", "hi", *argv)
    assert code == 2 and err.startswith("draftpad: error: ") and expected in err and err.count("\n") == 1


def test_server_down_and_5xx(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeServer() as fake:
        url = fake.url
        fake.status = 500
        code, _, err = run(capsys, "generate", "hi", "--server", url)
        assert code == 2 and f"the server at {url} answered 500" in err and err.count("\n") == 1
    code, _, err = run(capsys, "generate", "hi", "--server", url)
    assert code == 2 and f"no server answers at {url}" in err and err.count("\n") == 1


def test_stream_cut_keeps_the_text_on_screen_and_in_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeServer(reply=SECTION, drop_after=4) as fake:
        code, out, err = run(capsys, "generate", "hi", "--server", fake.url)
        assert code == 2 and "cut the stream" in err and "kept" in err
        assert out.strip() == "".join(words(SECTION)[:4]).strip()
        code, out, _ = run(capsys, "logs", "--json")
        text = out
    assert "".join(words(SECTION)[:4]).strip() in text and "interrupted" in text


def test_rent_agreement_end_to_end(server: FakeServer, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sets = [a for name, value in RENT_FACTS.items() for a in ("--set", f"{name}={value}")]
    code, out, err = run(capsys, "new", "in-rent-agreement", "--title", "Flat 4B", *sets, "--json")
    assert code == 0, err
    sid = str(json.loads(out)["id"])
    code, _, err = run(capsys, "plan", sid, "--server", server.url)
    assert code == 0, err
    planned = len(server.requests)
    code, _, err = run(capsys, "draft", sid, "--all", "--server", server.url)
    assert code == 0, err
    drafted = [r for r in server.requests[planned:] if r["path"] == "/v1/chat/completions"]
    assert len(drafted) >= 1, "the section was not drafted through the server"
    code, out, err = run(capsys, "validate", sid)
    assert "Traceback" not in out + err
    target = tmp_path / "lease.md"
    code, _, err = run(capsys, "export", sid, "--format", "md", "-o", str(target))
    assert code == 0, err
    # the server's sentence fills the template's lead-in ("… keep the said Premises"), lower-cased there
    assert SECTION[1:] in target.read_text()


def test_cut_mid_draft_is_kept_as_a_version() -> None:
    session = drafting.new_session("in-rent-agreement", "Flat 4B", values=RENT_FACTS)
    # a server's model adds to the template's clauses by default
    section_id = next(s.id for s in session.sections if drafting.needs_model(session.id, s.id, extend=True))
    with FakeServer(reply=SECTION, drop_after=6) as fake:
        lm = connect_server(fake.url)
        with pytest.raises(ServerError, match="cut the stream"):
            drafting.draft_section(session.id, section_id, lm, use_library=False)
    versions = drafting.history(session.id, section_id)
    assert len(versions) == 1 and versions[0].text.strip()
    assert "shall pay a monthly" in versions[0].text and "fifth day" not in versions[0].text
    log = drafting.open_log()
    try:
        entry = log.recent(1)[0]
    finally:
        log.close()
    assert entry.kind == "draft" and entry.stop_reason == "interrupted"


def test_api_key_is_never_written(server: FakeServer, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch, draftpad_home: Path) -> None:
    secret = "sk-test-5f2c9a71"
    code, _, err = run(capsys, "config", "set", "api_key", secret)
    assert code == 2 and "never stores a key" in err
    run(capsys, "config", "set", "api_key_env", "MY_SERVER_KEY")
    monkeypatch.setenv("MY_SERVER_KEY", secret)
    code, out, err = run(capsys, "generate", "hi", "--server", server.url, "--json")
    assert code == 0, err
    assert server.requests[-1]["headers"]["Authorization"] == f"Bearer {secret}"
    code, doctor_out, _ = run(capsys, "doctor", "--server", server.url)
    assert "$MY_SERVER_KEY" in doctor_out
    assert secret not in out + err + doctor_out
    for path in draftpad_home.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
