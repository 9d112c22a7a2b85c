"""Stop strings, max_new_tokens and cancel on the speculative methods, which emit several tokens per
step: a stop or a limit can fall in the middle of a step, and cancel must not start another forward.

With greedy decoding every method writes the same tokens as plain decoding, so plain decoding with
the same stop or limit gives the exact expected result.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import engine
from engine import sequence
from engine.generation import GenerationConfig, generate

pytestmark = pytest.mark.usefixtures("one_thread")

# a prompt both tiny models answer for 200 tokens without an end-of-text
MESSAGES = [{"role": "user", "content": "That I am the deponent"}]
METHODS = ("recycling", "auto")


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def lm(request, tiny_model_dirs: dict[str, Path]) -> engine.LoadedModel:
    return engine.load_model(str(tiny_model_dirs[request.param]))


def run(lm, method: str, n: int, stop: tuple[str, ...] = (), references: tuple[str, ...] = (), **kwargs):
    config = GenerationConfig(max_new_tokens=n, method=method, stop=stop)
    return generate(lm, MESSAGES, config, reference_texts=references, **kwargs)


@pytest.mark.parametrize("method", METHODS)
def test_stop_string_ends_generation_before_it(lm, method: str) -> None:
    full = run(lm, "greedy", 60)
    assert full.stats.stop_reason == "length"
    # the whole answer as a reference: `auto` drafts long right chains, so the stop falls mid-step
    references = (full.text,)
    # stops whose first occurrence is at different places in the answer (not in the undecodable
    # bytes a random model leaves at the end: those only appear when the stream is flushed)
    text = full.text.rstrip("\ufffd")
    starts = [i for i in range(5, len(text) - 3) if text.find(text[i:i + 3]) == i and "\ufffd" not in text[i:i + 3]]
    assert starts
    for start in sorted({starts[0], starts[len(starts) // 2], starts[-1]}):
        stop = full.text[start:start + 3]
        expected = run(lm, "greedy", 60, (stop,))
        chunks: list[str] = []
        got = run(lm, method, 60, (stop,), references, on_text=chunks.append)
        assert got.stats.stop_reason == "stop", (method, stop)
        assert got.text == full.text[: full.text.find(stop)] == expected.text
        assert "".join(chunks) == got.text  # nothing past the stop was streamed
        assert got.token_ids == expected.token_ids and got.stats.new_tokens == expected.stats.new_tokens


@pytest.mark.parametrize("method", METHODS)
def test_max_new_tokens_is_exact(lm, method: str) -> None:
    full = run(lm, "greedy", 40)
    drafted = 0
    for n in (1, 5, 13):
        got = run(lm, method, n, references=(full.text,))
        assert got.stats.stop_reason == "length" and got.stats.new_tokens == n
        assert got.token_ids == full.token_ids[:n]
        drafted += sum(count for gained, count in got.stats.accepted_histogram.items() if gained > 1)
    if method == "auto":
        assert drafted > 0, "no step emitted more than one token: the cut inside a step went untested"


@pytest.fixture
def forwards(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every forward either kind of sequence runs (ours and transformers')."""
    calls = [0]
    for cls in (sequence.OwnSequence, sequence.HFSequence):
        for name in ("run", "run_embeds"):
            original = getattr(cls, name)

            def counted(self, *args, _original=original, **kwargs):
                calls[0] += 1
                return _original(self, *args, **kwargs)

            monkeypatch.setattr(cls, name, counted)
    return calls


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("after_chunks", [1, 6])
def test_cancel_stops_before_the_next_forward(lm, method: str, after_chunks: int, forwards: list[int]) -> None:
    full = run(lm, method, 200)
    assert full.stats.new_tokens > 40
    cancel = threading.Event()
    chunks: list[str] = []
    at_cancel: list[int] = []

    def on_text(chunk: str) -> None:
        chunks.append(chunk)
        if len(chunks) == after_chunks:
            cancel.set()
            at_cancel.append(forwards[0])

    got = run(lm, method, 200, references=(full.text,), on_text=on_text, cancel=cancel)
    assert got.stats.stop_reason == "cancelled"
    assert at_cancel and forwards[0] == at_cancel[0], "a forward ran after cancel was set"
    assert got.token_ids == full.token_ids[: len(got.token_ids)] and 0 < len(got.token_ids) < full.stats.new_tokens
    assert "".join(chunks) == got.text == full.text[: len(got.text)]


@pytest.mark.parametrize("method", METHODS)
def test_cancel_set_before_the_start_writes_nothing(lm, method: str) -> None:
    cancel = threading.Event()
    cancel.set()
    got = run(lm, method, 50, cancel=cancel)
    assert got.stats.stop_reason == "cancelled" and got.token_ids == [] and got.text == ""
