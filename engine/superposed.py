"""Several continuations for about the cost of one: Superposed Decoding (Shen et al., 2024).

One forward per step. Its input is not a token but the weighted sum of the k drafts' latest token
embeddings, so the model's output approximates a mixture of the drafts' next-token distributions.
Each draft extends with the global top-m tokens of that one distribution; what tells drafts apart
is an n-gram model over each draft's own history. The best k (draft, token) pairs survive, as in a
beam search. It is an approximation, not lossless: with k = 1 and no n-gram it is exactly greedy.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from engine.decode import prefill
from engine.errors import UserError
from engine.loading import LoadedModel
from engine.ngram import NgramModel

# Text that ends a suggestion: a line end always, a sentence end once the suggestion has some body.
SENTENCE_ENDS = (".", "!", "?")
INSTRUCTION = "Continue the text. Write only the next words."
# Tuned on this project's suggest prompts with SmolLM2-135M (assistant/bench_suggest.py): a 135M
# model reads an even blend of different tokens badly, so the mix leans toward the best draft
# (sharpness 3) and scores use a low temperature. The n-gram term pulled suggestions toward library
# phrasing but raised their perplexity under the model (8 prompts, vs greedy: alpha 0.2 -> 1.34x,
# 0.1 -> 1.42x, 0 -> 1.18x), so it is off by default; callers and `draftpad suggest --alpha` turn it on.
DEFAULT_ALPHA = 0.0
DEFAULT_TEMPERATURE = 0.5
DEFAULT_SHARPNESS = 3.0


@dataclass
class Suggestion:
    text: str
    score: float  # mean per-token score (log scale, higher is better)
    token_ids: list[int] = field(default_factory=list)


@dataclass
class SuperposedOutcome:
    suggestions: list[Suggestion]
    prompt_tokens: int = 0
    steps: int = 0
    forwards: int = 0
    cancelled: bool = False


@dataclass
class _Draft:
    tokens: list[int]
    score: float  # running sum of per-step scores
    done: bool = False


def suggestion_prompt_ids(lm: LoadedModel, prefix: str, style: str = "raw", tail_chars: int = 1500) -> list[int]:
    """The ids the model continues from. `raw` continues the text as a document; `chat` asks the
    instruct model to continue and pre-fills its answer with the text's last part."""
    text = prefix[-tail_chars:]
    tokenizer = lm.tokenizer
    if style == "raw" or not getattr(tokenizer, "chat_template", None):
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if style != "chat":
        raise UserError(f"unknown suggestion prompt style '{style}' (choose raw or chat)")
    context, _, tail = text.rpartition("\n")
    messages = [{"role": "user", "content": f"{INSTRUCTION}\n\n{context}".rstrip()}]
    head = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
    head = list(head["input_ids"] if isinstance(head, dict) else head)
    return head + list(tokenizer(tail, add_special_tokens=False)["input_ids"])


def _ends_sentence(piece: str, length: int, min_tokens: int) -> bool:
    return length >= min_tokens and piece.rstrip().endswith(SENTENCE_ENDS)


class _Pieces:
    """Memoised decoded text of single tokens (stop checks run on every candidate)."""

    def __init__(self, tokenizer: object) -> None:
        self.tokenizer, self.memo = tokenizer, {}

    def __call__(self, token: int) -> str:
        if token not in self.memo:
            self.memo[token] = self.tokenizer.decode([token])
        return self.memo[token]


@torch.inference_mode()
def superposed_decode(
    lm: LoadedModel,
    prompt_ids: Sequence[int],
    *,
    k: int = 3,
    max_tokens: int = 16,
    ngram: NgramModel | None = None,
    alpha: float = DEFAULT_ALPHA,
    top_m: int = 9,
    temperature: float = DEFAULT_TEMPERATURE,
    stop_at_sentence: bool = True,
    min_tokens: int = 4,
    mix_sharpness: float = DEFAULT_SHARPNESS,
    on_update: Callable[[list[Suggestion]], None] | None = None,
    cancel: threading.Event | None = None,
) -> SuperposedOutcome:
    if k < 1 or max_tokens < 1 or top_m < 1:
        raise UserError("k, max_tokens and top_m must be at least 1")
    if not prompt_ids:
        raise UserError("nothing to continue: the text is empty")
    if not 0.0 <= alpha < 1.0:
        raise UserError("the n-gram weight alpha must be in [0, 1)")
    model, tokenizer, device = lm.model, lm.tokenizer, lm.device
    embed = model.get_input_embeddings()
    eos = lm.eos_token_ids
    piece = _Pieces(tokenizer)
    use_ngram = ngram is not None and alpha > 0 and not ngram.empty
    history_len = max(ngram.weights) - 1 if use_ngram else 0
    prompt = list(prompt_ids)
    outcome = SuperposedOutcome([], prompt_tokens=len(prompt))

    if cancel is not None and cancel.is_set():
        outcome.cancelled = True
        return outcome
    cache, logits = prefill(model, prompt, device)
    outcome.forwards = 1
    alive: list[_Draft] = [_Draft([], 0.0)]
    finished: list[_Draft] = []
    spares: list[_Draft] = []  # runners-up of the last step, so k distinct strings can still be found
    # Beam widths larger than k keep spare candidates but would blur the superposition; k it is.
    for step in range(max_tokens):
        if cancel is not None and cancel.is_set():
            outcome.cancelled = True
            break
        if step > 0:
            # weights ∝ exp(sharpness · running score); sharpness > 1 leans the mix toward the best draft
            weights = torch.softmax(torch.tensor([mix_sharpness * d.score for d in alive], dtype=torch.float32), dim=0)
            ids = torch.tensor([d.tokens[-1] for d in alive], device=device)
            mixed = (weights.to(device=device, dtype=lm.dtype)[:, None] * embed(ids)).sum(dim=0)
            out = model(inputs_embeds=mixed.view(1, 1, -1), cache=cache, use_cache=True, logits_to_keep=1)
            logits = out.logits[0, -1]
            outcome.forwards += 1
        logprobs = torch.log_softmax(logits.float() / temperature, dim=-1)
        top_lp, top_ids = torch.topk(logprobs, min(top_m, logprobs.shape[-1]))
        top_lp = (top_lp - torch.logsumexp(top_lp, dim=0)).tolist()
        top_ids = top_ids.tolist()
        candidates: list[tuple[float, int, int]] = []  # (score, draft index, token)
        for i, draft in enumerate(alive):
            if use_ngram:
                history = (prompt + draft.tokens)[-history_len:]
                probs = ngram.probabilities(history, top_ids)
                # unsupported tokens get a floor, not -inf: a small library must not veto the model
                scores = [(1 - alpha) * lp + alpha * math.log(max(p, 1e-4)) for lp, p in zip(top_lp, probs)]
            else:
                scores = top_lp
            candidates.extend((draft.score + s, i, t) for s, t in zip(scores, top_ids))
        # stable sort: ties keep the model's own order, so k = 1 picks exactly the argmax
        candidates.sort(key=lambda c: -c[0])
        next_alive: list[_Draft] = []
        spares = []
        for score, i, token in candidates:
            parent = alive[i]
            # a line end finishes a suggestion without being part of it (ghost text stays on its line)
            line_end = stop_at_sentence and parent.tokens and "\n" in piece(token)
            if token in eos or line_end:
                if len(next_alive) < k:
                    finished.append(_Draft(parent.tokens, score, done=True))
                continue
            draft = _Draft(parent.tokens + [token], score)
            if len(next_alive) >= k:
                spares.append(draft)
                continue
            if stop_at_sentence and _ends_sentence(piece(token), len(draft.tokens), min_tokens):
                draft.done = True
                finished.append(draft)
            else:
                next_alive.append(draft)
        outcome.steps = step + 1
        alive = next_alive
        if on_update is not None:
            on_update(_rank(tokenizer, finished + alive, [], k))
        if len(finished) >= k or not alive:
            break
    if len(finished) >= k:
        outcome.suggestions = _rank(tokenizer, finished, alive + spares, k)
    else:
        outcome.suggestions = _rank(tokenizer, finished + alive, spares, k)
    return outcome


def _mean(draft: _Draft) -> float:
    return draft.score / max(len(draft.tokens), 1)


def _rank(tokenizer: object, primary: list[_Draft], fallback: list[_Draft], k: int) -> list[Suggestion]:
    """Best k distinct non-empty texts by mean per-token score; `fallback` only fills up."""
    ranked = sorted(primary, key=lambda d: -_mean(d)) + sorted(fallback, key=lambda d: -_mean(d))
    out: list[Suggestion] = []
    seen: set[str] = set()
    for draft in ranked:
        text = tokenizer.decode(draft.tokens, skip_special_tokens=True)
        key = text.strip()
        if not key or key in seen:
            continue
        seen.add(key)
        out.append(Suggestion(text, _mean(draft), list(draft.tokens)))
        if len(out) == k:
            break
    return out


def suggest(
    lm: LoadedModel,
    prefix: str,
    k: int = 3,
    max_tokens: int = 16,
    ngram: NgramModel | None = None,
    alpha: float = DEFAULT_ALPHA,
    temperature: float = DEFAULT_TEMPERATURE,
    on_update: Callable[[list[Suggestion]], None] | None = None,
    cancel: threading.Event | None = None,
    *,
    style: str = "raw",
    top_m: int = 9,
    mix_sharpness: float = DEFAULT_SHARPNESS,
    stop_at_sentence: bool = True,
) -> list[Suggestion]:
    """Up to k distinct continuations of `prefix` (the text being typed), best first.
    `on_update` gets the current best drafts after every step; a set `cancel` stops early and
    returns the drafts so far (possibly none)."""
    if not prefix.strip():
        return []
    ids = suggestion_prompt_ids(lm, prefix, style)
    return superposed_decode(lm, ids, k=k, max_tokens=max_tokens, ngram=ngram, alpha=alpha, top_m=top_m,
                             temperature=temperature, mix_sharpness=mix_sharpness,
                             stop_at_sentence=stop_at_sentence, on_update=on_update, cancel=cancel).suggestions
