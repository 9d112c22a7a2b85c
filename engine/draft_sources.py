"""Draft sources that need no model: continuations of earlier occurrences of the recent tokens.

A `SuffixIndex` maps every n-gram (n = 1..max_n) of a token sequence to the positions right after
it, so finding the longest earlier match of the current suffix is a handful of dict lookups per
step instead of a scan. The same structure serves the prompt + generated text (grown as tokens
arrive) and the caller's reference texts (indexed once per generation).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Continuation:
    """A drafted chain: the tokens that followed an earlier occurrence of the current suffix."""

    tokens: tuple[int, ...]
    match_len: int  # how many trailing tokens matched (longer matches are more trustworthy)
    rank: int  # 0 = best candidate of this source


@dataclass
class SuffixIndex:
    max_n: int = 8
    tokens: list[int] = field(default_factory=list)
    # n-gram -> positions just after each occurrence, oldest first
    _after: dict[tuple[int, ...], list[int]] = field(default_factory=dict)

    def extend(self, new_tokens: list[int] | tuple[int, ...]) -> None:
        toks, after = self.tokens, self._after
        for token in new_tokens:
            toks.append(token)
            end = len(toks)
            for n in range(1, min(self.max_n, end) + 1):
                key = tuple(toks[end - n:end])
                slot = after.get(key)
                if slot is None:
                    after[key] = [end]
                else:
                    slot.append(end)

    def lookup(self, suffix: list[int], length: int, limit: int = 4, scan: int = 8) -> list[Continuation]:
        """Up to `limit` distinct continuations of `suffix`, longest match first, most recent first.

        A continuation runs up to `length` tokens. Positions whose continuation would be empty (the
        suffix itself, at the end of a growing sequence) are skipped.
        """
        found: list[Continuation] = []
        seen: set[tuple[int, ...]] = set()
        toks = self.tokens
        total = len(toks)
        for n in range(min(self.max_n, len(suffix)), 0, -1):
            positions = self._after.get(tuple(suffix[len(suffix) - n:]))
            if not positions:
                continue
            for pos in reversed(positions[-scan:]):
                if pos >= total:
                    continue
                chain = tuple(toks[pos:pos + length])
                if -1 in chain:  # a document separator in the reference index
                    chain = chain[:chain.index(-1)]
                if not chain or chain in seen:
                    continue
                seen.add(chain)
                found.append(Continuation(chain, n, len(found)))
                if len(found) >= limit:
                    return found
        return found


def reference_index(token_lists: list[list[int]], max_n: int = 8) -> SuffixIndex | None:
    """One index over all reference texts; a separator (-1) stops matches crossing documents."""
    if not token_lists:
        return None
    index = SuffixIndex(max_n=max_n)
    for ids in token_lists:
        if ids:
            index.extend(ids)
            index.extend([-1])
    return index
