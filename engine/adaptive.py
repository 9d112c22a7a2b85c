"""What speculation costs and what it gains, measured rather than assumed.

* `CostProfile`: seconds per verification forward at widths 1..64 and how each grows with the
  cached context (attention reads every cached entry), on this device, measured once per model +
  device + dtype + weight format + thread count and cached on disk (the width-1 cost also gives
  the plain greedy tok/s estimate the app shows next to the last generation's speed).
* `AcceptanceStats`: running acceptance per draft slot (recycling template node, or source x match
  length x candidate rank x depth), with priors so unexplored slots still get tried.
* `best_count`: how many draft nodes maximise expected tokens per second; 0 means plain decoding.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.loading import LoadedModel
from engine.paths import cache_dir

WIDTHS = (1, 2, 4, 8, 16, 32, 64)
PROFILE_CONTEXTS = (256, 1024)  # cache lengths the widths are timed against: a short and a long prompt
PROFILE_CONTEXT = PROFILE_CONTEXTS[0]
MAX_WIDTH = WIDTHS[-1]


@dataclass(frozen=True)
class CostProfile:
    """Forward cost by width, linear in the cached context: seconds[w] at `context`, plus
    per_token[w] for each cached entry beyond it (none measured: cost does not follow context)."""

    widths: tuple[int, ...]
    seconds: tuple[float, ...]
    per_token: tuple[float, ...] = ()
    context: int = PROFILE_CONTEXT

    def cost(self, width: np.ndarray | int, context: int | None = None) -> np.ndarray:
        base = np.interp(width, self.widths, self.seconds)
        if not self.per_token or context is None:
            return base
        # below the measured context the cost is not extrapolated down: short prompts are rare
        return base + np.interp(width, self.widths, self.per_token) * max(0, context - self.context)

    @property
    def one_token_seconds(self) -> float:
        return float(self.seconds[0])


def _profile_key(lm: LoadedModel) -> str:
    raw = (f"{lm.identity}|{lm.device}|{lm.dtype}|{torch.get_num_threads()}|{torch.__version__}"
           f"|{lm.forward_label}|{lm.weights}")
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


@torch.inference_mode()
def measure_profile(lm: LoadedModel, repeats: int = 2, contexts: tuple[int, ...] = PROFILE_CONTEXTS) -> CostProfile:
    """Time one forward of each width over a cache of each context length; the minimum over
    repeats is the least noisy estimate on a shared machine. Each width runs as a tree (a chain of
    parents), the same path as verification. The cost's growth per cached token is the difference
    between the longest and the shortest context that fit the model."""
    limit = lm.own_weights.shape.max_positions if lm.own_weights is not None else (
        getattr(lm.model.config, "max_position_embeddings", None) or getattr(lm.model.config, "n_positions", 2048))
    fitting = sorted({max(1, min(c, int(limit) - MAX_WIDTH - 1)) for c in contexts})
    rows = [_timed_widths(lm, context, repeats) for context in fitting]
    per_token: tuple[float, ...] = ()
    if len(rows) > 1:
        span = fitting[-1] - fitting[0]
        per_token = tuple(max(0.0, (long - short) / span) for short, long in zip(rows[0], rows[-1]))
    return CostProfile(WIDTHS, tuple(rows[0]), per_token, fitting[0])


def _timed_widths(lm: LoadedModel, context: int, repeats: int) -> list[float]:
    from engine.sequence import prefill

    gen = torch.Generator().manual_seed(context)
    prefix = torch.randint(0, lm.vocab_size, (context,), generator=gen).tolist()
    seq, _ = prefill(lm, prefix, room=MAX_WIDTH + 1, reuse=False)
    best = {w: float("inf") for w in WIDTHS}
    for rep in range(repeats + 1):
        for w in WIDTHS:
            ids = torch.randint(0, lm.vocab_size, (w,), generator=gen).tolist()
            chain = list(range(-1, w - 1))
            synchronize(lm.device)
            started = time.perf_counter()
            seq.run(ids, chain, list(range(w)))
            synchronize(lm.device)
            elapsed = time.perf_counter() - started
            seq.truncate(context)
            if rep:  # the first round only warms up kernels and allocators
                best[w] = min(best[w], elapsed)
    seconds = [best[w] for w in WIDTHS]
    # wider can't really be cheaper; noise sometimes says so, which would mislead the planner
    for i in range(len(seconds) - 2, -1, -1):
        seconds[i] = min(seconds[i], seconds[i + 1])
    return seconds


def synchronize(device: torch.device) -> None:
    """Wait for queued device work before reading a clock (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def cost_profile(lm: LoadedModel) -> CostProfile:
    """The device's cost profile: from the model's memory, else from disk, else measured now (a
    few seconds) and written to disk for the next session."""
    key = _profile_key(lm)
    if key in lm.profiles:
        return lm.profiles[key]
    path = cache_dir("adaptive") / f"{key}.json"
    profile = None
    try:
        raw = json.loads(path.read_text())
        if tuple(raw["widths"]) == WIDTHS and len(raw["seconds"]) == len(raw["per_token"]) == len(WIDTHS):
            profile = CostProfile(WIDTHS, tuple(float(s) for s in raw["seconds"]),
                                  tuple(float(s) for s in raw["per_token"]), int(raw["context"]))
    except (OSError, ValueError, KeyError, TypeError):
        profile = None
    if profile is None:  # missing, broken, or from before costs followed the context
        profile = measure_profile(lm)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"widths": list(profile.widths), "seconds": list(profile.seconds),
                                   "per_token": list(profile.per_token), "context": profile.context}))
        os.replace(tmp, path)
    lm.profiles[key] = profile
    return profile


@dataclass
class CostTracker:
    """Corrects the measured profile with what steps really cost while decoding (other processes,
    a longer cache, per-step overhead), per width bucket. The planner uses the corrected costs."""

    profile: CostProfile
    ratio: np.ndarray = field(init=False)
    seen: np.ndarray = field(init=False)
    _log_widths: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.ratio = np.ones(len(self.profile.widths))
        self.seen = np.zeros(len(self.profile.widths), dtype=np.int64)
        self._log_widths = np.log(np.asarray(self.profile.widths))

    def observe(self, width: int, seconds: float, context: int | None = None) -> None:
        bucket = int(np.argmin(np.abs(self._log_widths - np.log(width))))
        observed = seconds / float(self.profile.cost(width, context))
        alpha = 0.5 if self.seen[bucket] < 4 else 0.1
        self.ratio[bucket] += alpha * (observed - self.ratio[bucket])
        self.seen[bucket] += 1

    def cost(self, width: np.ndarray | int, context: int | None = None) -> np.ndarray:
        known = self.seen >= 2
        base = self.profile.cost(width, context)
        if not known.any():
            return base
        widths = np.asarray(self.profile.widths)[known]
        return base * np.interp(width, widths, self.ratio[known])


def cost_tracker(lm: LoadedModel) -> CostTracker:
    """The step-cost corrections learnt so far with this model (they live on its state)."""
    key = _profile_key(lm)
    trackers = lm.state.trackers
    if key not in trackers:
        trackers[key] = CostTracker(cost_profile(lm))
    return trackers[key]


def baseline_tok_s(lm: LoadedModel) -> float:
    """Estimated plain greedy tokens/second on this device (1 / cost of a one-token forward)."""
    return 1.0 / cost_profile(lm).one_token_seconds


# --- acceptance statistics -------------------------------------------------------------------

SOURCES = ("context", "reference")
MATCH_BUCKETS = (1, 2, 3, 5, 8)  # lower bounds of match-length buckets
CANDIDATE_RANKS = 2  # best candidate of a source vs the others
MAX_CHAIN = 16
# conditional chance that a chain's next token is right, by match-length bucket (a prior only)
CHAIN_PRIOR = (0.35, 0.5, 0.65, 0.75, 0.85)
PRIOR_WEIGHT = 3.0
DECAY = 0.997  # old evidence fades so the planner follows the current text


def match_bucket(match_len: int) -> int:
    return int(np.searchsorted(MATCH_BUCKETS, match_len, side="right") - 1)


@dataclass
class AcceptanceStats:
    template_prior: np.ndarray
    drafted: np.ndarray = field(default=None)  # type: ignore[assignment]
    accepted: np.ndarray = field(default=None)  # type: ignore[assignment]
    prior: np.ndarray = field(default=None)  # type: ignore[assignment]

    # Planning picks the nodes whose estimates are highest, and those are the ones most likely to be
    # overestimated; comparing predicted with achieved accepted length corrects that bias.
    predicted: float = 4.0
    achieved: float = 4.0

    @property
    def calibration(self) -> float:
        return float(np.clip(self.achieved / self.predicted, 0.2, 1.5))

    def calibrate(self, predicted: float, achieved: int) -> None:
        self.predicted = 0.95 * self.predicted + predicted
        self.achieved = 0.95 * self.achieved + achieved

    def __post_init__(self) -> None:
        chain_prior = np.array([[[CHAIN_PRIOR[b] ** (d + 1) * (1.0 if r == 0 else 0.6)
                                  for d in range(MAX_CHAIN)] for r in range(CANDIDATE_RANKS)]
                                for b in range(len(MATCH_BUCKETS))])
        per_source = chain_prior.reshape(-1)
        self.prior = np.concatenate([self.template_prior] + [per_source] * len(SOURCES))
        if self.drafted is None:
            self.drafted = np.zeros_like(self.prior)
            self.accepted = np.zeros_like(self.prior)

    @property
    def template_slots(self) -> int:
        return len(self.template_prior)

    def chain_slots(self, source: int, match_len: int, rank: int, length: int) -> np.ndarray:
        base = self.template_slots + source * len(MATCH_BUCKETS) * CANDIDATE_RANKS * MAX_CHAIN
        base += (match_bucket(match_len) * CANDIDATE_RANKS + min(rank, CANDIDATE_RANKS - 1)) * MAX_CHAIN
        return base + np.arange(min(length, MAX_CHAIN))

    def estimate(self, slots: np.ndarray) -> np.ndarray:
        return (self.accepted[slots] + PRIOR_WEIGHT * self.prior[slots]) / (self.drafted[slots] + PRIOR_WEIGHT)

    def record(self, drafted_slots: list[int], accepted_slots: list[int]) -> None:
        self.drafted *= DECAY
        self.accepted *= DECAY
        np.add.at(self.drafted, drafted_slots, 1.0)
        np.add.at(self.accepted, accepted_slots, 1.0)

    def source_of(self, slot: int) -> str:
        if slot < self.template_slots:
            return "recycling"
        per = len(MATCH_BUCKETS) * CANDIDATE_RANKS * MAX_CHAIN
        return SOURCES[(slot - self.template_slots) // per]


def best_count(sorted_probs: np.ndarray, profile: "CostProfile | CostTracker", limit: int = MAX_WIDTH - 1,
               context: int | None = None) -> int:
    """Number of draft nodes (likeliest first) that maximises expected tokens per second.

    Expected tokens from a verification = 1 (the token the model picks anyway) + the sum of the
    drafted nodes' acceptance chances; its cost is the forward at width 1 + nodes over a cache of
    `context` entries (a long cache makes every width dearer, the wide ones most).
    """
    n = min(len(sorted_probs), limit)
    gains = 1.0 + np.concatenate([[0.0], np.cumsum(sorted_probs[:n])])
    rate = gains / profile.cost(np.arange(1, n + 2), context)
    return int(np.argmax(rate))
