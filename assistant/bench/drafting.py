"""`draftpad bench --drafting`: what the drafts are worth, draftpad's pipeline against one plain prompt.

For each case (a template, its field values and optionally the real document it came from), on the
same model in one run:
- `draftpad`: the real pipeline through the drafting core's public face: `new_session` with the
  case's values, `plan`, `draft_all`, then `export` to Markdown, with retrieval from a library of
  the corpus minus the case's reference document (leave-one-out, else retrieval finds the answer).
- `naive`: one chat prompt asking the same model for the whole document with the same facts; no
  template, no retrieval.

ROUGE-L and similarity compare the sections drafted for the document (by the model, or written
from the person's facts where the model is not asked to add to them) with the reference's matching
sections; a template's fixed wording is not compared, for either system.

Leave-one-out: the corpus library is built once (cached under `DRAFTPAD_CACHE`, keyed by the
corpus's files) and each case runs in a fresh temporary DRAFTPAD_HOME holding a copy of it from
which the reference document has been removed, so no case can see another case's changes.

Echo is measured against the scaffolding of the prompts the model was actually given: for
draftpad, the prompts of the session's calls as the generation log recorded them; for naive, its
one prompt. What a draft may rightly reuse is taken out first (the facts, the library's text,
which holds every retrieved example, and the document's own earlier and fixed text), see
`quality.scaffolding_fragments`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.bench import DATA_DIR, DEFAULT_CORPUS
from assistant.drafting import quality as q
from engine.errors import UserError

DEFAULT_CASES = DATA_DIR / "drafting_cases.jsonl"
SYSTEMS = ("draftpad", "naive")
METRICS = ("sections_present", "facts_present", "placeholders", "echo", "repeated_sentences", "repeated_4grams",
           "off_topic_sections", "rouge_l", "similarity")
COUNTS = {"placeholders", "echo", "off_topic_sections"}  # summed over cases; the others are means
# The corpus folders the library is built from (not LICENSES/ and the corpus's own notes).
CORPUS_FOLDER = re.compile(r"^(adr|legal|patents|guidance)-")
LIBRARY_VERSION = "1"  # bump when the way the cached library is built changes
SUPPORT_SCORE = 0.75  # heading likeness at which a library heading supports a planner's extra section
SUPPORT_DOCUMENTS = 2  # ... when at least this many documents of the kind use it
NAIVE_TOKENS = 1024
SECTION_TOKENS = 200  # per generated section when the template does not say: sizes the naive budget


# -- cases ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DraftingCase:
    id: str
    template: str
    values: dict[str, str]
    reference: str = ""  # relative to the corpus folder
    variant: str = ""


def load_cases(path: Path) -> list[DraftingCase]:
    """JSONL, one case a line: {"id", "template", "values": {...}, "reference"?, "variant"?}."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"cannot read the case file {path}: {exc.strerror}") from None
    cases: list[DraftingCase] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            values = row["values"]
            if not isinstance(values, dict):
                raise TypeError
            case = DraftingCase(str(row["id"]), str(row["template"]), {str(k): str(v) for k, v in values.items()},
                                str(row.get("reference") or ""), str(row.get("variant") or ""))
        except (ValueError, KeyError, TypeError):
            raise UserError(f'{path}:{number}: expected a JSON object with "id", "template" and "values" '
                            '(an object of field values)') from None
        if any(c.id == case.id for c in cases):
            raise UserError(f"{path}:{number}: case id '{case.id}' is used twice")
        cases.append(case)
    if not cases:
        raise UserError(f"{path} holds no cases")
    return cases


def select_cases(cases: list[DraftingCase], case_id: str | None, limit: int | None) -> list[DraftingCase]:
    if case_id:
        cases = [c for c in cases if c.id == case_id]
        if not cases:
            raise UserError(f"no case '{case_id}' in the case file")
    return cases[:limit] if limit else cases


# -- the library ------------------------------------------------------------------------------------

def corpus_folders(corpus: Path) -> list[Path]:
    folders = sorted(p for p in corpus.iterdir() if p.is_dir() and CORPUS_FOLDER.match(p.name))
    return folders or [corpus]


def corpus_key(folders: Sequence[Path]) -> str:
    digest = hashlib.sha256(LIBRARY_VERSION.encode())
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def cached_library(corpus: Path, say: Callable[[str], None]) -> Path:
    """The folder holding a library database of the corpus, built on first use."""
    from engine.paths import cache_dir
    from retrieval.library import open_library

    folders = corpus_folders(corpus)
    target = cache_dir("bench-drafting") / f"library-{corpus_key(folders)}"
    if (target / "draftpad.db").is_file():
        return target
    say(f"bench --drafting: building the corpus library once ({len(folders)} folders; cached in {target})")
    building = Path(tempfile.mkdtemp(dir=target.parent, prefix=".building-"))
    try:
        lib = open_library(building / "draftpad.db")
        try:
            summary = lib.add_paths([str(f) for f in folders])
        finally:
            lib.close()
        say(f"  {len(summary.added)} documents imported in {summary.seconds:.0f}s")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(building, target)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


@contextlib.contextmanager
def scratch_home(library: Path, exclude: Path | None) -> Iterator[Path]:
    """A temporary DRAFTPAD_HOME with a copy of the library, minus `exclude`. Caches stay where they
    were (the model's dequantised copy is not rebuilt), and the generation log is on in this home."""
    saved = {k: os.environ.get(k) for k in ("DRAFTPAD_HOME", "DRAFTPAD_CACHE", "DRAFTPAD_LOG")}
    from engine.paths import cache_dir

    cache_root = cache_dir("bench-drafting").parent
    with tempfile.TemporaryDirectory(prefix="draftpad-bench-") as home:
        for item in library.iterdir():
            if item.is_file() and item.name.startswith("draftpad."):
                shutil.copy2(item, Path(home) / item.name)
        os.environ.update(DRAFTPAD_HOME=home, DRAFTPAD_CACHE=str(cache_root), DRAFTPAD_LOG="1")
        try:
            if exclude is not None:
                from retrieval.library import open_library

                lib = open_library()
                try:
                    if not lib.remove(exclude):
                        raise UserError(f"reference {exclude} is not in the corpus library")
                finally:
                    lib.close()
            yield Path(home)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@dataclass
class HeadingSupport:
    """The headings the library's documents of one kind use, to tell a supported section title from
    an invented one."""

    headings: list[str]
    documents: list[set[str]]  # per heading, the documents using it
    vectors: np.ndarray | None

    @classmethod
    def of_kind(cls, kind: str, embed: q.Embed | None) -> HeadingSupport:
        from retrieval.library import open_library

        users: dict[str, set[str]] = {}
        shown: dict[str, str] = {}
        lib = open_library()
        try:
            for info in lib.list_documents():
                if info.kind != kind:
                    continue
                for section in lib.document(info.path).sections:
                    heading = section.heading.split(" > ")[-1].strip()
                    key = q.normalise_heading(heading)
                    if key:
                        users.setdefault(key, set()).add(info.path)
                        shown.setdefault(key, heading)
        finally:
            lib.close()
        keys = sorted(users)
        vectors = np.asarray(embed(keys), dtype=np.float32) if embed is not None and keys else None
        return cls([shown[k] for k in keys], [users[k] for k in keys], vectors)

    def supported(self, title: str, embed: q.Embed | None, exclude: str = "") -> bool:
        if not self.headings:
            return False
        lexical = np.array([q.lexical_heading_score(title, h) for h in self.headings], dtype=np.float32)
        if self.vectors is not None and embed is not None:
            vector = np.asarray(embed([q.normalise_heading(title) or title]), dtype=np.float32)[0]
            lexical = np.maximum(lexical, self.vectors @ vector)
        users: set[str] = set()
        for i in np.nonzero(lexical >= SUPPORT_SCORE)[0]:
            users |= self.documents[int(i)]
        users.discard(exclude)
        return len(users) >= SUPPORT_DOCUMENTS


class _Covered:
    """n-gram membership in the library's text or in a small set of the document's own."""

    def __init__(self, *sets: set[int]) -> None:
        self.sets = sets

    def __contains__(self, item: object) -> bool:
        return any(item in s for s in self.sets)

    def __bool__(self) -> bool:
        return any(self.sets)


# -- one system's output, and its scores --------------------------------------------------------------

@dataclass
class DraftSection:
    title: str
    text: str
    # drafted for this document, by the model or from the person's facts; a template's fixed
    # wording ("Status: Accepted", a standard clause) is not, and is not compared with the reference
    drafted: bool
    template_key: str = ""  # the template section it is, "" for one the planner (or the model) added
    prompts: list[str] = field(default_factory=list)  # the prompts that produced it


@dataclass
class Draft:
    system: str
    markdown: str
    sections: list[DraftSection]
    prompts: list[tuple[str, set[int]]]  # (prompt, n-grams of what it may rightly contain besides the library)
    seconds: float = 0.0
    values: dict[str, str] = field(default_factory=dict)  # the facts as the document has them (defaults too)
    notes: list[str] = field(default_factory=list)


@dataclass
class CaseScore:
    case: str
    system: str
    scores: dict[str, float | int | None]
    seconds: float
    details: dict[str, list[str]] = field(default_factory=dict)


def _fill(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: values.get(m.group(1), "") or " ", text)


def fixed_wording(template: object, values: dict[str, str]) -> list[str]:
    """The template's own words in the document (fixed sections, and mixed ones around the slot)."""
    out = []
    for spec in template.sections:
        if spec.mode in ("fixed", "mixed") and spec.text:
            out.extend(p for p in _fill(spec.text, {**values, "draft": "\n\n"}).split("\n\n") if p.strip())
    return out


def fact_values(template: object, values: dict[str, str]) -> list[str]:
    """The facts as given and as a template may render them (amounts, list items)."""
    out = [v for v in values.values() if v and v.strip()]
    for f in template.fields:
        value = values.get(f.name, "")
        if f.type == "list" and value:
            out.extend(i.strip() for i in re.split(r"[;\n]", value) if i.strip())
    return out


def score_draft(draft: Draft, case: DraftingCase, template: object, values: dict[str, str],
                reference: list[q.DocSection] | None, library_ngrams: set[int], support: HeadingSupport | None,
                embed: q.Embed | None, reference_path: str = "") -> CaseScore:

    specs = template.sections_for(case.variant)
    required = [s for s in specs if s.required]
    details: dict[str, list[str]] = {}
    text = draft.markdown
    body = "\n\n".join(s.text for s in draft.sections)

    # sections_present: the template's required sections, there and not empty (draftpad's by their
    # template key, so a renamed section still counts; naive's by heading).
    if draft.system == "draftpad":
        by_key = {s.template_key: s for s in draft.sections if s.template_key}
        missing_sections = [s.title for s in required if not (by_key.get(s.id) and by_key[s.id].text.strip())]
        sections_present = 1 - len(missing_sections) / len(required) if required else 1.0
    else:
        sections_present, missing_sections = q.sections_present(
            [s.title for s in required], [q.DocSection(s.title, s.text) for s in draft.sections], embed)
    details["missing_sections"] = missing_sections

    # facts_present: every given fact, found with validate's normalisation.
    facts_present, details["missing_facts"] = q.facts_present(
        [(f.name, f.type, case.values.get(f.name, "")) for f in template.fields], text)

    details["placeholders"] = q.placeholders(text)

    echoed: list[str] = []
    facts = fact_values(template, values)
    for prompt, own in draft.prompts:
        covered = _Covered(library_ngrams, own)
        fragments = q.scaffolding_fragments(prompt, facts, covered)
        windows = q.wrapper_windows(prompt, facts, covered)
        echoed += [s for s in q.echo_sentences(body, fragments, windows=windows) if s not in echoed]
    details["echo"] = echoed

    details["repeated_sentences"] = q.repeated_sentences(body)
    drafted = [s for s in draft.sections if s.drafted]
    pooled = [q.repeated_ngram_counts(s.text, 4) for s in drafted]
    total = sum(t for _, t in pooled)
    repeated_4grams = sum(r for r, _ in pooled) / total if total else 0.0

    # off_topic_sections: titles neither the template (any variant, optional ones too) nor the library support.
    supported = (lambda title: support.supported(title, embed, reference_path)) if support is not None else None
    off_topic = q.off_topic_sections([s.title for s in draft.sections if not s.template_key],
                                     [s.title for s in template.sections], supported, embed)
    details["off_topic_sections"] = off_topic

    rouge = similarity = None
    if reference:
        fixed_titles = [s.title for s in specs if s.mode == "fixed"]
        compared = [s for s in drafted if s.text.strip()
                    and not (draft.system == "naive" and q.best_match(s.title, fixed_titles, embed) is not None)]
        ref = [r for r in reference if r.text.strip()]
        pairs: list[tuple[str, str]] = []
        matched = q.match_headings([s.title for s in compared], [r.title for r in ref], embed)
        for i, js in sorted(matched.items()):
            pairs.append((compared[i].text, "\n\n".join(ref[j].text for j in js)))
        if not pairs:  # no section matches: the documents as wholes
            pairs = [("\n\n".join(s.text for s in compared) or body, "\n\n".join(r.text for r in ref))]
        rouge = statistics.fmean(q.rouge_l(a, b) for a, b in pairs)
        if embed is not None:
            vectors = q.embed_long(embed, [t for pair in pairs for t in pair])
            similarity = statistics.fmean(q.cosine(vectors[2 * k], vectors[2 * k + 1]) for k in range(len(pairs)))
        details["compared"] = [f"{compared[i].title} ~ {' + '.join(ref[j].title for j in js)}"
                               for i, js in sorted(matched.items())] or ["(whole documents)"]

    scores = {
        "sections_present": sections_present, "facts_present": facts_present,
        "placeholders": len(details["placeholders"]), "echo": len(echoed),
        "repeated_sentences": q.repeated_sentence_share(body), "repeated_4grams": repeated_4grams,
        "off_topic_sections": len(off_topic), "rouge_l": rouge, "similarity": similarity,
    }
    details["calls"] = list(draft.notes)
    return CaseScore(case.id, draft.system, scores, draft.seconds, details)


def summarise(scores: Sequence[CaseScore]) -> list[dict]:
    """One row per system: counts summed over cases, fractions averaged (rouge_l and similarity over
    the cases with a reference)."""
    rows = []
    for system in SYSTEMS:
        mine = [s for s in scores if s.system == system]
        if not mine:
            continue
        row: dict = {"system": system, "cases": len(mine)}
        for metric in METRICS:
            values = [s.scores[metric] for s in mine if s.scores[metric] is not None]
            if metric in COUNTS:
                row[metric] = int(sum(values))
            else:
                row[metric] = round(statistics.fmean(values), 4) if values else None
        rows.append(row)
    return rows


# -- running the two systems ------------------------------------------------------------------------

def naive_messages(template: object, values: dict[str, str]) -> list[dict[str, str]]:
    facts = "\n".join(f"- {f.label}: {values[f.name]}" for f in template.fields if str(values.get(f.name, "")).strip())
    return [
        {"role": "system", "content": "You are a helpful assistant who writes professional documents."},
        {"role": "user", "content": f"Write a complete {template.name} using these facts:\n{facts}\n\n"
                                    "Use Markdown, with a heading for each section."},
    ]


def naive_budget(template: object, variant: str, section_tokens: int | None) -> int:
    """As many tokens as draftpad may spend on the sections the model writes."""
    specs = [s for s in template.sections_for(variant) if s.mode != "fixed"]
    return min(NAIVE_TOKENS, sum(section_tokens or s.max_tokens or SECTION_TOKENS for s in specs) + 64)


def run_naive(lm: object, case: DraftingCase, template: object, section_tokens: int | None) -> Draft:
    from engine.generation import GenerationConfig, generate

    messages = naive_messages(template, case.values)
    started = time.perf_counter()
    result = generate(lm, messages, GenerationConfig(max_new_tokens=naive_budget(template, case.variant, section_tokens),
                                                     temperature=0.0))
    seconds = time.perf_counter() - started
    markdown = result.text.strip()
    _title, parsed = q.markdown_sections(markdown, loose=True)
    sections = [DraftSection(s.title, s.text, True) for s in parsed]
    prompt = "\n\n".join(m["content"] for m in messages)
    calls = [f"whole document: {result.stats.new_tokens} tokens in {seconds:.0f}s ({result.stats.stop_reason})"]
    return Draft("naive", markdown, sections, [(prompt, set())], seconds, dict(case.values), calls)


def run_draftpad(lm: object, case: DraftingCase, template: object, section_tokens: int | None) -> Draft:
    import assistant.drafting as core

    started = time.perf_counter()
    title = case.values.get("title") or case.id
    session = core.new_session(case.template, title=title, values=case.values, variant=case.variant or None)
    notes = []
    # A quick run (--max-new-tokens) shortens the outline's budget too; by default the pipeline's own.
    planned = core.plan(session.id, lm, max_new_tokens=max(48, section_tokens) if section_tokens else None)
    if planned.notice:
        notes.append(planned.notice)
    core.draft_all(session.id, lm, max_new_tokens=section_tokens)
    seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        out = Path(core.export(session.id, "md", Path(folder) / "draft.md"))
        markdown = out.read_text(encoding="utf-8")
    session = core.get_session(session.id)
    sections = [DraftSection(s.title, s.text, bool(s.current and (s.current.source == "generated"
                                                                  or s.current.method == core.FROM_FACTS)), s.key)
                for s in session.sections]

    # The session's model calls, each with what its prompt may rightly hold besides the library:
    # the template's wording and the sections written before it.
    fixed = fixed_wording(template, session.values)
    log = core.open_log()
    try:
        entries = [e for e in log.recent(100_000) if e.session_id == session.id]
    finally:
        log.close()
    if not entries and any(s.current and s.current.source == "generated" for s in session.sections):
        raise UserError("bench --drafting: the generation log holds no prompt of the session, so echo cannot be "
                        "measured (is logging switched off in the code?)")
    prompts = []
    for entry in sorted(entries, key=lambda e: e.id):
        notes.append(f"{entry.kind} {entry.section or ''}: {entry.new_tokens} tokens in {entry.seconds or 0:.0f}s "
                     f"({entry.stop_reason})".replace("  ", " "))
        position = next((i for i, s in enumerate(sections) if s.title == entry.section), len(sections))
        if entry.kind == "plan":
            position = 0
        own = q.ngram_set(fixed + [s.text for s in sections[:position]] + [s.title for s in sections])
        prompts.append((entry.prompt_text(), own))
    return Draft("draftpad", markdown, sections, prompts, seconds, dict(session.values), notes)


def reference_sections(corpus: Path, case: DraftingCase) -> list[q.DocSection] | None:
    if not case.reference:
        return None
    _title, sections = q.markdown_sections((corpus / case.reference).read_text(encoding="utf-8"))
    return sections


# -- output -----------------------------------------------------------------------------------------

def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def table(rows: list[dict]) -> str:
    head = ["system", "cases", *METRICS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_fmt(row.get(h)) for h in head) + " |" for row in rows]
    return "\n".join(lines)


def case_report(score: CaseScore) -> str:
    parts = [f"{score.case} [{score.system}, {score.seconds:.0f}s]: "
             + ", ".join(f"{m} {_fmt(score.scores[m])}" for m in METRICS)]
    for name, items in score.details.items():
        if items:
            shown = "; ".join(repr(i[:160]) for i in items[:4]) + (f" (+{len(items) - 4})" if len(items) > 4 else "")
            parts.append(f"    {name}: {shown}")
    return "\n".join(parts)


def run_drafting_bench(args: argparse.Namespace) -> int:
    from engine.loading import load_model

    say = lambda text: print(text, file=sys.stderr, flush=True)
    corpus = Path(getattr(args, "corpus", None) or DEFAULT_CORPUS)
    cases = select_cases(load_cases(Path(getattr(args, "cases", None) or DEFAULT_CASES)),
                         getattr(args, "case", None), getattr(args, "limit", None))
    if not corpus.is_dir():
        raise UserError(f"corpus folder {corpus} not found: pass --corpus FOLDER")
    for case in cases:
        if case.reference and not (corpus / case.reference).is_file():
            raise UserError(f"case '{case.id}': reference {case.reference} is not in {corpus}")
    section_tokens = getattr(args, "max_new_tokens", None)
    if section_tokens is not None and section_tokens < 1:
        raise UserError("--max-new-tokens must be at least 1")
    verbose = bool(getattr(args, "verbose", False))

    import assistant.drafting as core
    from retrieval.library import open_library, shared_embedder

    templates = {c.template: core.get_template(c.template) for c in cases}
    lm = load_model(getattr(args, "model", "default"), getattr(args, "device", "auto"), getattr(args, "dtype", "auto"))
    say(f"bench --drafting: {len(cases)} cases; model {lm.resolved.display}, "
        f"{str(lm.dtype).replace('torch.', '')} on {lm.device}")
    library = cached_library(corpus, say)
    embed = shared_embedder().embed
    lib = open_library(library / "draftpad.db")
    try:
        library_ngrams = q.ngram_set(lib.all_section_texts())
    finally:
        lib.close()
    # Headings of the whole library; each case leaves its own reference out when it asks.
    with scratch_home(library, None):
        supports = {kind: HeadingSupport.of_kind(kind, embed) for kind in {t.kind for t in templates.values()}}

    scores: list[CaseScore] = []
    drafts: dict[tuple[str, str], str] = {}
    for n, case in enumerate(cases, start=1):
        template = templates[case.template]
        exclude = (corpus / case.reference).resolve() if case.reference else None
        reference = reference_sections(corpus, case)
        with scratch_home(library, exclude):
            draftpad = run_draftpad(lm, case, template, section_tokens)
        naive = run_naive(lm, case, template, section_tokens)
        for draft in (draftpad, naive):
            score = score_draft(draft, case, template, draft.values, reference, library_ngrams,
                                supports[template.kind], embed, str(exclude or ""))
            scores.append(score)
            drafts[(case.id, draft.system)] = draft.markdown
            if verbose:
                say(case_report(score))
        say(f"  [{n}/{len(cases)}] {case.id}: draftpad {draftpad.seconds:.0f}s, naive {naive.seconds:.0f}s")
        # Written after every case, so a long run that is stopped still leaves what it measured.
        write_report(getattr(args, "json_out", None), scores, drafts, len(cases))

    rows = summarise(scores)
    print(f"bench --drafting: {len(cases)} cases, model {lm.resolved.display}; rouge_l and similarity over "
          f"{sum(1 for c in cases if c.reference)} cases with a reference")
    print(table(rows))
    return 0


def write_report(path: Path | None, scores: list[CaseScore], drafts: dict[tuple[str, str], str], planned: int) -> None:
    if not path:
        return
    report = {"rows": summarise(scores),
              "complete": len({s.case for s in scores}) == planned,
              "per_case": [{"case": s.case, "system": s.system, "seconds": round(s.seconds, 2),
                            **{m: s.scores[m] for m in METRICS}, "details": s.details,
                            "markdown": drafts[(s.case, s.system)]} for s in scores]}
    Path(path).write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
