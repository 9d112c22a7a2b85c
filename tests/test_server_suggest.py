"""k suggestions from a server: one `n=k` request where the server honours it, else k requests at
once; always distinct, cut where the editor's suggestions end."""

from __future__ import annotations

import threading

import pytest

from engine.server import connect, suggest
from engine.server.suggest import cut_suggestion, mean_logprob
from tests.fake_openai_server import FakeServer

TEXT = "The Lessee shall pay the monthly rent"


@pytest.mark.parametrize("raw, cut, ended", [
    (" on the first day. Then more", " on the first day.", True),
    (" on time\nNext line", " on time", True),
    ("\nA new paragraph begins here. More", "A new paragraph begins here.", True),
    (" Rs. 5,000 every month without fail", " Rs. 5,000 every month without fail", False),
    (" No.", " No.", False),  # too short to be a sentence: the editor keeps typing
])
def test_cut_suggestion(raw: str, cut: str, ended: bool) -> None:
    assert cut_suggestion(raw) == (cut, ended)


def test_mean_logprob_counts_only_the_kept_tokens() -> None:
    legacy = {"logprobs": {"tokens": [" a", " b", ".", " c"], "token_logprobs": [-1.0, -2.0, -3.0, -10.0]}}
    assert mean_logprob(legacy, len(" a b.")) == pytest.approx(-2.0)
    llama = {"logprobs": {"content": [{"token": " a", "logprob": -0.5}, {"token": " b", "logprob": -1.5}]}}
    assert mean_logprob(llama, 10) == pytest.approx(-1.0)
    assert mean_logprob({"logprobs": None}, 5) == 0.0


def test_one_request_with_n_where_honoured() -> None:
    with FakeServer(reply="on the first day of each month.") as fake:
        lm = connect(fake.url)
        outcome = suggest(lm, TEXT, k=3, max_tokens=12)
        posts = [r for r in fake.requests if r["body"]]
    assert outcome.mode == "n" and outcome.requests == 1 and lm.honours_n is True
    assert len(posts) == 1 and posts[0]["body"]["n"] == 3 and posts[0]["path"] == "/v1/completions"
    assert posts[0]["body"]["prompt"] == TEXT and posts[0]["body"]["max_tokens"] == 12
    texts = [s.text for s in outcome.suggestions]
    assert len(texts) == 3 == len(set(texts))
    scores = [s.score for s in outcome.suggestions]
    assert scores == sorted(scores, reverse=True)


def test_concurrent_requests_where_n_is_refused() -> None:
    with FakeServer(reply="on the first day of each month.", honour_n=False) as fake:
        lm = connect(fake.url)
        outcome = suggest(lm, TEXT, k=3)
        assert outcome.mode == "concurrent" and lm.honours_n is False
        texts = [s.text for s in outcome.suggestions]
        assert len(texts) == 3 == len(set(texts))
        # the greedy continuation is among them
        bodies = [r["body"] for r in fake.requests if r["body"] and "n" not in r["body"]]
        assert any(b["temperature"] == 0.0 for b in bodies) and len(bodies) == 3
        fake.requests.clear()
        suggest(lm, TEXT, k=3)  # the server's answer is remembered: no n=k request again
        assert all("n" not in r["body"] for r in fake.requests if r["body"])


def test_server_that_ignores_n_gets_topped_up() -> None:
    # Ollama answers n=3 with one choice
    with FakeServer(reply="on the first day of each month.") as fake:
        lm = connect(fake.url)
        lm.client.post_json = _first_choice_only(lm.client.post_json)  # type: ignore[method-assign]
        outcome = suggest(lm, TEXT, k=3)
    assert lm.honours_n is False and len({s.text for s in outcome.suggestions}) == 3


def _first_choice_only(post):
    def wrapped(path: str, body: dict):
        reply = post(path, body)
        reply["choices"] = reply["choices"][:1]
        return reply
    return wrapped


def test_identical_samples_give_fewer_not_duplicates() -> None:
    with FakeServer(reply=lambda body: "on time.", honour_n=False) as fake:
        fake.text_for = lambda body, index=0: "on the first day."  # type: ignore[method-assign]
        outcome = suggest(connect(fake.url), TEXT, k=3)
    assert [s.text for s in outcome.suggestions] == ["on the first day."]


def test_empty_text_asks_nothing_and_cancel_returns_early() -> None:
    with FakeServer(first_delay=0, honour_n=False) as fake:
        lm = connect(fake.url)
        fake.requests.clear()
        assert suggest(lm, "   ", k=3).suggestions == [] and fake.requests == []
        cancel = threading.Event()
        cancel.set()
        outcome = suggest(lm, TEXT, k=3, cancel=cancel)
    assert outcome.cancelled and outcome.suggestions == []
