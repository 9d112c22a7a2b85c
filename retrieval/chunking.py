"""Cutting sections into the pieces that get embedded.

Embedding is the slow part of an import on a CPU, so only the head of each section is embedded
(MAX_CHUNKS_PER_SECTION pieces of about CHUNK_WORDS words): that carries what a section is about;
the full text of every section is still searched word by word through FTS5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHUNK_WORDS = 90  # ~120 tokens with the label, inside the 128-token window we embed with
MAX_CHUNKS_PER_SECTION = 1
MIN_EMBED_WORDS = 6  # "Accepted", "Date: 2021-01-02": nothing for a vector to find
SUMMARY_WORDS = 60
SUMMARY_ORDINAL = -1  # the chunk standing for the whole document (attached to its first section)


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    text: str  # what is embedded: document title and heading give the piece its context


def chunk_section(title: str, heading: str, text: str, words_per_chunk: int = CHUNK_WORDS,
                  max_chunks: int = MAX_CHUNKS_PER_SECTION) -> list[Chunk]:
    words = re.sub(r"\s+", " ", _strip_markup(text)).split()
    if len(words) < MIN_EMBED_WORDS:
        return []
    label = title if not heading else f"{title} — {heading.split(' > ')[-1]}"
    chunks = []
    for ordinal, start in enumerate(range(0, len(words), words_per_chunk)):
        if ordinal >= max_chunks:
            break
        piece = words[start:start + words_per_chunk]
        if ordinal and len(piece) < MIN_EMBED_WORDS:
            break
        chunks.append(Chunk(ordinal, f"{label}: {' '.join(piece)}"))
    return chunks


def summary_chunk(title: str, sections: list[tuple[str, str]], words: int = SUMMARY_WORDS) -> Chunk:
    """The title and the opening words of the document, headings included: what the document is
    about as a whole. Searching these finds documents whose sections each say only part of it."""
    opening: list[str] = []
    for heading, text in sections:
        opening += _strip_markup(f"{heading.split(' > ')[-1]} {text}").split()
        if len(opening) >= words:
            break
    return Chunk(SUMMARY_ORDINAL, f"{title}: {' '.join(opening[:words])}")


def _strip_markup(text: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"https?://\S+", " ", text)
    return re.sub(r"[`*_>#|]+|-{3,}", " ", text)
