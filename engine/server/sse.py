"""Server-sent events as OpenAI-compatible servers stream them: `data: {json}` events, blank
lines between events, `: comments` as keep-alives, and `data: [DONE]` at the end."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Iterator

DONE = "[DONE]"


@dataclass
class StreamEnd:
    """The stream said it was finished (`[DONE]`): anything else ending it is a cut."""


def events(lines: Iterable[str]) -> Iterator[str]:
    """The data of each event, multi-line data joined with newlines (as the SSE spec says)."""
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def payloads(lines: Iterable[str]) -> Iterator[dict | StreamEnd]:
    """Decoded JSON payloads, then one StreamEnd if the server sent `[DONE]`. A payload that is
    not a JSON object raises ValueError: the caller reports the server as broken."""
    for data in events(lines):
        if data.strip() == DONE:
            yield StreamEnd()
            return
        value = json.loads(data)
        if not isinstance(value, dict):
            raise ValueError(f"unexpected stream event: {data[:80]!r}")
        yield value
