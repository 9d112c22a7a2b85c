"""`draftpad bench`: every decoding method on the same prompts, same process, same run.

Absolute speeds on a shared machine mean little, so the table is built from ratios measured
side by side: methods run in rotating order per prompt after a warm-up, and each method's speedup
is the median of its per-prompt ratios to `hf-greedy` (transformers' own `generate`).

Nothing a row learns helps the next one: every draftpad run starts from its own state, a
recycling table warmed on the *other* prompts (never on the text it is about to generate), or an
empty one for the cold rows, and no prompt KV is reused between rows. With `--llama-server PATH`,
llama.cpp's server runs the same GGUF with the same thread count on loopback (plain and
`--spec-type ngram-mod`), interleaved with the other rows and timed end to end the same way.
`--forward-cost` times one forward by width against its Linear layers alone; `--prefix-reuse`
times a suggestion's prefill right after one on the same text minus its last word.
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
LLAMA_PLAIN, LLAMA_SPEC = "llama.cpp", "llama.cpp ngram-mod"


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


def run_method(lm, method: str, prompt: BenchPrompt, prompt_ids: list[int], max_new: int,
               warm=None, servers: dict | None = None) -> Run:
    """One timed run. draftpad methods start from a copy of `warm` (a state whose table learnt
    other prompts), cold rows from an empty state; llama.cpp rows go to their server."""
    from engine import fresh_state

    if method in HF_METHODS:
        return run_hf(lm, prompt_ids, max_new, lookup=method == "hf-prompt-lookup")
    if servers and getattr(servers.get(method), "takes_prompt", False):  # --server: the product's own path
        return servers[method].run(lm, prompt, max_new)
    if servers and method in servers:
        tokens, seconds = servers[method].complete(prompt_ids, max_new)
        cut = next((i for i, t in enumerate(tokens) if t in lm.eos_token_ids), len(tokens))
        return Run(tokens[:cut], seconds, 0)
    if method.endswith(COLD):
        with fresh_state(lm):
            return run_draftpad(lm, prompt, prompt_ids, max_new, method[: -len(COLD)])
    with fresh_state(lm, warm.copy() if warm is not None else None):
        return run_draftpad(lm, prompt, prompt_ids, max_new, method)


def summarise(rows: list[Row], prompts: list[BenchPrompt]) -> list[dict]:
    base, greedy = rows[0].runs, next((r.runs for r in rows if r.method == "greedy"), None)
    llama = next((r.runs for r in rows if r.method == LLAMA_PLAIN), None)
    out = []
    for row in rows:
        ids = [p.id for p in prompts if p.id in row.runs]
        runs = [row.runs[i] for i in ids]
        ratios = [row.runs[i].tok_s / base[i].tok_s for i in ids if base[i].tok_s > 0]
        vs_greedy = [row.runs[i].tok_s / greedy[i].tok_s for i in ids if greedy and greedy[i].tok_s > 0]
        vs_llama = [row.runs[i].tok_s / llama[i].tok_s for i in ids if llama and i in llama and llama[i].tok_s > 0]
        counted = [len(r.tokens) / r.forwards for r in runs if r.forwards]
        out.append({
            "method": row.method,
            "median_tok_s": round(statistics.median(r.tok_s for r in runs), 2),
            "speedup_vs_hf_greedy": round(statistics.median(ratios), 3) if ratios else 0.0,
            "tokens_per_forward": round(statistics.mean(counted), 3) if counted else None,
            "identical": sum(row.runs[i].tokens == base[i].tokens for i in ids),
            "prompts": len(ids),
            "worst_vs_greedy": round(min(vs_greedy), 3) if vs_greedy else None,
            "vs_llama_cpp": round(statistics.median(vs_llama), 3) if vs_llama else None,
        })
    return out


def format_table(summary: list[dict], header: str) -> str:
    with_llama = any(r.get("vs_llama_cpp") is not None for r in summary)
    cols = ("method", "median tok/s", "vs hf-greedy", "tokens/forward", "identical", "worst vs greedy",
            *(("vs llama.cpp",) if with_llama else ()))
    lines = [[r["method"], f"{r['median_tok_s']:.1f}", f"{r['speedup_vs_hf_greedy']:.2f}x",
              "" if r["tokens_per_forward"] is None else f"{r['tokens_per_forward']:.2f}",
              f"{r['identical']}/{r['prompts']}",
              "" if r["worst_vs_greedy"] is None else f"{r['worst_vs_greedy']:.2f}x",
              *(("" if r.get("vs_llama_cpp") is None else f"{r['vs_llama_cpp']:.2f}x",) if with_llama else ())]
             for r in summary]
    widths = [max(len(c), *(len(l[i]) for l in lines)) for i, c in enumerate(cols)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([header, fmt(cols), fmt(["-" * w for w in widths]), *map(fmt, lines)])


def run_decoding_bench(args: argparse.Namespace) -> int:
    from engine.errors import UserError
    from engine.generation import METHODS, encode_prompt
    from engine.loading import load_model

    if args.max_new_tokens < 1 or args.repeats < 1:
        raise UserError("--max-new-tokens and --repeats must be at least 1")
    if getattr(args, "forward_cost", False):
        return run_forward_cost(args)
    if getattr(args, "prefix_reuse", False):
        return run_prefix_reuse(args)
    prompts = load_prompts(args.prompts)
    methods = parse_methods(args.methods, set(METHODS))
    if not args.no_cold:
        # cold rows: the same methods from an empty table, i.e. what a first session gets
        methods += [m + COLD for m in ("recycling", "auto") if m in methods]
    lm = load_model(args.model, args.device, args.dtype)
    from engine import cost_profile, lessons, warmed_state

    servers = start_llama_servers(lm, args.llama_server) if getattr(args, "llama_server", None) else {}
    try:
        from assistant.bench.server_rows import server_rows

        servers.update(server_rows(args))
        methods[1:1] = list(servers)  # right after hf-greedy, interleaved like every other row
        cost_profile(lm)  # measured once per device and cached; keep it out of the timed runs
        encoded = [encode_prompt(lm, p.prompt) for p in prompts]
        say = lambda text: print(text, file=sys.stderr, flush=True)
        say(f"bench: {len(prompts)} prompts, {', '.join(methods)}; model {lm.resolved.display}, "
            f"{_engine_label(lm)}, {_threads()} threads")
        # each prompt's table learns the other prompts only, so no row has seen the text it generates
        taught = [lessons(lm, [ids]) for ids in encoded]
        warm = [warmed_state(lm, taught=[x for j, ls in enumerate(taught) if j != i for x in ls])
                for i in range(len(encoded))]
        for method in methods:  # warm-up: first calls pay for allocators and lazy initialisation
            run_method(lm, method, prompts[0], encoded[0], 8, warm[0], servers)
        rows = [Row(m) for m in methods]
        for index, (prompt, ids) in enumerate(zip(prompts, encoded)):
            max_new = prompt.max_new_tokens or args.max_new_tokens
            order = rows[index % len(rows):] + rows[:index % len(rows)]  # rotate who goes first
            for _ in range(args.repeats):
                for row in order:
                    run = run_method(lm, row.method, prompt, ids, max_new, warm[index], servers)
                    best = row.runs.get(prompt.id)
                    if best is None or run.tok_s > best.tok_s:
                        row.runs[prompt.id] = run
            reference = rows[0].runs[prompt.id].tokens  # '*' marks a run that differs from hf-greedy
            say(f"  {prompt.id} ({len(ids)} prompt tokens): " + ", ".join(
                f"{r.method} {r.runs[prompt.id].tok_s:.1f}{'' if r.runs[prompt.id].tokens == reference else '*'}"
                for r in rows))
    finally:
        for server in servers.values():
            server.stop()
    summary = summarise(rows, prompts)
    print(format_table(summary, f"draftpad bench: {len(prompts)} prompts, {args.max_new_tokens} new tokens, "
                                f"{_engine_label(lm)} ({lm.resolved.display})"))
    from assistant.bench.server_rows import format_server_table, server_summary

    by_server = server_summary([s for s in servers.values() if getattr(s, "takes_prompt", False)])
    if by_server:
        print(format_server_table(by_server))
    if args.json_out:
        payload = {"model": lm.resolved.display, "dtype": str(lm.dtype).replace("torch.", ""), "weights": lm.weights,
                   "forward": lm.forward_label, "device": str(lm.device), "rows": summary, "servers": by_server}
        try:
            args.json_out.write_text(json.dumps(payload, indent=2) + "\n")
        except OSError as exc:
            raise UserError(f"cannot write {args.json_out}: {exc.strerror or exc}") from exc
    return 0


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def start_llama_servers(lm, binary: Path) -> dict:
    """llama.cpp plain and ngram-mod servers on the model's own GGUF, with torch's thread count."""
    from assistant.bench.llama_server import LlamaServer
    from engine.errors import UserError

    binary = Path(binary)
    if not binary.is_file():
        raise UserError(f"llama-server not found at {binary}")
    if lm.resolved.kind != "gguf":
        raise UserError("--llama-server needs a GGUF model (the same file runs in both engines)")
    gguf = Path(lm.resolved.location) / str(lm.resolved.gguf_file)
    servers = {}
    try:
        for label, spec in ((LLAMA_PLAIN, None), (LLAMA_SPEC, "ngram-mod")):
            server = LlamaServer(binary, gguf, _threads(), spec)
            servers[label] = server
            server.start()
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return servers


def run_forward_cost(args: argparse.Namespace) -> int:
    """One forward's cost by width against the floor of its Linear layers alone."""
    from engine import forward_costs, load_model
    from engine.forward_cost import format_costs

    lm = load_model(args.model, args.device, args.dtype)
    rows = forward_costs(lm)
    dtype = str(lm.dtype).replace("torch.", "")
    print(format_costs(rows, f"forward cost: {_engine_label(lm)}, {_threads()} threads, 300-token cache, "
                             f"medians of 20 ({lm.resolved.display})"))
    _write_json(args, {"model": lm.resolved.display, "dtype": dtype, "weights": lm.weights, "device": str(lm.device),
                       "forward_cost": [r.__dict__ for r in rows]})
    return 0


def _engine_label(lm) -> str:
    """What ran: "float32 on cpu, fp16 weights, own, C glue forward"."""
    forward = lm.forward_label  # first: building our forward settles the weight format
    return f"{str(lm.dtype).replace('torch.', '')} on {lm.device}, {lm.weights} weights, {forward} forward"


def run_prefix_reuse(args: argparse.Namespace) -> int:
    """Prefill time of a suggestion request right after one on the same text minus its last word."""
    from assistant.bench import DEFAULT_CORPUS
    from assistant.bench.suggest import corpus_excerpts, load_prompts as suggest_prompts
    from engine import fresh_state, load_model
    from engine.superposed import superposed_decode, suggestion_prompt_ids

    lm = load_model(args.model, args.device, args.dtype)
    texts = [p.text for p in suggest_prompts(None)]
    if Path(DEFAULT_CORPUS).is_dir():
        texts += [p.text for p in corpus_excerpts(DEFAULT_CORPUS, 8, chars=1400)]
    superposed_decode(lm, suggestion_prompt_ids(lm, texts[0]), max_tokens=4)  # warm-up
    ratios, lines, measured = [], [], []
    for text in texts:
        before, _, last = text.rstrip().rpartition(" ")
        if not before:
            continue
        with fresh_state(lm):
            first = superposed_decode(lm, suggestion_prompt_ids(lm, before), max_tokens=8)
            second = superposed_decode(lm, suggestion_prompt_ids(lm, before + " " + last), max_tokens=8)
        ratio = second.prefill_seconds / first.prefill_seconds
        ratios.append(ratio)
        measured.append({"tokens": first.prompt_tokens, "then_tokens": second.prompt_tokens,
                         "reused": second.reused_tokens, "first_ms": round(first.prefill_seconds * 1000, 2),
                         "then_ms": round(second.prefill_seconds * 1000, 2), "ratio": round(ratio, 4)})
        lines.append(f"{first.prompt_tokens:>6} {second.prompt_tokens:>6} {second.reused_tokens:>6}  "
                     f"{first.prefill_seconds * 1000:>8.1f} {second.prefill_seconds * 1000:>8.1f}  {ratio:>5.2f}")
    print(f"prefix reuse: {len(ratios)} texts, a suggestion after one more word vs the first request "
          f"({lm.resolved.display}, {_engine_label(lm)})")
    print("tokens then reused   first ms  then ms  ratio")
    print("\n".join(lines))
    print(f"median ratio {statistics.median(ratios):.3f}, worst {max(ratios):.3f}")
    _write_json(args, {"model": lm.resolved.display, "median_ratio": statistics.median(ratios),
                       "prefix_reuse": measured})
    return 0


def _write_json(args: argparse.Namespace, payload: dict) -> None:
    from engine.errors import UserError

    if getattr(args, "json_out", None):
        try:
            args.json_out.write_text(json.dumps(payload, indent=2) + "\n")
        except OSError as exc:
            raise UserError(f"cannot write {args.json_out}: {exc.strerror or exc}") from exc
