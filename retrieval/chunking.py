"""Cutting sections into the pieces that get embedded.

Every section is covered whole: its words are cut into pieces of CHUNK_WORDS that overlap by
OVERLAP_WORDS, so a sentence cut at a boundary is still whole in one of the two pieces. Each
piece carries its document's title and the section's heading path, because a piece of a
"Consequences" section says little about which decision it belongs to on its own. Sections past
MAX_CHUNKS_PER_SECTION pieces (the long descriptions of patents) are embedded up to that
many and searched word by word beyond it through FTS5: embedding is the slow part of an import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHUNKING_VERSION = 2  # 1: the first 90 words of a section; 2: whole sections, overlapping, labelled
CHUNK_WORDS = 80  # body words; with the label about 120 tokens, inside the 128-token window we embed
OVERLAP_WORDS = 16
MAX_CHUNKS_PER_SECTION = 24  # ~1,500 words embedded; FTS5 still holds the whole section
MIN_EMBED_WORDS = 6  # "Accepted", "Date: 2021-01-02": nothing for a vector to find
LABEL_WORDS = 24  # a title and heading path longer than this is cut (it would crowd out the text)
SUMMARY_WORDS = 60
SUMMARY_ORDINAL = -1  # the chunk standing for the whole document (attached to its first section)


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    text: str  # what is embedded: document title and heading path give the piece its context


def chunk_label(title: str, heading: str) -> str:
    """'Title — Heading › Subheading', cut to LABEL_WORDS words."""
    label = title if not heading else f"{title} — {' › '.join(heading.split(' > '))}"
    words = label.split()
    return " ".join(words[:LABEL_WORDS])


def chunk_section(title: str, heading: str, text: str, words_per_chunk: int = CHUNK_WORDS,
                  overlap: int = OVERLAP_WORDS, max_chunks: int = MAX_CHUNKS_PER_SECTION) -> list[Chunk]:
    words = re.sub(r"\s+", " ", _strip_markup(text)).split()
    if len(words) < MIN_EMBED_WORDS:
        return []
    label = chunk_label(title, heading)
    step = max(1, words_per_chunk - overlap)
    chunks = []
    start = 0
    while len(chunks) < max_chunks:
        piece = words[start:start + words_per_chunk]
        chunks.append(Chunk(len(chunks), f"{label}: {' '.join(piece)}"))
        if start + words_per_chunk >= len(words):
            break
        start += step
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
    text = re.sub(r"</?[a-zA-Z][^>]*>", " ", text)  # Common Paper's <span class=...> wrappers
    return re.sub(r"[`*_>#|]+|-{3,}", " ", text)
