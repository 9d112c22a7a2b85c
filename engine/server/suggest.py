"""k continuations of the text being typed, from the server: one request with `n=k` where the
server honours it (llama.cpp, vLLM), else k requests at once (Ollama and others answer `n` with
one choice). The first concurrent request is greedy so the best guess is always among them.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from engine.errors import UserError
from engine.prompt_window import TAIL_CHARS, after_the_space, prompt_text, without_typed_space
from engine.server.client import ServerError
from engine.server.model import ServerModel

SENTENCE_ENDS = (".", "!", "?")
SAMPLE_TEMPERATURE = 0.8
SAMPLE_TOP_P = 0.95
EXTRA_ROUNDS = 2  # more sampled requests when duplicates leave fewer than k distinct suggestions


@dataclass
class ServerSuggestion:
    text: str
    score: float  # mean log-probability per token where the server reports it, else 0
    token_ids: list[int] = field(default_factory=list)
    complete: bool = True


@dataclass
class SuggestOutcome:
    suggestions: list[ServerSuggestion]
    mode: str = ""  # "n" (one request, n=k) or "concurrent" (one request per suggestion)
    requests: int = 0
    seconds: float = 0.0
    cancelled: bool = False


def cut_suggestion(text: str, min_words: int = 4) -> tuple[str, bool]:
    """The suggestion the editor shows: up to the first line end once there is text, or the first
    sentence end once it has `min_words` words, as the local suggestions stop. (text, ended)."""
    body = text
    lead = len(body) - len(body.lstrip("\n"))
    if lead and body.strip():
        body = body[lead:]  # a continuation may open a new paragraph: keep the paragraph
    newline = body.find("\n")
    if newline >= 0:
        body, ended = body[:newline], True
    else:
        ended = False
    words = 0
    for i, ch in enumerate(body):
        if ch.isspace() and i and not body[i - 1].isspace():
            words += 1
        if ch in SENTENCE_ENDS and words + 1 >= min_words and (i + 1 == len(body) or body[i + 1].isspace()):
            return body[: i + 1], True
    return body.rstrip("\n"), ended


def drop_cut_word(text: str) -> str:
    """A text the token limit ended ("delivered to the L") without its last word, unless that is
    all it has: the server's next token is unknown, so whether the word was whole is too."""
    if not text[-1:].isalnum():
        return text
    space = max(text.rfind(" "), text.rfind("\t"))
    return text[:space] if text[:space].strip() else text


def mean_logprob(choice: dict, kept_chars: int) -> float:
    """Mean log-probability of the tokens that make up the kept text (OpenAI's legacy
    `token_logprobs` or llama.cpp's `content` list); 0.0 when the server sent none."""
    lp = choice.get("logprobs")
    if not isinstance(lp, dict):
        return 0.0
    if isinstance(lp.get("content"), list):
        pairs = [(str(t.get("token", "")), t.get("logprob")) for t in lp["content"] if isinstance(t, dict)]
    else:
        pairs = list(zip([str(t) for t in lp.get("tokens") or []], lp.get("token_logprobs") or []))
    total, count, chars = 0.0, 0, 0
    for token, value in pairs:
        if chars >= kept_chars or value is None:
            break
        total, count, chars = total + float(value), count + 1, chars + len(token)
    return total / count if count else 0.0


def _body(lm: ServerModel, prompt: str, max_tokens: int, n: int, temperature: float, seed: int | None) -> dict:
    body: dict[str, Any] = {"model": lm.model, "prompt": prompt, "max_tokens": max_tokens, "temperature": temperature,
                            "stream": False, "logprobs": 1}
    if temperature > 0:
        body["top_p"] = SAMPLE_TOP_P
    if n > 1:
        body["n"] = n
    if seed is not None:
        body["seed"] = seed
    return body


def _choices(reply: Any) -> list[dict]:
    choices = reply.get("choices") if isinstance(reply, dict) else None
    return [c for c in choices or [] if isinstance(c, dict)]


def _n_refused(exc: ServerError) -> bool:
    text = str(exc).lower()
    return "answered 4" in text and ("choice" in text or " n " in text or "'n'" in text or '"n"' in text)


class _Collector:
    """Distinct suggestions in arrival order, at most k."""

    def __init__(self, k: int, min_words: int) -> None:
        self.k, self.min_words = k, min_words
        self.items: list[ServerSuggestion] = []
        self.seen: set[str] = set()

    def add(self, choice: dict) -> None:
        raw = choice.get("text") or ""
        text, ended = cut_suggestion(raw if isinstance(raw, str) else "", self.min_words)
        if not ended and choice.get("finish_reason") == "length":
            text = drop_cut_word(text)
        key = " ".join(text.split()).casefold()
        if not key or key in self.seen or len(self.items) >= self.k:
            return
        self.seen.add(key)
        self.items.append(ServerSuggestion(text, mean_logprob(choice, len(text)), [], ended or
                                           choice.get("finish_reason") == "stop"))

    @property
    def full(self) -> bool:
        return len(self.items) >= self.k


def suggest(lm: ServerModel, prefix: str, k: int = 3, max_tokens: int = 16, *, cancel: threading.Event | None = None,
            heading: str = "", tail_chars: int = TAIL_CHARS, min_words: int = 4, seed: int = 0) -> SuggestOutcome:
    """Up to k distinct continuations of `prefix`, best score first; the model reads `heading`
    first (engine.prompt_window)."""
    if k < 1 or max_tokens < 1:
        raise UserError("k and max_tokens must be at least 1")
    outcome = SuggestOutcome([])
    prefix, spaced = without_typed_space(prefix)  # as the local engine does; the suggestions follow the space
    if not prefix.strip():
        return outcome
    if cancel is not None and cancel.is_set():
        outcome.cancelled = True
        return outcome
    prompt = prompt_text(prefix, heading, tail_chars)
    found = _Collector(k, min_words)
    started = time.perf_counter()
    if k > 1 and lm.honours_n is not False:
        try:
            choices = _choices(lm.client.post_json("completions", _body(lm, prompt, max_tokens, k, SAMPLE_TEMPERATURE,
                                                                        seed)))
            outcome.requests += 1
            lm.honours_n = len(choices) >= k
            outcome.mode = "n" if lm.honours_n else "concurrent"
            for choice in choices:
                found.add(choice)
        except ServerError as exc:
            if not _n_refused(exc):
                raise
            lm.honours_n, outcome.mode = False, "concurrent"
    else:
        outcome.mode = "concurrent" if k > 1 else "single"
    rounds = 0
    while not found.full and rounds <= EXTRA_ROUNDS:
        if cancel is not None and cancel.is_set():
            outcome.cancelled = True
            break
        missing = k - len(found.items)
        # the greedy continuation goes first, once: it is the model's own best guess
        greedy = outcome.requests == 0
        count = missing if rounds == 0 else 2 * missing
        bodies = [_body(lm, prompt, max_tokens, 1, 0.0 if greedy and i == 0 else SAMPLE_TEMPERATURE,
                        None if greedy and i == 0 else seed + 1 + rounds * 97 + i) for i in range(count)]
        if not _concurrent(lm, bodies, found, cancel, outcome):
            break
        rounds += 1
    outcome.seconds = time.perf_counter() - started
    outcome.suggestions = sorted(found.items, key=lambda s: -s.score) if any(s.score for s in found.items) \
        else found.items
    if spaced:
        outcome.suggestions = after_the_space(outcome.suggestions)
    return outcome


def _concurrent(lm: ServerModel, bodies: list[dict], found: _Collector, cancel: threading.Event | None,
                outcome: SuggestOutcome) -> bool:
    """Send the requests at once; False when cancelled. The first error raises unless some
    suggestion already came back (then the others are enough to show)."""
    pool = ThreadPoolExecutor(max_workers=len(bodies), thread_name_prefix="draftpad-suggest")
    pending: set[Future] = {pool.submit(lm.client.post_json, "completions", body) for body in bodies}
    outcome.requests += len(bodies)
    try:
        while pending:
            done, pending = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    for choice in _choices(future.result()):
                        found.add(choice)
                except ServerError:
                    if not found.items and not pending:
                        raise
            if cancel is not None and cancel.is_set():
                outcome.cancelled = True
                return False
        return True
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
