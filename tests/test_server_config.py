"""Where the server comes from (flag, env, config), which hosts may be contacted, and that the
config never holds a secret."""

from __future__ import annotations

import tomllib

import pytest

from engine.config import dump_config, load_config, parse_value, server_settings, set_config_value, unset_config_value
from engine.errors import UserError
from engine.server.endpoint import check_allowed, is_loopback, parse_endpoint


@pytest.mark.parametrize("url, base, host, port", [
    ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1", "127.0.0.1", 8080),
    ("http://localhost:11434", "http://localhost:11434/v1", "localhost", 11434),
    ("127.0.0.1:1234/", "http://127.0.0.1:1234/v1", "127.0.0.1", 1234),
    ("https://[::1]/api/v1/", "https://[::1]/api/v1", "::1", 443),
])
def test_parse_endpoint(url: str, base: str, host: str, port: int) -> None:
    e = parse_endpoint(url)
    assert (e.base_url, e.host, e.port) == (base, host, port)
    assert e.url("chat/completions") == base + "/chat/completions"


@pytest.mark.parametrize("bad", ["ftp://127.0.0.1/v1", "http://", "http://user:secret@127.0.0.1:8080/v1",
                                 "http://127.0.0.1:notaport/v1"])
def test_bad_urls_are_user_errors(bad: str) -> None:
    with pytest.raises(UserError) as info:
        parse_endpoint(bad)
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("host, loop", [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True),
                                        ("localhost", True), ("LOCALHOST", True), ("api.localhost", True),
                                        ("10.0.0.2", False), ("192.168.1.5", False), ("gpu-box", False),
                                        ("localhost.evil.com", False), ("0.0.0.0", False)])
def test_loopback(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop


def test_other_hosts_need_explicit_permission() -> None:
    remote = parse_endpoint("http://gpu-box.lan:8000/v1")
    with pytest.raises(UserError, match="--allow-host gpu-box.lan"):
        check_allowed(remote)
    with pytest.raises(UserError):
        check_allowed(remote, ("other-box",))
    check_allowed(remote, ("GPU-box.lan",))
    check_allowed(remote, "a, gpu-box.lan")
    check_allowed(parse_endpoint("http://127.0.0.1:8080"))


def test_flag_beats_env_beats_config() -> None:
    config = {"server": "http://127.0.0.1:1/v1", "server_model": "cfg-model", "allow_hosts": ["box"], "timeout": 9.0}
    env = {"DRAFTPAD_SERVER": "http://127.0.0.1:2/v1", "DRAFTPAD_SERVER_MODEL": "env-model"}
    s = server_settings("http://127.0.0.1:3/v1", None, ["flag-host"], env=env, config=config)
    assert (s.url, s.model, s.source, s.timeout) == ("http://127.0.0.1:3/v1", "env-model", "flag", 9.0)
    assert s.allow_hosts == ("flag-host", "box")
    s = server_settings(None, "m", env=env, config=config)
    assert (s.url, s.model, s.source) == ("http://127.0.0.1:2/v1", "m", "env")
    s = server_settings(None, None, env={}, config=config)
    assert (s.url, s.model, s.source) == ("http://127.0.0.1:1/v1", "cfg-model", "config")
    assert server_settings(None, None, env={}, config={}) is None
    # `--server local` runs the embedded engine whatever the config says
    assert server_settings("local", None, env=env, config=config) is None


def test_config_round_trip(tmp_path) -> None:
    path = tmp_path / "config.toml"
    set_config_value("server", "127.0.0.1:8080", path)
    set_config_value("allow_hosts", "gpu-box, Other.lan", path)
    set_config_value("timeout", "30", path)
    set_config_value("api_key_env", "MY_SERVER_KEY", path)
    values = load_config(path)
    assert values == {"server": "http://127.0.0.1:8080/v1", "allow_hosts": ["gpu-box", "other.lan"],
                      "timeout": 30.0, "api_key_env": "MY_SERVER_KEY"}
    assert tomllib.loads(path.read_text()) == values
    set_config_value("server", "", path)
    assert "server" not in load_config(path)
    unset_config_value("allow_hosts", path)
    assert "allow_hosts" not in load_config(path)


def test_config_refuses_secrets_and_unknown_keys() -> None:
    for key in ("api_key", "token"):
        with pytest.raises(UserError, match="never stores a key"):
            parse_value(key, "sk-live-123")
    with pytest.raises(UserError, match="NAME of an environment variable"):
        parse_value("api_key_env", "sk-live-123")
    with pytest.raises(UserError, match="unknown config key"):
        parse_value("colour", "blue")
    with pytest.raises(UserError):
        parse_value("timeout", "-1")


def test_dump_escapes_strings() -> None:
    text = dump_config({"server_model": 'we"ird\\name', "allow_hosts": []})
    assert tomllib.loads(text)["server_model"] == 'we"ird\\name'


def test_broken_config_is_one_line(tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("server = [unclosed\n")
    with pytest.raises(UserError, match="cannot read"):
        load_config(path)
