"""Incremental detokenization and stop strings, so streamed chunks are whole characters."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class IncrementalDecoder:
    """Emits only text that further tokens cannot change (no half of a multi-byte character)."""

    tokenizer: object
    ids: list[int] = field(default_factory=list)
    prefix_offset: int = 0
    read_offset: int = 0

    def push(self, new_ids: list[int]) -> str:
        self.ids.extend(new_ids)
        before = self.tokenizer.decode(self.ids[self.prefix_offset:self.read_offset], skip_special_tokens=True)
        after = self.tokenizer.decode(self.ids[self.prefix_offset:], skip_special_tokens=True)
        if len(after) <= len(before) or after.endswith("\ufffd"):
            return ""
        self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
        return after[len(before):]

    def flush(self) -> str:
        before = self.tokenizer.decode(self.ids[self.prefix_offset:self.read_offset], skip_special_tokens=True)
        after = self.tokenizer.decode(self.ids[self.prefix_offset:], skip_special_tokens=True)
        self.prefix_offset = self.read_offset = len(self.ids)
        return after[len(before):] if len(after) > len(before) else ""


@dataclass
class StopMatcher:
    """Holds back text that may be the start of a stop string; reports where a stop string begins."""

    stops: tuple[str, ...]
    text: str = ""
    emitted: int = 0
    stopped: bool = False

    def feed(self, chunk: str) -> str:
        self.text += chunk
        cut = min((i for i in (self.text.find(s, self.emitted) for s in self.stops) if i >= 0),
                  default=-1)
        if cut >= 0:
            self.stopped = True
            self.text = self.text[:cut]
            return self._release(len(self.text))
        return self._release(len(self.text) - self._held_back())

    def finish(self) -> str:
        return self._release(len(self.text))

    def _held_back(self) -> int:
        longest = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(self.text)), 0, -1):
                if self.text.endswith(stop[:n]):
                    longest = max(longest, n)
                    break
        return longest

    def _release(self, upto: int) -> str:
        upto = max(upto, self.emitted)
        out, self.emitted = self.text[self.emitted:upto], upto
        return out
