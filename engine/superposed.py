"""Several continuations for about the cost of one: Superposed Decoding (Shen et al., 2024),
checked by one exact forward.

One forward per step. Its input is not a token but the weighted sum of the k drafts' latest token
embeddings, so the model's output approximates a mixture of the drafts' next-token distributions.
Each draft extends with its best token of that one distribution, scored together with an n-gram
model over the draft's own history, and a draft branches where a second token is nearly as likely.
Because the mix only approximates each draft's context, a last forward runs all drafts as one token
tree and cuts each where the model disagrees with it. With k = 1 and no n-gram it is exactly greedy.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
from engine.errors import UserError
from engine.loading import LoadedModel
from engine.ngram import NgramModel
from engine.prompt_window import TAIL_CHARS, after_the_space, prompt_text, without_typed_space
from engine.sequence import Sequence as KVSequence, prefill, remember
from engine.tree import DraftTree, Trie, select

# Text that ends a suggestion: a line end always, a sentence end once the suggestion has some body.
SENTENCE_ENDS = (".", "!", "?")
INSTRUCTION = "Continue the text. Write only the next words."
# Tuned with SmolLM2-135M on the shipped suggest prompts (with and without the corpus as library)
# and on 40 corpus excerpts (`draftpad bench --suggest [--excerpts 40]`). A 135M model reads an even
# blend of different tokens badly, so the mix leans toward the better drafts and scores use a low
# temperature. The n-gram model is blended in probability space, so it lifts tokens the library
# knows and never vetoes one it has not seen.
DEFAULT_ALPHA = 0.3
DEFAULT_TEMPERATURE = 0.5
DEFAULT_SHARPNESS = 1.0
# The check keeps a draft's token while its exact probability is at least this share of the
# model's best token there, and replaces the first token that falls short with that best token.
DEFAULT_CHECK = 0.3
# Drafts other than the best are checked on this many tokens: few survive further, and a narrower
# tree forward costs less.
ALTERNATIVE_TOKENS = 6
# A draft branches into a token whose probability is at least this share of its best token's:
# lower shares gave more varied but less likely suggestions (40 excerpts, perplexity vs greedy and
# distinct-2: 0.3 -> 1.47x, 0.77; 0.5 -> 1.37x, 0.76; 0.7 -> 1.28x, 0.66; never -> 1.38x, 0.66).
DEFAULT_BRANCH = 0.7
# The check also runs the model's likeliest next tokens after the prompt, this many: on the shipped
# suggest prompts and corpus excerpts, the word typed next was among the top 4 in 9 of 16 texts.
NEXT_WORDS = 4


@dataclass
class Suggestion:
    text: str
    score: float  # mean log-probability per token under the model (higher is better)
    token_ids: list[int] = field(default_factory=list)
    complete: bool = True  # False: cut short where the model disagreed with the draft


@dataclass
class SuperposedOutcome:
    suggestions: list[Suggestion]
    prompt_tokens: int = 0
    steps: int = 0
    forwards: int = 0
    cancelled: bool = False
    prefill_seconds: float = 0.0
    reused_tokens: int = 0  # prompt tokens whose KV came from the prefix cache


@dataclass
class _Draft:
    tokens: list[int]
    score: float  # running sum of per-step scores (after the check: exact log-probabilities)
    complete: bool = True  # False once the check had to cut it short


def suggestion_prompt_ids(lm: LoadedModel, prefix: str, style: str = "raw", tail_chars: int = TAIL_CHARS,
                          heading: str = "") -> list[int]:
    """The ids the model continues from: `heading`, then the end of `prefix` (engine.prompt_window).
    `raw` continues the text as a document; `chat` asks the instruct model to continue and
    pre-fills its answer with the text's last line."""
    text = prompt_text(prefix, heading, tail_chars)
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


class _Pieces:
    """Memoised decoded text of single tokens (stop checks run on every candidate)."""

    def __init__(self, tokenizer: object) -> None:
        self.tokenizer, self.memo = tokenizer, {}

    def __call__(self, token: int) -> str:
        if token not in self.memo:
            self.memo[token] = self.tokenizer.decode([token])
        return self.memo[token]


@dataclass
class _Stops:
    eos: set[int]
    piece: _Pieces
    at_sentence: bool
    min_tokens: int
    whole_words: bool = False  # a draft the token limit cuts ends at its last whole word
    known_words: frozenset[str] = frozenset()  # the prompt's words (see may_end_on)

    def ends_before(self, token: int, length: int) -> bool:
        """The token is not part of the suggestion: EOS, or a line end once there is text."""
        return token in self.eos or (self.at_sentence and length > 0 and "\n" in self.piece(token))

    def ends_with(self, token: int, length: int) -> bool:
        """The token, at position `length` (1-based), closes the suggestion: a sentence end."""
        return self.at_sentence and length >= self.min_tokens and self.piece(token).rstrip().endswith(SENTENCE_ENDS)

    def may_end_on(self, token: int) -> bool:
        """Whether a suggestion whose next token is unknown may end with this one. With
        `whole_words`: punctuation, or a new word that the prompt has as a word, or else one that
        starts none of the prompt's words and has three letters or more: a shorter word start is
        more often a word's first piece (" L" of " Lessee") than a word."""
        text = self.piece(token)
        if not self.whole_words or not text[-1:].isalnum():
            return True
        word = text.strip()
        if not text[:1].isspace() or word in self.known_words:
            return text[:1].isspace()
        return len(word) >= 3 and not any(known.startswith(word) for known in self.known_words)


# ---- one step: score, extend, mix --------------------------------------------------------------

def token_scores(top_lp: list[float], top_ids: list[int], history: list[int], ngram: NgramModel | None,
                 alpha: float) -> list[float]:
    """log((1-α)·p_model + α·p_ngram) of each candidate after `history`; the model alone at α = 0."""
    if ngram is None or alpha <= 0:
        return top_lp
    probs = ngram.probabilities(history, top_ids)
    return [math.log((1 - alpha) * math.exp(lp) + alpha * p) for lp, p in zip(top_lp, probs)]


def ranked_candidates(drafts: list[_Draft], scores: list[list[float]], top_ids: list[int],
                      branch_floor: float = -math.inf) -> list[tuple[float, int, int]]:
    """(running score, draft index, token) with every draft's best child first, then every
    draft's second child, and so on. Drafts never merge: a beam that keeps the k best pairs
    collapses onto one parent and returns copies that differ in their last word. A draft only
    branches into tokens scoring within `branch_floor` of its best, so drafts part where the
    model is unsure rather than all at the first token."""
    candidates = []
    for i, (draft, row) in enumerate(zip(drafts, scores)):
        order = sorted(range(len(row)), key=lambda j: -row[j])  # stable: ties keep the model's order
        order = [j for rank, j in enumerate(order) if rank == 0 or row[j] >= row[order[0]] + branch_floor]
        candidates.extend((rank, -(draft.score + row[j]), i, top_ids[j]) for rank, j in enumerate(order))
    candidates.sort(key=lambda c: (c[0], c[1]))
    return [(-neg, i, token) for _, neg, i, token in candidates]


def extend(drafts: list[_Draft], candidates: list[tuple[float, int, int]], k: int, stops: _Stops
           ) -> tuple[list[_Draft], list[_Draft]]:
    """The next k live drafts and the drafts that ended at this step."""
    alive: list[_Draft] = []
    ended: list[_Draft] = []
    for score, i, token in candidates:
        if len(alive) >= k:
            break
        parent = drafts[i]
        if stops.ends_before(token, len(parent.tokens)):
            if parent.tokens:
                ended.append(_Draft(parent.tokens, parent.score))
            continue
        child = _Draft(parent.tokens + [token], score)
        (ended if stops.ends_with(token, len(child.tokens)) else alive).append(child)
    return alive, ended


def mixed_embedding(embed: torch.nn.Module, drafts: list[_Draft], sharpness: float, dtype: torch.dtype,
                    device: torch.device) -> torch.Tensor:
    """Σ w_d · embedding(last token of d), w ∝ exp(sharpness · running score): [1, 1, hidden]."""
    weights = torch.softmax(torch.tensor([sharpness * d.score for d in drafts], dtype=torch.float32), dim=0)
    ids = torch.tensor([d.tokens[-1] for d in drafts], device=device)
    mixed = (weights.to(device=device, dtype=dtype)[:, None] * embed(ids)).sum(dim=0)
    return mixed.view(1, 1, -1)  # the shape HF's inputs_embeds takes: [batch, tokens, hidden]


# ---- the exact check ---------------------------------------------------------------------------

def tree_logits(prompt: list[int], seq: KVSequence, drafts: list[list[int]]) -> tuple[DraftTree, torch.Tensor]:
    """Exact next-token logits at every node of the drafts' token tree, one forward: each token
    sees the prompt and its own draft only. Node 0 is the last prompt token, re-run so that the
    first draft tokens get their logits too; `seq` is cut back to the prompt first."""
    seq.truncate(len(prompt) - 1)
    trie = Trie.rooted(prompt[-1])
    for tokens in drafts:
        trie.add_chain(tuple(tokens), np.ones(len(tokens)), np.zeros(len(tokens), dtype=int))
    tree = select(trie, len(trie) - 1)
    return tree, seq.run(tree.tokens, tree.parent, tree.depth)


def drop_cut_word(tokens: list[int], piece: Callable[[int], str]) -> list[int]:
    """`tokens` without their last word ("delivered to the L" -> "delivered to the"), unless that
    is all they have, or they end in neither a letter nor a digit."""
    if not tokens or not piece(tokens[-1])[-1:].isalnum():
        return tokens
    start = len(tokens) - 1
    while start > 0 and not piece(tokens[start])[:1].isspace() and piece(tokens[start - 1])[-1:].isalnum():
        start -= 1
    return tokens[:start] if start > 0 else tokens


def cut_draft(tokens: list[int], tree: DraftTree, logprobs: torch.Tensor, floor: float, stops: _Stops, *,
              grow: bool, complete: bool) -> _Draft | None:
    """The draft up to its first token below the model's best + `floor` (log scale), which the best
    token replaces (the draft is then not complete). A draft that passes whole gets the best next
    token appended when it may `grow`: it was still running, or shortened before the check.
    With `stops.whole_words`, the draft ends on a whole word: where the model's best next token goes
    on with the last word, that word goes; a new word is appended only if it may end a suggestion.
    The score is the exact log-probability."""
    node, kept, lps = 0, [], []
    for token in tokens:
        if float(logprobs[node, token]) < float(logprobs[node].max()) + floor:
            grow, complete = True, False
            break
        kept.append(token)
        lps.append(float(logprobs[node, token]))
        node = tree.children[node][token]
        if stops.ends_with(token, len(kept)):
            grow = False
            break
    if grow:
        best_lp, best = logprobs[node].max(dim=-1)
        token = int(best)
        if not stops.ends_before(token, len(kept)):
            if stops.whole_words and stops.piece(token)[:1].isalnum():  # the model goes on with the last word
                kept = drop_cut_word(kept, stops.piece)
                lps = lps[:len(kept)]
            elif stops.may_end_on(token):
                kept.append(token)
                lps.append(float(best_lp))
    return _Draft(kept, sum(lps), complete) if kept else None


def check_drafts(prompt: list[int], seq: KVSequence, ended: list[_Draft], running: list[_Draft],
                 share: float, stops: _Stops, others_checked: int = ALTERNATIVE_TOKENS,
                 next_words: Sequence[int] = ()) -> tuple[list[_Draft], list[_Draft], DraftTree, torch.Tensor]:
    """Checked drafts, and alternatives: the best draft's prefixes ended by another plausible token;
    then the check's tree and logits. `running` drafts were stopped one token short: the check's
    logits give their last token. Drafts other than the best are checked on their first
    `others_checked` tokens only. `next_words` (tokens after the prompt) join the tree as leaves of
    their own: a few more nodes, so that the next request starts without a forward when the user
    types one of them instead of a suggestion (engine.prefix_cache keeps the tree)."""
    drafts = ended + running
    leader = max(drafts, key=_mean)
    token_lists = [d.tokens if d is leader else d.tokens[:others_checked] for d in drafts]
    tree, logits = tree_logits(prompt, seq, token_lists + [[t] for t in next_words])
    logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
    floor = math.log(share)
    checked = []
    for index, (tokens, draft) in enumerate(zip(token_lists, drafts)):
        shortened = len(tokens) < len(draft.tokens)
        kept = cut_draft(tokens, tree, logprobs, floor, stops, grow=shortened or index >= len(ended),
                         complete=not shortened)
        if kept is not None:
            checked.append(kept)
    return checked, alternatives(checked, tree, logprobs, floor, stops), tree, logits


def alternatives(checked: list[_Draft], tree: DraftTree, logprobs: torch.Tensor, floor: float, stops: _Stops
                 ) -> list[_Draft]:
    """The best draft's prefixes ended by another token the model finds plausible there: spares
    for when the drafts give fewer than k distinct texts."""
    if not checked:
        return []
    best = max(checked, key=lambda d: (d.complete, _mean(d)))
    out, node, total = [], 0, 0.0
    for position, token in enumerate(best.tokens):
        if token not in tree.children[node]:
            break  # the check's replacement token: no logits beyond it
        top_lp, top_ids = torch.topk(logprobs[node], 2)
        for lp, alt in zip(top_lp.tolist(), top_ids.tolist()):
            if alt != token and lp >= float(top_lp[0]) + floor and not stops.ends_before(alt, position) \
                    and stops.may_end_on(alt):
                out.append(_Draft(best.tokens[:position] + [alt], total + lp, False))
        total += float(logprobs[node, token])
        node = tree.children[node][token]
    return out


# ---- picking k ---------------------------------------------------------------------------------

def _mean(draft: _Draft) -> float:
    return draft.score / max(len(draft.tokens), 1)


def pick(tokenizer: object, drafts: list[_Draft], spare: list[_Draft], k: int) -> list[Suggestion]:
    """k distinct non-empty texts, best first: complete drafts before cut ones, each by mean score;
    `spare` only fills up. A text that merely starts another one, or only extends a better one,
    offers nothing new and is skipped."""
    tiered = [(tier + (not d.complete), d) for tier, group in ((0, drafts), (2, spare)) for d in group]
    chosen: list[Suggestion] = []
    for _, draft in sorted(tiered, key=lambda item: (item[0], -_mean(item[1]))):
        text = tokenizer.decode(draft.tokens, skip_special_tokens=True)
        if text.strip() and not any(other.text.startswith(text) or text.startswith(other.text) for other in chosen):
            chosen.append(Suggestion(text, _mean(draft), list(draft.tokens), draft.complete))
            if len(chosen) == k:
                break
    return chosen


# ---- the loop ----------------------------------------------------------------------------------

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
    check: float = DEFAULT_CHECK,
    branch: float = DEFAULT_BRANCH,
    on_update: Callable[[list[Suggestion]], None] | None = None,
    cancel: threading.Event | None = None,
    whole_words: bool = False,
) -> SuperposedOutcome:
    """k drafts decoded together, one forward per step on the mix of their latest tokens, then
    one exact check of all drafts (`check` = 0 skips it). With k = 1 and α = 0 it is greedy.
    `whole_words`: a suggestion that runs into `max_tokens` ends at its last whole word."""
    if k < 1 or max_tokens < 1 or top_m < 1:
        raise UserError("k, max_tokens and top_m must be at least 1")
    if not prompt_ids:
        raise UserError("nothing to continue: the text is empty")
    if not 0.0 <= alpha < 1.0 or not 0.0 <= check < 1.0:
        raise UserError("the n-gram weight alpha and the check share must be in [0, 1)")
    model, tokenizer, device = lm.model, lm.tokenizer, lm.device
    embed = model.get_input_embeddings()
    known = frozenset(re.findall(r"\w+", tokenizer.decode(prompt_ids))) if whole_words else frozenset()
    stops = _Stops(set(lm.eos_token_ids), _Pieces(tokenizer), stop_at_sentence, min_tokens, whole_words, known)
    if ngram is not None and (alpha <= 0 or ngram.empty):
        ngram = None
    history_len = max(ngram.weights) - 1 if ngram is not None else 0
    # scores are at `temperature`; the floor is set in plain probabilities, as the check's
    branch_floor = math.log(branch) / temperature if branch > 0 else -math.inf
    prompt = list(prompt_ids)
    outcome = SuperposedOutcome([], prompt_tokens=len(prompt))

    if cancel is not None and cancel.is_set():
        outcome.cancelled = True
        return outcome
    started, reused = time.perf_counter(), lm.state.prefixes.reused_tokens
    seq, logits = prefill(lm, prompt, room=k * max_tokens + NEXT_WORDS + 1)
    outcome.prefill_seconds = time.perf_counter() - started
    next_words: list[int] = []
    if lm.own_weights is not None:  # only our forward's sequences are remembered, so only they gain
        next_words = torch.topk(logits, min(NEXT_WORDS, logits.shape[-1])).indices.tolist()
    outcome.reused_tokens = lm.state.prefixes.reused_tokens - reused
    outcome.forwards = 1
    alive: list[_Draft] = [_Draft([], 0.0)]
    ended: list[_Draft] = []
    # with a check, its forward gives the drafts still running their last token
    steps = max_tokens - 1 if check > 0 and max_tokens > 1 else max_tokens
    for step in range(steps):
        if cancel is not None and cancel.is_set():
            outcome.cancelled = True
            break
        if step > 0:
            mixed = mixed_embedding(embed, alive, mix_sharpness, lm.dtype, device)
            logits = seq.run_embeds(mixed[0], keep=1)[-1]
            outcome.forwards += 1
        logprobs = torch.log_softmax(logits.float() / temperature, dim=-1)
        top_lp, top_ids = torch.topk(logprobs, min(top_m, logprobs.shape[-1]))
        top_lp = (top_lp - torch.logsumexp(top_lp, dim=0)).tolist()
        top_ids = top_ids.tolist()
        scores = [token_scores(top_lp, top_ids, (prompt + d.tokens)[-history_len:] if history_len else [], ngram, alpha)
                  for d in alive]
        alive, just_ended = extend(alive, ranked_candidates(alive, scores, top_ids, branch_floor), k, stops)
        ended += just_ended
        outcome.steps = step + 1
        if on_update is not None:
            on_update(pick(tokenizer, ended + alive, [], k))
        if len(ended) >= k or not alive:
            break
    if outcome.cancelled or check <= 0 or not ended + alive:
        outcome.suggestions = pick(tokenizer, ended + alive, [], k)
        return outcome
    if steps == max_tokens:
        ended, alive = ended + alive, []
    checked, spares, tree, logits = check_drafts(prompt, seq, ended, alive, check, stops, next_words=next_words)
    outcome.forwards += 1
    outcome.suggestions = pick(tokenizer, checked, spares, k)
    # the prompt and the whole check tree, with the logits after every node: accepting any
    # suggestion, typing its first words or a likely next word, then needs no forward
    remember(lm, seq, prompt, logits, tree.children)
    if on_update is not None:
        on_update(outcome.suggestions)
    return outcome


def suggest(lm: LoadedModel, prefix: str, k: int = 3, max_tokens: int = 16, ngram: NgramModel | None = None, *,
            style: str = "raw", heading: str = "", **options: Any) -> list[Suggestion]:
    """Up to k distinct continuations of `prefix` (the text being typed), best first, each ending
    at a stop or a whole word; the model reads `heading` first (see suggestion_prompt_ids).
    `options` go to superposed_decode: `on_update` gets the current drafts after every step and
    the checked suggestions at the end; a set `cancel` stops early and returns the unchecked
    drafts so far. After a typed space, the model continues the text before it (see
    engine.prompt_window.without_typed_space) and each suggestion starts after that space."""
    prefix, spaced = without_typed_space(prefix)
    if not prefix.strip():
        return []
    ids = suggestion_prompt_ids(lm, prefix, style, heading=heading)
    found = superposed_decode(lm, ids, k=k, max_tokens=max_tokens, ngram=ngram, whole_words=True,
                              **options).suggestions
    return after_the_space(found) if spaced else found
