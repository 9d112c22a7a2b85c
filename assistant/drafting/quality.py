"""Measures of a draft's quality (pure functions, no model, no I/O): the benchmark's metrics, and the
checks `validate` and the generation guards share.

- `placeholders`: text left to be filled in (`{field}`, `[Name]`, `___`, `<insert ...>`, TODO).
- `echo_sentences`: sentences that copy 8 or more consecutive words of the prompt's scaffolding
  (its instructions, labels and wrappers). `scaffolding_fragments` finds the scaffolding in a
  prompt by taking out what a draft may rightly reuse: the facts, the retrieved examples and the
  document's own text.
- `repeated_sentences`, `repeated_4grams`: loops, the commonest failure of a small model.
- `rouge_l`: ROUGE-L F1 (Google's `rouge-score`, stemmed); `cosine`: of embedding vectors.
- `match_headings`: which reference section each generated section corresponds to, by meaning:
  normalised words first ("Decision Outcome" contains "Decision"), then embedding similarity.
- `markdown_sections`: a Markdown document split at its headings (also `**Bold**` and `Label:`
  lines, which small models use for headings).

Embeddings come in as a function (`Embed`) so these stay pure; the benchmark passes the library's
embedding model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

# texts -> unit-length vectors, one row per text
Embed = Callable[[Sequence[str]], np.ndarray]

ECHO_WORDS = 8
MIN_SENTENCE_WORDS = 3  # shorter "sentences" (labels, "Accepted.") repeat legitimately
HEADING_MATCH = 0.6  # embedding cosine at which two headings mean the same
EMBED_WINDOW = 96  # words per window: the embedding model reads 128 tokens


# -- words and sentences ----------------------------------------------------------------------------

_WORD = re.compile(r"\w+(?:['’]\w+)*")
_SENTENCE_END = re.compile(r"[.!?]+[\"'’”)\]]*(?=\s)")
# A full stop after these is not the end of a sentence ("Rs. 28,000", "S/o Shri R. K. Sharma").
ABBREVIATIONS = {"rs", "no", "nos", "mr", "mrs", "ms", "dr", "smt", "shri", "sri", "st", "sr", "jr", "vs", "viz",
                 "e.g", "i.e", "etc", "fig", "figs", "approx", "ltd", "pvt", "co", "inc", "sec", "cl", "art"}


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped: the unit every metric counts in."""
    return _WORD.findall(text.casefold())


def sentences(text: str) -> list[str]:
    """Sentences and lines of prose; Markdown heading lines are not sentences."""
    out = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        start = 0
        for m in _SENTENCE_END.finditer(line):
            before = line[start:m.start()].rsplit(None, 1)
            last = before[-1].casefold().strip("(\"'") if before else ""
            if m.group(0).startswith(".") and (last in ABBREVIATIONS or re.fullmatch(r"[a-z]", last)):
                continue
            out.append(line[start:m.end()].strip())
            start = m.end()
        out.append(line[start:].strip())
    return [s for s in out if re.search(r"\w", s)]


def sentence_key(sentence: str) -> str:
    return " ".join(words(sentence))


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


# -- placeholders -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Placeholder:
    text: str
    kind: str  # field | bracket | angle | gap | marker
    start: int


# A word a bracketed placeholder may contain: letters and name punctuation, no digits ("[ADR-12]"
# and "[1]" are references, not gaps).
_BRACKET_WORD = r"[A-Za-z][A-Za-z'’.,/&-]*"
PLACEHOLDER_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}"), "field"),
    (re.compile(rf"\[\s*(?:[A-Z][A-Za-z'’.,/&-]*(?:\s+{_BRACKET_WORD}){{0,7}}|(?i:insert|enter|add)\b[^\]\n]{{0,60}}"
                r"|\.{3}|…|_+)\s*\](?![(\[:])"), "bracket"),
    (re.compile(r"<\s*(?:insert|name|date|address|amount|your)\b[^>\n]{0,60}>", re.IGNORECASE), "angle"),
    (re.compile(r"_{3,}"), "gap"),
    (re.compile(r"\b(?:TODO|TBD|XXX+)\b"), "marker"),
)
_RULE_LINE = re.compile(r"^[ \t]*(?:_[ \t]*){3}$", re.MULTILINE)  # "___" alone on a line is a Markdown rule


def find_placeholders(text: str) -> list[Placeholder]:
    """Every unresolved placeholder, in order of position."""
    rules = {m.start() + len(m.group(0)) - len(m.group(0).lstrip()) for m in _RULE_LINE.finditer(text)}
    found = []
    for pattern, kind in PLACEHOLDER_PATTERNS:
        for m in pattern.finditer(text):
            if kind == "gap" and m.start() in rules and len(m.group(0)) == 3:
                continue
            found.append(Placeholder(m.group(0), kind, m.start()))
    return sorted(found, key=lambda p: p.start)


def placeholders(text: str) -> list[str]:
    """The unresolved placeholders' text, e.g. ['{place}', '[Tenant Name]', '____']."""
    return [p.text for p in find_placeholders(text)]


# -- echo of the prompt's scaffolding ---------------------------------------------------------------

_BREAK = "\x00"
_FACT_OPEN, _FACT_CLOSE = "\x01", "\x02"


def ngram_set(texts: Iterable[str], n: int = ECHO_WORDS) -> set[int]:
    """Hashes of every word n-gram in the texts (hashes, not tuples: a corpus has ~10^6)."""
    out: set[int] = set()
    for text in texts:
        out.update(hash(g) for g in ngrams(words(text), n))
    return out


def scaffolding_fragments(prompt: str, facts: Sequence[str] = (), content: Container[int] | None = None,
                          n: int = ECHO_WORDS) -> list[str]:
    """The prompt's own wording: runs of n or more words that are not a fact and not covered by an
    n-gram of `content` (an `ngram_set` of the retrieved examples or the whole library, and the
    document's text), which a draft may rightly repeat.

    Facts are cut out as given; condensed or reformatted copies of content are found through its
    n-grams, so this does not depend on how the prompt is laid out.
    """
    text = prompt
    for fact in sorted({f.strip() for f in facts if f and f.strip()}, key=len, reverse=True):
        text = re.sub(re.escape(fact), f" {_BREAK} ", text, flags=re.IGNORECASE)
    content = content if content is not None else set()
    runs: list[list[str]] = []
    for piece in text.split(_BREAK):
        tokens = words(piece)
        covered = [False] * len(tokens)
        for i, gram in enumerate(ngrams(tokens, n)):
            if hash(gram) in content:
                covered[i:i + n] = [True] * n
        run: list[str] = []
        for token, is_content in zip(tokens, covered):
            if is_content:
                runs.append(run)
                run = []
            else:
                run.append(token)
        runs.append(run)
    return [" ".join(r) for r in runs if len(r) >= n]


def wrapper_windows(prompt: str, facts: Sequence[str] = (), content: Container[int] | None = None,
                    n: int = ECHO_WORDS, min_scaffold: int = 4) -> set[tuple[str, ...]]:
    """n-word windows of the prompt that straddle a fact and its wrapping, with at least
    `min_scaffold` words of wrapping: a draft that writes `The section already begins: "Our desktop
    client ...` copies the prompt's wording around a fact, not the fact alone."""
    spans = sorted({f.strip() for f in facts if f and f.strip()}, key=len, reverse=True)
    text = prompt
    for fact in spans:
        text = re.sub(re.escape(fact), lambda m: f" {_FACT_OPEN}{m.group(0)}{_FACT_CLOSE} ", text, flags=re.IGNORECASE)
    tokens: list[tuple[str, bool]] = []  # (word, is a fact word)
    for piece in re.split(f"({_FACT_OPEN}.*?{_FACT_CLOSE})", text, flags=re.DOTALL):
        is_fact = piece.startswith(_FACT_OPEN)
        tokens += [(w, is_fact) for w in words(piece.strip(_FACT_OPEN + _FACT_CLOSE))]
    out: set[tuple[str, ...]] = set()
    for i in range(len(tokens) - n + 1):
        window = tokens[i:i + n]
        gram = tuple(w for w, _ in window)
        if content is not None and hash(gram) in content:
            continue
        if min_scaffold <= sum(not f for _, f in window) < n:
            out.add(gram)
    return out


def echo_sentences(text: str, scaffolding: Sequence[str], n: int = ECHO_WORDS,
                   windows: Iterable[tuple[str, ...]] = ()) -> list[str]:
    """Sentences of `text` that reproduce n or more consecutive words of any scaffolding string (or
    one of the extra `windows` of n words, see `wrapper_windows`)."""
    scaffold = {g for s in scaffolding for g in ngrams(words(s), n)} | set(windows)
    if not scaffold:
        return []
    return [s for s in sentences(text) if any(g in scaffold for g in ngrams(words(s), n))]


# -- repetition -------------------------------------------------------------------------------------

def repeated_sentences(text: str, min_words: int = MIN_SENTENCE_WORDS) -> list[str]:
    """Each sentence that repeats an earlier one of the text (case, spacing and punctuation aside),
    once per repeat; sentences under `min_words` words (labels, list numbers) are not counted."""
    seen: set[str] = set()
    out = []
    for sentence in sentences(text):
        key = sentence_key(sentence)
        if len(key.split()) < min_words:
            continue
        if key in seen:
            out.append(sentence)
        seen.add(key)
    return out


def repeated_sentence_share(text: str, min_words: int = MIN_SENTENCE_WORDS) -> float:
    """The share of the text's sentences (of at least `min_words` words) that repeat an earlier one."""
    counted = [s for s in sentences(text) if len(sentence_key(s).split()) >= min_words]
    return len(repeated_sentences(text, min_words)) / len(counted) if counted else 0.0


def repeated_ngram_counts(text: str, n: int = 4) -> tuple[int, int]:
    """(n-grams that occurred earlier in the text, all n-grams)."""
    grams = ngrams(words(text), n)
    return len(grams) - len(set(grams)), len(grams)


def repeated_4grams(text: str) -> float:
    """The share of the text's word 4-grams that already occurred earlier in it (0 for no 4-grams)."""
    repeated, total = repeated_ngram_counts(text, 4)
    return repeated / total if total else 0.0


# -- overlap with a reference -----------------------------------------------------------------------

_SCORER = None


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 (longest common subsequence of stemmed words); 0 when either side has no words."""
    global _SCORER
    if _SCORER is None:
        from rouge_score import rouge_scorer

        _SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    if not words(candidate) or not words(reference):
        return 0.0
    return float(_SCORER.score(reference, candidate)["rougeL"].fmeasure)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b) / (na * nb) if na and nb else 0.0


def embed_long(embed: Embed, texts: Sequence[str], window: int = EMBED_WINDOW) -> np.ndarray:
    """One unit vector per text, however long: the mean of its windows' vectors (the embedding
    model reads only its first 128 tokens)."""
    pieces: list[str] = []
    owner: list[int] = []
    for i, text in enumerate(texts):
        tokens = text.split()
        for start in range(0, max(len(tokens), 1), window):
            pieces.append(" ".join(tokens[start:start + window]))
            owner.append(i)
    vectors = np.asarray(embed(pieces), dtype=np.float32)
    out = np.zeros((len(texts), vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float32)
    for row, i in zip(vectors, owner):
        out[i] += row
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


# -- headings ---------------------------------------------------------------------------------------

_NUMBERING = re.compile(r"^\s*(?:(?:adr|rfc)[-_ ]?\d+\s*[:.-]?|\d+(?:\.\d+)*[.):]?|[ivxlc]+[.)]|[a-z][.)])\s+", re.IGNORECASE)
# "invention" too: in "Background of the Invention" it says nothing about which section this is.
_HEADING_STOPWORDS = {"a", "an", "the", "and", "of", "for", "to", "in", "on", "with", "this", "our", "&", "invention"}


def _stem(word: str) -> str:
    # Enough for "Decisions"/"Decision" and "Parties"/"Party"; not a real stemmer.
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") and len(word) > 3 else word


def normalise_heading(heading: str) -> str:
    """'## 2. Decision Outcome:' -> 'decision outcome'."""
    text = heading.strip().lstrip("#").strip().strip("*_`").strip()
    text = _NUMBERING.sub("", text)
    return " ".join(w for w in words(text))


def heading_words(heading: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in normalise_heading(heading).split() if w not in _HEADING_STOPWORDS)


def lexical_heading_score(a: str, b: str) -> float:
    """1 for the same words, 0.8 when one heading's words contain the other's ("Positive
    Consequences" and "Consequences"), else 0."""
    wa, wb = heading_words(a), heading_words(b)
    if not wa or not wb:
        return 0.0
    if wa == wb:
        return 1.0
    return 0.8 if wa <= wb or wb <= wa else 0.0


def heading_scores(generated: Sequence[str], reference: Sequence[str], embed: Embed | None = None) -> np.ndarray:
    """scores[i, j]: how surely generated heading i means reference heading j (0..1)."""
    scores = np.array([[lexical_heading_score(g, r) for r in reference] for g in generated], dtype=np.float32)
    scores = scores.reshape(len(generated), len(reference))
    if embed is not None and len(generated) and len(reference):
        gv = np.asarray(embed([normalise_heading(g) or g for g in generated]), dtype=np.float32)
        rv = np.asarray(embed([normalise_heading(r) or r for r in reference]), dtype=np.float32)
        semantic = np.clip(gv @ rv.T, 0.0, 1.0)
        scores = np.maximum(scores, np.where(semantic >= HEADING_MATCH, semantic, 0.0))
    # Text before any heading has no title to match: two such never "mean the same".
    scores[[not heading_words(g) for g in generated], :] = 0.0
    scores[:, [not heading_words(r) for r in reference]] = 0.0
    return scores


def match_headings(generated: Sequence[str], reference: Sequence[str], embed: Embed | None = None,
                   threshold: float = HEADING_MATCH) -> dict[int, list[int]]:
    """For each generated heading (by index), the reference headings that belong to it: every
    reference heading goes to the generated heading it matches best, when that match is at least
    `threshold`. Several reference sections may go to one ("Positive Consequences" and "Negative
    Consequences" to "Consequences"); a generated heading matching nothing is absent."""
    scores = heading_scores(generated, reference, embed)
    out: dict[int, list[int]] = {}
    for j in range(len(reference)):
        if not len(generated):
            break
        i = int(np.argmax(scores[:, j]))
        if scores[i, j] >= threshold:
            out.setdefault(i, []).append(j)
    return out


def best_match(heading: str, candidates: Sequence[str], embed: Embed | None = None,
               threshold: float = HEADING_MATCH) -> int | None:
    """The index of the candidate heading that means the same as `heading`, or None."""
    if not candidates:
        return None
    scores = heading_scores([heading], candidates, embed)[0]
    i = int(np.argmax(scores))
    return i if scores[i] >= threshold else None


# -- documents --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DocSection:
    title: str
    text: str
    level: int = 2  # 0: text before the first heading


_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)([^*_\n]{2,80}?)(?:\*\*|__)\s*:?\s*$")
_LABEL_LINE = re.compile(r"^\s*([A-Z][A-Za-z0-9 ,&/'()-]{1,60}):\s*$")
_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.DOTALL)


def markdown_sections(text: str, loose: bool = False) -> tuple[str, list[DocSection]]:
    """(the document's title, its sections). The first level-1 heading is the title. With `loose`,
    a line that is only bold text or a short `Label:` also starts a section, as small models write
    headings that way."""
    text = _FRONT_MATTER.sub("", text, count=1)
    title = ""
    sections: list[DocSection] = []
    current_title, current_level, lines = "", 0, []

    def flush() -> None:
        body = "\n".join(lines).strip()
        if current_title or body:
            sections.append(DocSection(current_title, body, current_level))

    for line in text.splitlines():
        m = _ATX.match(line)
        heading, level = (m.group(2).strip(), len(m.group(1))) if m else ("", 0)
        if not m and loose:
            b = _BOLD_LINE.match(line) or _LABEL_LINE.match(line)
            if b and len(b.group(1).split()) <= 8:
                heading, level = b.group(1).strip(), 2
        if not heading:
            lines.append(line)
            continue
        if level == 1 and not title and not sections and not "".join(lines).strip():
            title, lines = heading, []
            continue
        flush()
        current_title, current_level, lines = heading, level, []
    flush()
    return title, sections


# -- document-level measures ------------------------------------------------------------------------

def facts_present(facts: Sequence[tuple[str, str, str]], text: str) -> tuple[float, list[str]]:
    """(the share of facts found in `text`, the names of those missing); a fact is (name, field type,
    value), compared with validate's normalisation ("Rs. 28,000/-" is 28000, dates in any format)."""
    # Imported here: validation imports this module.
    from assistant.drafting.validation import fact_present

    given = [(name, kind, value) for name, kind, value in facts if str(value).strip()]
    missing = [name for name, kind, value in given if not fact_present(kind, str(value), text)[0]]
    return (1 - len(missing) / len(given) if given else 1.0), missing


def sections_present(required: Sequence[str], sections: Sequence[DocSection], embed: Embed | None = None
                     ) -> tuple[float, list[str]]:
    """(the share of `required` titles that a non-empty section's heading means, those missing)."""
    titles = [s.title for s in sections]
    missing = []
    for title in required:
        i = best_match(title, titles, embed)
        if i is None or not sections[i].text.strip():
            missing.append(title)
    return (1 - len(missing) / len(required) if required else 1.0), missing


def off_topic_sections(titles: Sequence[str], allowed: Sequence[str], supported: Callable[[str], bool] | None = None,
                       embed: Embed | None = None) -> list[str]:
    """The distinct titles that mean none of `allowed` (a template's sections, optional ones too) and
    that `supported` (e.g. headings of same-kind documents in the library) does not vouch for."""
    out: list[str] = []
    seen: set[str] = set()
    for title in titles:
        key = normalise_heading(title)
        if not key or key in seen:
            continue
        seen.add(key)
        if best_match(title, allowed, embed) is not None or (supported is not None and supported(title)):
            continue
        out.append(title)
    return out
