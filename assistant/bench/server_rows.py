"""`draftpad bench --server URL[#LABEL]`: rows for OpenAI-compatible servers, measured the way a
user meets them: chat messages in, the server's chat template and tokenizer, SSE streaming,
timed end to end. The output is re-encoded with the local tokenizer, so when the server runs the
same model the `identical` column says whether it wrote exactly what local greedy decoding does.

Timed prompts never sit in the server's prompt cache: warm-up runs use a throwaway prompt, and
each prompt is sent once per row (the rows rotate like every other row).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

WARM_UP_TOKENS = 8
WARM_UP_PROMPT = [{"role": "user", "content": "Say hello."}]


def parse_server_arg(text: str) -> tuple[str, str | None]:
    url, _, label = text.partition("#")
    return url.strip(), (label.strip() or None)


@dataclass
class ServerRow:
    lm: Any  # engine ServerModel
    label: str
    details: dict[str, Any] = field(default_factory=dict)  # prompt id -> stats of its fastest run
    takes_prompt: bool = True  # run() gets the bench prompt itself, not the local token ids

    def run(self, local_lm: Any, prompt: Any, max_new: int) -> Any:
        from assistant.bench.decoding import Run
        from engine import GenerationConfig, generate

        warm_up = max_new <= WARM_UP_TOKENS
        config = GenerationConfig(max_new_tokens=max_new, temperature=0.0)
        result = generate(self.lm, WARM_UP_PROMPT if warm_up else prompt.prompt, config)
        tokens = list(local_lm.tokenizer(result.text, add_special_tokens=False)["input_ids"])
        run = Run(tokens, result.stats.seconds, result.stats.forwards)
        best = self.details.get(prompt.id)
        if not warm_up and (best is None or result.stats.tok_s > best.tok_s):
            self.details[prompt.id] = result.stats
        return run

    def stop(self) -> None:
        self.lm.close()


def server_rows(args: Any) -> dict[str, ServerRow]:
    """One row per --server, connected now so a bad URL fails before any timing starts."""
    from engine import connect_server

    rows: dict[str, ServerRow] = {}
    for text in getattr(args, "server", None) or []:
        url, label = parse_server_arg(text)
        lm = connect_server(url, getattr(args, "server_model", None), allow_hosts=getattr(args, "allow_host", ()) or ())
        name = f"server {label or lm.name + ' @' + str(lm.endpoint.port)}"
        rows[name] = ServerRow(lm, name)
    return rows


def server_summary(rows: list[ServerRow]) -> list[dict]:
    """Per server row: end-to-end and decode-only speed, the server's draft acceptance, and the
    median per-prompt ratio to the first server row (the plain one, when listed first)."""
    if not rows:
        return []
    first = rows[0].details
    out = []
    for row in rows:
        ids = list(row.details)
        stats = [row.details[i] for i in ids]
        decode = [s.new_tokens / (s.seconds - s.prefill_seconds) for s in stats if s.seconds > s.prefill_seconds]
        accepted = [s.source_acceptance["server-draft"] for s in stats if "server-draft" in s.source_acceptance]
        ratios = [row.details[i].tok_s / first[i].tok_s for i in ids if i in first and first[i].tok_s > 0]
        out.append({
            "row": row.label,
            "median_tok_s": round(statistics.median(s.tok_s for s in stats), 2) if stats else 0.0,
            "median_decode_tok_s": round(statistics.median(decode), 2) if decode else 0.0,
            "median_first_token_s": round(statistics.median(s.prefill_seconds for s in stats), 3) if stats else 0.0,
            "draft_acceptance": round(statistics.mean(accepted), 3) if accepted else None,
            "vs_first": round(statistics.median(ratios), 3) if ratios else None,
        })
    return out


def format_server_table(summary: list[dict]) -> str:
    cols = ("server row", "median tok/s", "decode tok/s", "first token s", "draft accepted", "vs first row")
    lines = [[r["row"], f"{r['median_tok_s']:.1f}", f"{r['median_decode_tok_s']:.1f}",
              f"{r['median_first_token_s']:.2f}",
              "" if r["draft_acceptance"] is None else f"{r['draft_acceptance']:.0%}",
              "" if r["vs_first"] is None else f"{r['vs_first']:.2f}x"] for r in summary]
    widths = [max(len(c), *(len(line[i]) for line in lines)) for i, c in enumerate(cols)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join(["servers, end to end over HTTP (decode = after the first token):", fmt(cols),
                      fmt(["-" * w for w in widths]), *map(fmt, lines)])
