"""What the engine learns while it decodes with one loaded model, owned by that model.

Acceptance statistics per mix of draft sources, the recycling table, the measured cost of wide
steps and the KV of recent prompts all live on `LoadedModel.state`, not in module globals, so two
models in one process never share them and a bench can swap in a fresh or pre-warmed state for
one run without touching the model's real one (`fresh_state`).
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Sequence

import torch

from engine.prefix_cache import PrefixCache
from engine.recycling import RecyclingTable, load_table

if TYPE_CHECKING:
    from engine.adaptive import AcceptanceStats, CostTracker
    from engine.loading import LoadedModel

WARM_CHUNK = 512  # tokens per teaching forward


@dataclass
class EngineState:
    """`persist`: whether the recycling table is loaded from and saved to the data directory.
    A state that does not persist starts from `table` (None = empty) and writes nothing."""

    persist: bool = True
    table: RecyclingTable | None = None
    acceptance: dict[tuple[bool, ...], "AcceptanceStats"] = field(default_factory=dict)
    trackers: dict[str, "CostTracker"] = field(default_factory=dict)
    prefixes: PrefixCache = field(default_factory=PrefixCache)

    def recycling_table(self, identity: str, vocab: int) -> RecyclingTable:
        if self.table is None or self.table.identity != identity or self.table.vocab != vocab:
            self.table = load_table(identity, vocab) if self.persist else RecyclingTable(identity, vocab)
        return self.table

    def copy(self) -> "EngineState":
        """An independent copy (the table and statistics are duplicated; prefixes start empty)."""
        table = None
        if self.table is not None:  # not deepcopy: the table's torch view must share the new rows
            table = RecyclingTable(self.table.identity, self.table.vocab, self.table.k, self.table.rows.copy())
        return EngineState(self.persist, table, copy.deepcopy(self.acceptance), copy.deepcopy(self.trackers))


@contextmanager
def fresh_state(lm: "LoadedModel", state: EngineState | None = None) -> Iterator[EngineState]:
    """Decode as a first session would (an empty table, no learnt acceptance, no cached prompts),
    or from the given `state`; nothing is persisted meanwhile and the model's own state comes back
    untouched afterwards."""
    saved = lm.state
    lm.state = state if state is not None else EngineState(persist=False)
    try:
        yield lm.state
    finally:
        lm.state = saved


def forget_state(lm: "LoadedModel") -> None:
    """Drop everything learnt in memory; the next use reloads the persisted table, as a new session."""
    lm.state = EngineState()


Lesson = tuple[torch.Tensor, torch.Tensor]  # token ids [n] and the model's top-k after each [n, k]


def lessons(lm: "LoadedModel", texts: Sequence[str | list[int]]) -> list[Lesson]:
    """The model's own top-k successors at every position of each text (one teacher-forced forward
    per chunk), ready to teach any number of recycling tables without running the model again."""
    from engine.recycling import TOP_K
    from engine.sequence import new_sequence

    out: list[Lesson] = []
    for text in texts:
        ids = text if isinstance(text, list) else list(lm.tokenizer(text, add_special_tokens=False)["input_ids"])
        for begin in range(0, len(ids), WARM_CHUNK):
            chunk = ids[begin:begin + WARM_CHUNK]
            logits = new_sequence(lm, len(chunk)).run(chunk)
            top = torch.topk(logits, TOP_K, dim=-1).indices.to(torch.int32).cpu()
            out.append((torch.tensor(chunk), top))
    return out


def warmed_state(lm: "LoadedModel", texts: Sequence[str | list[int]] = (), *,
                 taught: Sequence[Lesson] = ()) -> EngineState:
    """A state that does not persist, whose recycling table learnt the model's own top-k at every
    position of `texts` (and of the precomputed `taught` lessons): what a table that has seen other
    documents of the kind knows, without having seen the text about to be generated."""
    table = RecyclingTable(lm.identity, lm.vocab_size)
    for ids, top in [*taught, *lessons(lm, texts)]:
        table.learn(ids, top)
    table.dirty = False
    return EngineState(persist=False, table=table)
