"""`draftpad bench --suggest`: superposed k-way suggestions against its peers, measured in one run.

Per prompt: superposed decoding (k drafts, one forward per step), one greedy completion of the same
length, k sequential sampled completions, and k-way batched sampling (one prefill, a batch of k).
Quality: each suggestion's perplexity under the model given the prompt, and distinct-n across the
k suggestions. Methods alternate in a rotating order and each keeps its best time of the rounds,
because this machine is shared and single runs stall.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from assistant.bench import DATA_DIR, DEFAULT_CORPUS

METHOD_NAMES = ("superposed", "greedy", "sequential", "batched")


@dataclass
class SuggestPrompt:
    id: str
    text: str
    kind: str = ""


@dataclass
class MethodRun:
    seconds: float = math.inf
    texts: list[str] = field(default_factory=list)
    token_ids: list[list[int]] = field(default_factory=list)
    perplexities: list[float] = field(default_factory=list)

    @property
    def mean_perplexity(self) -> float:
        return statistics.fmean(self.perplexities) if self.perplexities else math.nan


def _is_drafting_bench_default(path: str | Path) -> bool:
    # `draftpad bench` defaults --prompts to its drafting prompts (chat messages, not partial text)
    try:
        from assistant.bench import DEFAULT_PROMPTS
    except (ImportError, AttributeError):
        return False
    return Path(path).resolve() == Path(DEFAULT_PROMPTS).resolve()


def load_prompts(path: str | Path | None) -> list[SuggestPrompt]:
    """JSONL: {"id", "text"} per line ("prompt" is accepted for "text"); None = the shipped prompts."""
    from engine.errors import UserError

    if path and _is_drafting_bench_default(path):
        path = None
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UserError(f"cannot read prompts file {path}: {exc.strerror}") from exc
    else:
        lines = (DATA_DIR / "suggest_prompts.jsonl").read_text(encoding="utf-8").splitlines()
    prompts = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text = row["text"] if "text" in row else row["prompt"]
            prompts.append(SuggestPrompt(str(row.get("id", number)), str(text), str(row.get("kind", ""))))
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"prompts file line {number}: expected JSON with a 'text' field") from exc
    if not prompts:
        raise UserError("the prompts file has no prompts")
    return prompts


def corpus_excerpts(folder: Path, count: int, seed: int = 7, chars: int = 800) -> list[SuggestPrompt]:
    """`count` prompts that end mid-sentence inside real documents (their last `chars` characters),
    from a seeded choice of the Markdown and text files under `folder`: text the shipped prompts
    were not written for."""
    import random

    from engine.errors import UserError

    files = sorted(p for p in Path(folder).rglob("*") if p.suffix in (".md", ".txt") and p.is_file())
    random.Random(seed).shuffle(files)
    prompts: list[SuggestPrompt] = []
    rng = random.Random(seed)
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        if len(text) < 1500:
            continue
        cut = text.rfind(" ", 0, rng.randint(600, min(len(text) - 200, 3000)))
        if cut - (text.rfind("\n", 0, cut) + 1) < 30:  # not a heading or a short line
            continue
        prompts.append(SuggestPrompt(path.stem[:22], text[max(0, cut - chars):cut]))
        if len(prompts) == count:
            return prompts
    raise UserError(f"only {len(prompts)} excerpts could be cut from {folder} (asked for {count})")


def distinct_n(sequences: Sequence[Sequence[int]], n: int) -> float:
    """Unique n-grams over all n-grams across the k suggestions (1.0 = nothing repeated)."""
    grams = [tuple(seq[i:i + n]) for seq in sequences for i in range(len(seq) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def perplexity(lm: object, prompt_ids: Sequence[int], token_ids: Sequence[int]) -> float:
    """exp(mean NLL) of `token_ids` as a continuation of `prompt_ids` under the model."""
    import torch

    if not token_ids:
        return math.nan
    ids = torch.tensor([list(prompt_ids) + list(token_ids)], device=lm.device)
    with torch.inference_mode():
        logits = lm.model(input_ids=ids).logits[0, len(prompt_ids) - 1:-1].float()
    nll = torch.nn.functional.cross_entropy(logits, torch.tensor(list(token_ids), device=lm.device))
    return float(torch.exp(nll))


def batched_sample(lm: object, prompt_ids: Sequence[int], k: int, tokens: int, temperature: float, top_p: float,
                   seed: int) -> list[list[int]]:
    """k samples in one batch: one prefill, then a [k, 1] forward per step over a shared-then-copied cache."""
    import torch

    from engine.decode import prefill
    from engine.sampling import SamplingParams, make_generator, target_probs

    params = SamplingParams(temperature, top_p)
    generator = make_generator(seed, lm.device)
    eos = lm.eos_token_ids
    with torch.inference_mode():
        cache, logits = prefill(lm.model, list(prompt_ids), lm.device)
        cache.batch_repeat_interleave(k)
        logits = logits.unsqueeze(0).expand(k, -1)
        out: list[list[int]] = [[] for _ in range(k)]
        done = [False] * k
        for step in range(tokens):
            picked = torch.multinomial(target_probs(logits, params).cpu(), 1, generator=generator)[:, 0]
            for row, token in enumerate(picked.tolist()):
                if not done[row]:
                    if token in eos:
                        done[row] = True
                    else:
                        out[row].append(token)
            if all(done) or step == tokens - 1:
                break
            logits = lm.model(input_ids=picked.view(k, 1).to(lm.device), cache=cache, use_cache=True,
                              logits_to_keep=1).logits[:, -1]
    return out


def _timed(fn: Callable[[], list[list[int]]]) -> tuple[float, list[list[int]]]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def bench_prompt(lm: object, prompt_ids: list[int], ngram: object, *, k: int, tokens: int, rounds: int,
                 alpha: float, temperature: float, top_p: float, rotate: int = 0) -> dict[str, MethodRun]:
    from engine import GenerationConfig, generate
    from engine.superposed import superposed_decode

    def superposed() -> list[list[int]]:
        out = superposed_decode(lm, prompt_ids, k=k, max_tokens=tokens, ngram=ngram, alpha=alpha,
                                stop_at_sentence=False)
        return [s.token_ids for s in out.suggestions]

    def greedy() -> list[list[int]]:
        return [generate(lm, "", GenerationConfig(max_new_tokens=tokens, method="greedy"), prompt_ids=prompt_ids).token_ids]

    def sequential(seed: int) -> Callable[[], list[list[int]]]:
        def run() -> list[list[int]]:
            return [generate(lm, "", GenerationConfig(max_new_tokens=tokens, temperature=temperature, top_p=top_p,
                                                      seed=seed + i, method="greedy"), prompt_ids=prompt_ids).token_ids
                    for i in range(k)]
        return run

    def batched(seed: int) -> Callable[[], list[list[int]]]:
        return lambda: batched_sample(lm, prompt_ids, k, tokens, temperature, top_p, seed)

    runs = {name: MethodRun() for name in METHOD_NAMES}
    for r in range(rounds):
        makers = {"superposed": superposed, "greedy": greedy, "sequential": sequential(1000 * r),
                  "batched": batched(1000 * r)}
        order = list(METHOD_NAMES[(r + rotate) % 4:] + METHOD_NAMES[:(r + rotate) % 4])
        for name in order:
            seconds, ids = _timed(makers[name])
            run = runs[name]
            if seconds < run.seconds:
                run.seconds = seconds
            if r == 0:  # quality from the first round: sampled methods then use fixed seeds
                run.token_ids = ids
    for run in runs.values():
        run.texts = [lm.tokenizer.decode(ids, skip_special_tokens=True) for ids in run.token_ids]
        run.perplexities = [perplexity(lm, prompt_ids, ids) for ids in run.token_ids if ids]
    return runs


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def run_suggest_bench(args: argparse.Namespace) -> int:
    from assistant.drafting.suggestions import ngram_for, refresh_store
    from engine import load_model
    from engine.superposed import suggestion_prompt_ids

    k = int(getattr(args, "k", None) or 3)
    tokens = int(getattr(args, "suggest_tokens", None) or 16)
    # at least two rounds unless asked: one round on this shared machine is mostly noise
    rounds = max(1, int(getattr(args, "rounds", None) or max(2, getattr(args, "repeats", None) or 0)))
    from engine.superposed import DEFAULT_ALPHA

    alpha = float(getattr(args, "alpha", None) if getattr(args, "alpha", None) is not None else DEFAULT_ALPHA)
    temperature, top_p = 0.8, 0.95
    excerpts = int(getattr(args, "excerpts", 0) or 0)
    if excerpts > 0:
        prompts = corpus_excerpts(DEFAULT_CORPUS, excerpts)
    else:
        prompts = load_prompts(getattr(args, "prompts", None))
    lm = load_model(getattr(args, "model", "default"), getattr(args, "device", "auto"), getattr(args, "dtype", "auto"))
    refresh_store(lm)  # library + templates, as the editor would have them

    prepared = [(p, suggestion_prompt_ids(lm, p.text)) for p in prompts]
    # warm-up: first calls pay for lazy initialisation that is not part of any method's cost
    first_prompt, first_ids = prepared[0]
    bench_prompt(lm, first_ids, ngram_for(lm, first_prompt.text, refresh=False), k=k, tokens=tokens, rounds=1, alpha=alpha,
                 temperature=temperature, top_p=top_p)

    rows = []
    for index, (prompt, ids) in enumerate(prepared):
        runs = bench_prompt(lm, ids, ngram_for(lm, prompt.text, refresh=False), k=k, tokens=tokens, rounds=rounds, alpha=alpha,
                            temperature=temperature, top_p=top_p, rotate=index)
        rows.append((prompt, runs))
        if not getattr(args, "json", False):
            print(f"  {prompt.id}: superposed {runs['superposed'].seconds:.3f}s, greedy {runs['greedy'].seconds:.3f}s",
                  file=sys.stderr)

    summary = summarise(rows, k)
    report = {"k": k, "tokens": tokens, "rounds": rounds, "alpha": alpha, "summary": summary,
              "prompts": [{"id": p.id, **{name: {"seconds": round(r.seconds, 4), "texts": r.texts,
                                                  "perplexity": round(r.mean_perplexity, 3)}
                                           for name, r in runs.items()}} for p, runs in rows]}
    if getattr(args, "json", False):
        print(json.dumps(report))
    else:
        print_table(rows, summary, k, tokens, rounds, alpha, lm)
    json_out = getattr(args, "json_out", None)  # `draftpad bench --json FILE`
    if json_out:
        Path(json_out).write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


def summarise(rows: list[tuple[SuggestPrompt, dict[str, MethodRun]]], k: int) -> dict[str, float]:
    def median(values: list[float]) -> float:
        return statistics.median(values) if values else math.nan

    out: dict[str, float] = {
        "superposed_vs_greedy_time": median([r["superposed"].seconds / r["greedy"].seconds for _, r in rows]),
        "sequential_vs_superposed_time": median([r["sequential"].seconds / r["superposed"].seconds for _, r in rows]),
        "batched_vs_superposed_time": median([r["batched"].seconds / r["superposed"].seconds for _, r in rows]),
        "sequential_vs_greedy_time": median([r["sequential"].seconds / r["greedy"].seconds for _, r in rows]),
        "batched_vs_greedy_time": median([r["batched"].seconds / r["greedy"].seconds for _, r in rows]),
    }
    for name in METHOD_NAMES:
        out[f"{name}_perplexity"] = statistics.fmean([p for _, r in rows for p in r[name].perplexities])
        if name != "greedy":
            out[f"{name}_distinct1"] = statistics.fmean([distinct_n(r[name].token_ids, 1) for _, r in rows])
            out[f"{name}_distinct2"] = statistics.fmean([distinct_n(r[name].token_ids, 2) for _, r in rows])
        out[f"{name}_tokens"] = statistics.fmean([len(ids) for _, r in rows for ids in r[name].token_ids] or [0])
    out["superposed_vs_greedy_perplexity"] = out["superposed_perplexity"] / out["greedy_perplexity"]
    return {key: round(value, 4) for key, value in out.items()}


def print_table(rows: list[tuple[SuggestPrompt, dict[str, MethodRun]]], summary: dict[str, float], k: int,
                tokens: int, rounds: int, alpha: float, lm: object) -> None:
    print(f"suggestions: k={k}, {tokens} tokens, best of {rounds} rounds, alpha={alpha}, "
          f"{lm.device.type} {str(lm.dtype).replace('torch.', '')}")
    header = f"{'prompt':<22} {'super s':>8} {'greedy s':>8} {'seq s':>7} {'batch s':>8} {'sup/gr':>7} {'seq/sup':>8} " \
             f"{'ppl sup':>8} {'ppl gr':>7} {'ppl seq':>8} {'ppl bat':>8} {'d2 sup':>7} {'d2 seq':>7}"
    print(header)
    print("-" * len(header))
    for prompt, r in rows:
        sup, gr, seq, bat = (r[n] for n in METHOD_NAMES)
        print(f"{prompt.id[:22]:<22} {sup.seconds:>8.3f} {gr.seconds:>8.3f} {seq.seconds:>7.3f} {bat.seconds:>8.3f} "
              f"{sup.seconds / gr.seconds:>7.2f} {seq.seconds / sup.seconds:>8.2f} {_fmt(sup.mean_perplexity):>8} "
              f"{_fmt(gr.mean_perplexity):>7} {_fmt(seq.mean_perplexity):>8} {_fmt(bat.mean_perplexity):>8} "
              f"{distinct_n(sup.token_ids, 2):>7.2f} {distinct_n(seq.token_ids, 2):>7.2f}")
    s = summary
    print()
    print(f"median time superposed/greedy {s['superposed_vs_greedy_time']:.2f}x (target <= 1.25x); "
          f"sequential/superposed {s['sequential_vs_superposed_time']:.2f}x (target >= 2.4x); "
          f"batched/superposed {s['batched_vs_superposed_time']:.2f}x")
    print(f"median time vs greedy: superposed {s['superposed_vs_greedy_time']:.2f}x, sequential "
          f"{s['sequential_vs_greedy_time']:.2f}x, batched {s['batched_vs_greedy_time']:.2f}x")
    print(f"mean perplexity: superposed {s['superposed_perplexity']:.2f}, greedy {s['greedy_perplexity']:.2f} "
          f"({s['superposed_vs_greedy_perplexity']:.2f}x, target <= 1.3x), sequential {s['sequential_perplexity']:.2f}, "
          f"batched {s['batched_perplexity']:.2f}")
    print(f"mean tokens per suggestion: superposed {s['superposed_tokens']:.1f}, greedy {s['greedy_tokens']:.1f}, "
          f"sequential {s['sequential_tokens']:.1f}, batched {s['batched_tokens']:.1f}")
    print(f"distinct-1/2: superposed {s['superposed_distinct1']:.2f}/{s['superposed_distinct2']:.2f}, "
          f"sequential {s['sequential_distinct1']:.2f}/{s['sequential_distinct2']:.2f}, "
          f"batched {s['batched_distinct1']:.2f}/{s['batched_distinct2']:.2f}")
