"""What one generation cost: reported by the CLI, the bench and the app's status bar."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class GenerationStats:
    method: str = "greedy"
    prompt_tokens: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    prefill_seconds: float = 0.0
    forwards: int = 0
    stop_reason: str = ""  # eos | stop | length | cancelled
    accepted_histogram: dict[int, int] = field(default_factory=dict)  # tokens gained per forward -> count
    tree_width: float = 0.0  # mean number of tokens verified per forward
    source_acceptance: dict[str, float] = field(default_factory=dict)

    @property
    def tokens_per_forward(self) -> float:
        return self.new_tokens / self.forwards if self.forwards else 0.0

    @property
    def tok_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        out = asdict(self)
        out["tokens_per_forward"] = round(self.tokens_per_forward, 3)
        out["tok_s"] = round(self.tok_s, 2)
        return out
