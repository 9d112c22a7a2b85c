"""Draft trees: a rank-path template for the recycling table, merging chains from every source into
one token trie, and which node sees which (the verification forward builds its mask from parents).

Node 0 is always the root (the last emitted token, not yet in the KV cache); every other node's
parent has a smaller index, so rows can be processed in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import numpy as np

# Rough prior chance that the model's next token is the candidate of a given rank, used only to
# order the template; measured acceptance takes over once decoding starts.
RANK_PRIOR = (0.45, 0.15, 0.07, 0.045, 0.03, 0.02, 0.015, 0.01)


@dataclass(frozen=True)
class Template:
    """Rank paths from the root in BFS order: node i drafts `table[token of parent[i], rank[i]]`."""

    parent: np.ndarray  # int, -1 = child of the root
    rank: np.ndarray
    depth: np.ndarray  # 1 = child of the root
    prior: np.ndarray  # prior probability that the whole path is accepted

    def __len__(self) -> int:
        return len(self.rank)


def build_template(size: int = 64, max_depth: int = 8, k: int = 8) -> Template:
    """The `size` rank paths with the highest prior, in BFS order. A child's prior is below its
    parent's, so best-first expansion keeps the set closed under prefixes."""
    ranks = range(min(k, len(RANK_PRIOR)))
    chosen: dict[tuple[int, ...], float] = {}
    candidates: dict[tuple[int, ...], float] = {(r,): RANK_PRIOR[r] for r in ranks}
    while candidates and len(chosen) < size:
        path = max(candidates, key=lambda p: (candidates[p], -len(p)))
        chosen[path] = candidates.pop(path)
        if len(path) < max_depth:
            for r in ranks:
                candidates[path + (r,)] = chosen[path] * RANK_PRIOR[r] * 1.3
    paths = sorted(chosen, key=lambda p: (len(p), p))
    where = {p: i for i, p in enumerate(paths)}
    parent = np.array([where[p[:-1]] if len(p) > 1 else -1 for p in paths], dtype=np.int64)
    rank = np.array([p[-1] for p in paths], dtype=np.int64)
    depth = np.array([len(p) for p in paths], dtype=np.int64)
    prior = np.array([chosen[p] for p in paths], dtype=np.float64)
    return Template(parent, rank, depth, prior)


def expand_template(template: Template, table: np.ndarray, root: int) -> np.ndarray:
    """Token of every template node (-1 where the table has no candidate or the parent is missing)."""
    tokens = np.full(len(template), -1, dtype=np.int64)
    if root < 0 or root >= table.shape[0]:
        return tokens
    parent_tok = np.where(template.parent < 0, root, -1)
    for d in range(1, int(template.depth.max()) + 1):
        at = np.nonzero(template.depth == d)[0]
        if d > 1:
            parent_tok[at] = tokens[template.parent[at]]
        ok = parent_tok[at] >= 0
        valid = at[ok]
        tokens[valid] = table[parent_tok[valid], template.rank[valid]]
    return tokens


@dataclass
class Trie:
    """Draft candidates from all sources merged by token path; `credit[i]` lists the statistic
    slots that node i's acceptance counts towards."""

    tokens: list[int] = field(default_factory=list)
    parent: list[int] = field(default_factory=list)
    depth: list[int] = field(default_factory=list)
    prob: list[float] = field(default_factory=list)  # estimated chance the node is accepted
    credit: list[list[int]] = field(default_factory=list)
    _index: dict[tuple[int, int], int] = field(default_factory=dict)

    @classmethod
    def rooted(cls, root: int) -> "Trie":
        trie = cls()
        trie.tokens.append(root)
        trie.parent.append(-1)
        trie.depth.append(0)
        trie.prob.append(1.0)
        trie.credit.append([])
        return trie

    def add(self, parent: int, token: int, prob: float, slot: int) -> int:
        key = (parent, token)
        node = self._index.get(key)
        # a child can never be likelier than its parent: keeps sorted prefixes ancestor-closed
        prob = min(prob, self.prob[parent])
        if node is None:
            node = len(self.tokens)
            self._index[key] = node
            self.tokens.append(token)
            self.parent.append(parent)
            self.depth.append(self.depth[parent] + 1)
            self.prob.append(prob)
            self.credit.append([slot])
        else:
            if prob > self.prob[node]:
                self.prob[node] = prob
            self.credit[node].append(slot)
        return node

    def add_chain(self, tokens: tuple[int, ...], probs: np.ndarray, slots: np.ndarray) -> None:
        node = 0
        for token, p, slot in zip(tokens, probs, slots):
            node = self.add(node, int(token), float(p), int(slot))

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class DraftTree:
    """The nodes chosen for one verification forward (node 0 = root)."""

    tokens: list[int]
    parent: list[int]
    depth: list[int]
    credit: list[list[int]]
    children: list[dict[int, int]]

    @property
    def width(self) -> int:
        return len(self.tokens)


def select(trie: Trie, count: int) -> DraftTree:
    """The root plus the `count` likeliest nodes (an ancestor-closed set), reindexed parent-first."""
    probs = np.asarray(trie.prob[1:])
    if count <= 0 or len(probs) == 0:
        keep = [0]
    else:
        order = np.lexsort((np.arange(len(probs)), -probs))[:count] + 1
        keep = [0] + sorted(order.tolist())
    new = {old: i for i, old in enumerate(keep)}
    parent = [-1] + [new[trie.parent[old]] for old in keep[1:]]
    tokens = [trie.tokens[old] for old in keep]
    children: list[dict[int, int]] = [{} for _ in keep]
    for i in range(1, len(keep)):
        children[parent[i]][tokens[i]] = i
    return DraftTree(tokens, parent, [trie.depth[old] for old in keep], [trie.credit[old] for old in keep], children)


def ancestor_mask(parent: list[int]) -> np.ndarray:
    """mask[i, j] is True when node j is node i or one of its ancestors."""
    n = len(parent)
    mask = np.eye(n, dtype=bool)
    for i in range(1, n):
        mask[i] |= mask[parent[i]]
    return mask
