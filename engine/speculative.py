"""Lossless speculative decoding: recycled candidates, prompt/output matches and reference texts
fused into one draft tree, verified in one forward, sized by measured cost and acceptance.

Each `step` emits the tokens the target model itself would produce: the accepted draft path plus
one token the model picked at the end of it. Greedy picks the argmax. Sampling follows the rule
that keeps the target distribution exact for deterministic drafts: at a node draw one token from
the (temperature/top-p) target distribution; if it is a child, descend; otherwise emit it and stop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from engine.adaptive import MAX_CHAIN, AcceptanceStats, CostTracker, best_count, cost_tracker
from engine.draft_sources import SuffixIndex, reference_index
from engine.loading import LoadedModel
from engine.recycling import RecyclingTable, save_table
from engine.sampling import SamplingParams, draw, pick, target_probs
from engine.sequence import Sequence as KVSequence, prefill
from engine.state import fresh_state  # noqa: F401  (kept importable here for older callers)
from engine.tree import DraftTree, Trie, build_template, expand_template, select

TEMPLATE = build_template(64)
MAX_ROOM = 384  # cache entries reserved past the prompt: 256 new tokens and the widest tree
SOURCE_CONTEXT, SOURCE_REFERENCE = 0, 1


@dataclass
class SpeculativeConfig:
    use_recycling: bool = True
    use_context: bool = True
    use_references: bool = True
    fixed_nodes: int | None = None  # tests: always draft this many nodes instead of planning
    candidates_per_source: int = 4
    chain_length: int = MAX_CHAIN
    save_table: bool = True


def shared_stats(lm: LoadedModel, config: SpeculativeConfig, sampled: bool) -> AcceptanceStats:
    """Acceptance learnt so far with this model for this mix of sources (on the model's state),
    kept apart for sampled decoding: a draft that is the argmax is accepted only with its
    probability when the target is a draw, so greedy runs' rates would plan trees too wide."""
    key = (sampled, config.use_recycling, config.use_context, config.use_references)
    learnt = lm.state.acceptance
    if key not in learnt:
        learnt[key] = AcceptanceStats(TEMPLATE.prior.copy())
    return learnt[key]


@dataclass
class SpeculativeDecoder:
    lm: LoadedModel
    params: SamplingParams
    generator: torch.Generator | None = None
    references: Sequence[str] = ()
    config: SpeculativeConfig = field(default_factory=SpeculativeConfig)
    forwards: int = 0
    accepted: list[int] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    _seq: KVSequence | None = None
    _root: int | None = None
    _root_logits: torch.Tensor | None = None
    _context: SuffixIndex = field(default_factory=SuffixIndex)
    _refs: SuffixIndex | None = None
    _table: RecyclingTable | None = None
    _stats: AcceptanceStats | None = None
    _costs: CostTracker | None = None
    _source_drafted: dict[str, int] = field(default_factory=dict)
    _source_accepted: dict[str, int] = field(default_factory=dict)
    _predicted: float = 0.0  # uncalibrated expected accepted length of the current tree

    def __post_init__(self) -> None:
        # made with the decoder, before the generation's clock starts: on a machine's first run the
        # cost profile is measured here (seconds), which is no part of this text's speed
        if self.config.fixed_nodes is None:
            self._costs = cost_tracker(self.lm)

    def prefill(self, prompt_ids: list[int]) -> None:
        lm, cfg = self.lm, self.config
        self._table = lm.state.recycling_table(lm.identity, lm.vocab_size) if cfg.use_recycling else None
        self._stats = shared_stats(lm, cfg, not self.params.greedy)
        if cfg.use_references and self.references:
            tok = lm.tokenizer
            self._refs = reference_index([list(tok(text, add_special_tokens=False)["input_ids"])
                                          for text in self.references if text])
        if cfg.use_context:
            self._context.extend(prompt_ids)
        self._seq, self._root_logits = prefill(lm, prompt_ids, room=MAX_ROOM)
        self.forwards += 1

    def step(self) -> list[int]:
        assert self._seq is not None, "prefill first"
        if self._root is None:  # the prefill's logits give the first token without another forward
            self._root = pick(self._root_logits, self.params, self.generator)
            self._record_context([self._root])
            self.accepted.append(1)
            return [self._root]
        started = time.perf_counter()
        tree = self._draft(self._root)
        cached = self._seq.length
        if tree.width == 1:
            logits = self._seq.run([self._root])
        else:
            logits = self._seq.run(tree.tokens, tree.parent, tree.depth)
        self.forwards += 1
        self.widths.append(tree.width)
        path, token = self._walk(tree, logits)
        if tree.width > 1:
            self._seq.keep_path(cached, path)
        if self._table is not None:
            self._table.update(torch.tensor(tree.tokens), logits)
        self._learn(tree, path)
        if tree.width > 1:
            self._stats.calibrate(self._predicted, len(path))
        emitted = [tree.tokens[i] for i in path] + [token]
        self._root = token
        self._record_context(emitted)
        self.accepted.append(len(emitted))
        if self._costs is not None:
            self._costs.observe(tree.width, time.perf_counter() - started, cached)
        return emitted

    # -- drafting ------------------------------------------------------------------------------

    def _draft(self, root: int) -> DraftTree:
        cfg, stats = self.config, self._stats
        assert stats is not None
        trie = Trie.rooted(root)
        if cfg.use_context or self._refs is not None:
            suffix = self._recent
            for source, index in ((SOURCE_CONTEXT, self._context if cfg.use_context else None),
                                  (SOURCE_REFERENCE, self._refs)):
                if index is None:
                    continue
                for cont in index.lookup(suffix, cfg.chain_length, cfg.candidates_per_source):
                    slots = stats.chain_slots(source, cont.match_len, cont.rank, len(cont.tokens))
                    trie.add_chain(cont.tokens, stats.estimate(slots), slots)
        if self._table is not None:
            tokens = expand_template(TEMPLATE, self._table.rows, root)
            probs = stats.estimate(np.arange(len(TEMPLATE)))
            node_of = np.full(len(TEMPLATE), -1, dtype=np.int64)
            for i in np.nonzero(tokens >= 0)[0].tolist():
                parent = TEMPLATE.parent[i]
                at = 0 if parent < 0 else node_of[parent]
                if at >= 0:
                    node_of[i] = trie.add(int(at), int(tokens[i]), float(probs[i]), i)
        ranked = np.sort(np.asarray(trie.prob[1:]))[::-1] * stats.calibration
        if cfg.fixed_nodes is not None:
            count = cfg.fixed_nodes
        else:
            assert self._costs is not None
            count = best_count(ranked, self._costs, context=self._seq.length)
        self._predicted = float(ranked[:count].sum()) / stats.calibration
        return select(trie, count)

    @property
    def _recent(self) -> list[int]:
        return self._context.tokens[-self._context.max_n:]

    def _record_context(self, tokens: list[int]) -> None:
        # without context drafting the index still keeps the token history for reference matching
        if self.config.use_context:
            self._context.extend(tokens)
        else:
            self._context.tokens.extend(tokens)

    # -- verification --------------------------------------------------------------------------

    def _walk(self, tree: DraftTree, logits: torch.Tensor) -> tuple[list[int], int]:
        """Accepted tree nodes (root excluded) and the model's own next token after them."""
        path: list[int] = []
        node = 0
        if self.params.greedy:
            best = torch.argmax(logits, dim=-1).tolist()
            while True:
                child = tree.children[node].get(best[node])
                if child is None:
                    return path, best[node]
                path.append(child)
                node = child
        while True:
            token = draw(target_probs(logits[node], self.params), self.generator)
            child = tree.children[node].get(token)
            if child is None:
                return path, token
            path.append(child)
            node = child

    def _learn(self, tree: DraftTree, path: list[int]) -> None:
        assert self._stats is not None
        drafted = [slot for slots in tree.credit[1:] for slot in slots]
        won = [slot for i in path for slot in tree.credit[i]]
        self._stats.record(drafted, won)
        for slot in drafted:
            name = self._stats.source_of(slot)
            self._source_drafted[name] = self._source_drafted.get(name, 0) + 1
        for slot in won:
            name = self._stats.source_of(slot)
            self._source_accepted[name] = self._source_accepted.get(name, 0) + 1

    def report(self, stats) -> None:
        """Fill the tree/source fields of GenerationStats and persist the recycling table."""
        if self.widths:
            stats.tree_width = float(np.mean(self.widths))
        stats.source_acceptance = {name: round(self._source_accepted.get(name, 0) / n, 4)
                                   for name, n in sorted(self._source_drafted.items()) if n}
        if self._table is not None and self._table.dirty and self.config.save_table and self.lm.state.persist:
            try:
                save_table(self._table)
            except OSError:
                pass  # a read-only data dir costs only the warm start, never the generation


def recycling_factory(lm: LoadedModel, config, generator, references: Sequence[str]) -> SpeculativeDecoder:
    return SpeculativeDecoder(lm, config.sampling, generator, references,
                              SpeculativeConfig(use_context=False, use_references=False))


def auto_factory(lm: LoadedModel, config, generator, references: Sequence[str]) -> SpeculativeDecoder:
    return SpeculativeDecoder(lm, config.sampling, generator, references, SpeculativeConfig())

