"""How the device cost profile is made from timings: the warm-up round is discarded, each width keeps
its fastest repeat, a width measured cheaper than a narrower one lowers that one (noise must not
tell the planner that a wider tree is cheaper), and the cost's growth with the cached context is
the slope between the two contexts timed. A scripted clock makes the timings exact."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import engine
from engine import adaptive

# seconds per forward, by repeat (0 = warm-up) and width 1, 2, 4, ... 64
SCRIPT = (
    (0.0001,) * 7,  # the warm-up round is fastest of all here: it must still be ignored
    (0.010, 0.030, 0.020, 0.040, 0.050, 0.080, 0.160),
    (0.012, 0.025, 0.022, 0.035, 0.060, 0.070, 0.150),
)
# fastest of repeats 1-2, then no width dearer than a wider one: width 2 drops to width 4's 0.020
EXPECTED = (0.010, 0.020, 0.020, 0.035, 0.050, 0.070, 0.150)


class ScriptedSequence:
    """Stands in for a sequence prefilled with `context` tokens: each run advances the fake clock by
    the scripted time, which at the long context is three times the short one's."""

    def __init__(self, clock: list[float], context: int) -> None:
        self.clock = clock
        self.scale = 1.0 if context == adaptive.PROFILE_CONTEXTS[0] else 3.0
        self.runs: dict[int, int] = {}

    def run(self, tokens, parents=None, depth=None, keep: int = 0):
        width = len(tokens)
        rep = self.runs.get(width, 0)
        self.runs[width] = rep + 1
        self.clock[0] += SCRIPT[rep][adaptive.WIDTHS.index(width)] * self.scale

    def truncate(self, length: int) -> None:
        pass


def test_profile_is_the_fastest_repeat_made_monotone(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert adaptive.WIDTHS == (1, 2, 4, 8, 16, 32, 64)
    short, long = adaptive.PROFILE_CONTEXTS
    lm = engine.load_model(str(tiny_model_dir))
    clock = [100.0]
    made: list[ScriptedSequence] = []

    def prefill(lm, prefix, **kwargs):
        made.append(ScriptedSequence(clock, len(prefix)))
        return made[-1], None

    monkeypatch.setattr(adaptive, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    monkeypatch.setattr("engine.sequence.prefill", prefill)
    profile = adaptive.measure_profile(lm, repeats=2)
    assert [seq.runs for seq in made] == [{w: 3 for w in adaptive.WIDTHS}] * 2  # a warm-up and two repeats each
    assert profile.widths == adaptive.WIDTHS and profile.context == short
    assert profile.seconds == pytest.approx(EXPECTED)
    assert profile.per_token == pytest.approx([2 * e / (long - short) for e in EXPECTED])
    assert profile.cost(8, long) == pytest.approx(3 * EXPECTED[3])
    assert profile.cost(8, 2 * long - short) == pytest.approx(5 * EXPECTED[3])  # linear beyond the longest
    assert profile.cost(8, 10) == profile.cost(8) == pytest.approx(EXPECTED[3])  # not below the shortest
