"""`draftpad bench`: every decoding method on the same prompts, same process, same run.

Absolute speeds on a shared machine mean little, so the table is built from ratios measured
side by side: methods run in rotating order per prompt after a warm-up, and each method's speedup
is the median of its per-prompt ratios to `hf-greedy` (transformers' own `generate`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HF_METHODS = ("hf-greedy", "hf-prompt-lookup")
COLD = " (cold table)"


@dataclass(frozen=True)
class BenchPrompt:
    id: str
    prompt: str | list[dict[str, str]]
    max_new_tokens: int | None = None
    references: tuple[str, ...] = ()


@dataclass
class Run:
    tokens: list[int]
    seconds: float
    forwards: int

    @property
    def tok_s(self) -> float:
        return len(self.tokens) / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Row:
    method: str
    runs: dict[str, Run] = field(default_factory=dict)  # prompt id -> best run


def load_prompts(path: Path) -> list[BenchPrompt]:
    """Parse the JSONL prompt file; every problem names file:line."""
    from engine.errors import UserError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read prompt file {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    prompts: list[BenchPrompt] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{where}: not valid JSON ({exc.msg})") from exc
        prompts.append(_prompt_from_row(row, where, len(prompts)))
    if not prompts:
        raise UserError(f"{path}: no prompts in the file")
    return prompts


def _prompt_from_row(row: object, where: str, index: int) -> BenchPrompt:
    from engine.errors import UserError

    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object")
    pid = str(row.get("id", f"prompt-{index + 1}"))
    if "messages" in row:
        messages = row["messages"]
        ok = isinstance(messages, list) and messages and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages)
        if not ok:
            raise UserError(f"{where}: 'messages' must be a non-empty list of {{role, content}} strings")
        prompt: str | list[dict[str, str]] = [{"role": m["role"], "content": m["content"]} for m in messages]
    elif isinstance(row.get("prompt"), str) and row["prompt"].strip():
        prompt = row["prompt"]
    else:
        raise UserError(f"{where}: needs 'messages' or a non-empty 'prompt'")
    limit = row.get("max_new_tokens")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise UserError(f"{where}: 'max_new_tokens' must be a positive integer")
    refs = row.get("references", [])
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise UserError(f"{where}: 'references' must be a list of strings")
    return BenchPrompt(pid, prompt, limit, tuple(refs))


def parse_methods(text: str, known: set[str]) -> list[str]:
    from engine.errors import UserError

    methods = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in known and m not in HF_METHODS]
    if unknown:
        raise UserError(f"unknown method(s) {', '.join(unknown)} (choose from {', '.join([*HF_METHODS, *sorted(known)])})")
    if "hf-greedy" not in methods:
        methods.insert(0, "hf-greedy")  # every speedup is measured against it
    return list(dict.fromkeys(methods))


class ForwardCounter:
    """Counts the model's forward calls (HF generate reports no stats of its own)."""

    def __init__(self, model) -> None:
        self.count = 0
        self._handle = model.register_forward_hook(self._hook)

    def _hook(self, *_args) -> None:
        self.count += 1

    def close(self) -> None:
        self._handle.remove()


def run_hf(lm, prompt_ids: list[int], max_new: int, lookup: bool) -> Run:
    import torch

    ids = torch.tensor([prompt_ids], device=lm.device)
    kwargs = dict(max_new_tokens=max_new, do_sample=False, attention_mask=torch.ones_like(ids),
                  pad_token_id=min(lm.eos_token_ids) if lm.eos_token_ids else None)
    kwargs.update(temperature=None, top_p=None, top_k=None)
    if lookup:
        kwargs["prompt_lookup_num_tokens"] = 10
    counter = ForwardCounter(lm.model)
    try:
        started = time.perf_counter()
        with torch.inference_mode():
            out = lm.model.generate(ids, **kwargs)
        seconds = time.perf_counter() - started
    finally:
        counter.close()
    tokens = out[0, len(prompt_ids):].tolist()
    cut = next((i for i, t in enumerate(tokens) if t in lm.eos_token_ids), len(tokens))
    return Run(tokens[:cut], seconds, counter.count)


def run_draftpad(lm, prompt: BenchPrompt, prompt_ids: list[int], max_new: int, method: str) -> Run:
    from engine.generation import GenerationConfig, generate

    config = GenerationConfig(max_new_tokens=max_new, method=method)
    result = generate(lm, prompt.prompt, config, prompt_ids=prompt_ids, reference_texts=prompt.references)
    return Run(result.token_ids, result.stats.seconds, result.stats.forwards)


def run_method(lm, method: str, prompt: BenchPrompt, prompt_ids: list[int], max_new: int) -> Run:
    if method in HF_METHODS:
        return run_hf(lm, prompt_ids, max_new, lookup=method == "hf-prompt-lookup")
    if method.endswith(COLD):
        from engine.speculative import fresh_state

        with fresh_state(lm):
            return run_draftpad(lm, prompt, prompt_ids, max_new, method[: -len(COLD)])
    return run_draftpad(lm, prompt, prompt_ids, max_new, method)


def summarise(rows: list[Row], prompts: list[BenchPrompt]) -> list[dict]:
    base, greedy = rows[0].runs, next((r.runs for r in rows if r.method == "greedy"), None)
    out = []
    for row in rows:
        ids = [p.id for p in prompts if p.id in row.runs]
        runs = [row.runs[i] for i in ids]
        ratios = [row.runs[i].tok_s / base[i].tok_s for i in ids if base[i].tok_s > 0]
        vs_greedy = [row.runs[i].tok_s / greedy[i].tok_s for i in ids if greedy and greedy[i].tok_s > 0]
        out.append({
            "method": row.method,
            "median_tok_s": round(statistics.median(r.tok_s for r in runs), 2),
            "speedup_vs_hf_greedy": round(statistics.median(ratios), 3) if ratios else 0.0,
            "tokens_per_forward": round(statistics.mean(len(r.tokens) / r.forwards for r in runs if r.forwards), 3),
            "identical": sum(row.runs[i].tokens == base[i].tokens for i in ids),
            "prompts": len(ids),
            "worst_vs_greedy": round(min(vs_greedy), 3) if vs_greedy else None,
        })
    return out


def format_table(summary: list[dict], header: str) -> str:
    cols = ("method", "median tok/s", "vs hf-greedy", "tokens/forward", "identical", "worst vs greedy")
    lines = [[r["method"], f"{r['median_tok_s']:.1f}", f"{r['speedup_vs_hf_greedy']:.2f}x",
              f"{r['tokens_per_forward']:.2f}", f"{r['identical']}/{r['prompts']}",
              "" if r["worst_vs_greedy"] is None else f"{r['worst_vs_greedy']:.2f}x"] for r in summary]
    widths = [max(len(c), *(len(l[i]) for l in lines)) for i, c in enumerate(cols)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([header, fmt(cols), fmt(["-" * w for w in widths]), *map(fmt, lines)])


def run_decoding_bench(args: argparse.Namespace) -> int:
    from engine.errors import UserError
    from engine.generation import METHODS, encode_prompt
    from engine.loading import load_model

    if args.max_new_tokens < 1 or args.repeats < 1:
        raise UserError("--max-new-tokens and --repeats must be at least 1")
    prompts = load_prompts(args.prompts)
    methods = parse_methods(args.methods, set(METHODS))
    if not args.no_cold:
        # one cold row is enough to show what the persisted table is worth; auto is the default method
        cold = "auto" if "auto" in methods else "recycling" if "recycling" in methods else None
        methods += [cold + COLD] if cold else []
    lm = load_model(args.model, args.device, args.dtype)
    from engine.adaptive import cost_profile
    from engine.recycling import forget_shared

    cost_profile(lm)  # measured once per device and cached; keep it out of the timed runs
    forget_shared(lm.identity)  # the warm rows start from the table persisted on disk, as a new session would
    encoded = [encode_prompt(lm, p.prompt) for p in prompts]
    say = lambda text: print(text, file=sys.stderr, flush=True)
    say(f"bench: {len(prompts)} prompts, {', '.join(methods)}; model {lm.resolved.display}, "
        f"{str(lm.dtype).replace('torch.', '')} on {lm.device}")
    for method in methods:  # warm-up: first calls pay for allocators and lazy initialisation
        run_method(lm, method, prompts[0], encoded[0], 8)
    rows = [Row(m) for m in methods]
    for index, (prompt, ids) in enumerate(zip(prompts, encoded)):
        max_new = prompt.max_new_tokens or args.max_new_tokens
        order = rows[index % len(rows):] + rows[:index % len(rows)]  # rotate who goes first
        for _ in range(args.repeats):
            for row in order:
                run = run_method(lm, row.method, prompt, ids, max_new)
                best = row.runs.get(prompt.id)
                if best is None or run.tok_s > best.tok_s:
                    row.runs[prompt.id] = run
        say(f"  {prompt.id} ({len(ids)} prompt tokens): " + ", ".join(
            f"{r.method} {r.runs[prompt.id].tok_s:.1f}" for r in rows))
    summary = summarise(rows, prompts)
    dtype = str(lm.dtype).replace("torch.", "")
    print(format_table(summary, f"draftpad bench: {len(prompts)} prompts, {args.max_new_tokens} new tokens, "
                                f"{dtype} on {lm.device} ({lm.resolved.display})"))
    if args.json_out:
        payload = {"model": lm.resolved.display, "dtype": dtype, "device": str(lm.device), "rows": summary}
        try:
            args.json_out.write_text(json.dumps(payload, indent=2) + "\n")
        except OSError as exc:
            raise UserError(f"cannot write {args.json_out}: {exc.strerror or exc}") from exc
    return 0
