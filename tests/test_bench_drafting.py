"""`draftpad bench --drafting`: the shipped cases, the scoring of a crafted draft, and one small run
end to end on the embedded model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.bench import drafting as bench
from assistant.drafting import get_template
from engine.errors import UserError

ROW_KEYS = {"system", "cases", "sections_present", "facts_present", "placeholders", "echo", "repeated_sentences",
            "repeated_4grams", "off_topic_sections", "rouge_l", "similarity"}


# -- the case file ----------------------------------------------------------------------------------

def test_shipped_cases_cover_the_templates_and_fill_every_required_field():
    cases = bench.load_cases(bench.DEFAULT_CASES)
    adrs = [c for c in cases if c.template.startswith("adr-")]
    assert len(adrs) >= 12
    assert len({c.reference.split("/")[0] for c in adrs}) >= 5  # several projects
    assert all(c.reference for c in adrs)
    templates = {c.template for c in cases}
    assert {"in-rent-agreement", "in-affidavit", "in-power-of-attorney", "in-agreement-to-sell",
            "patent-spec"} <= templates
    for case in cases:
        template = get_template(case.template)
        assert set(case.values) <= {f.name for f in template.fields}, case.id
        for f in template.fields:
            if f.required:
                assert (case.values.get(f.name) or f.default).strip(), f"{case.id}: {f.name}"


def test_shipped_references_are_in_the_corpus(corpus: Path):
    for case in bench.load_cases(bench.DEFAULT_CASES):
        if case.reference:
            assert (corpus / case.reference).is_file(), case.reference


def test_a_bad_case_line_is_named(tmp_path: Path):
    path = tmp_path / "cases.jsonl"
    path.write_text('{"id": "a", "template": "adr-nygard", "values": {}}\n{"id": "b", "values": []}\n')
    with pytest.raises(UserError, match=r"cases.jsonl:2: expected a JSON object"):
        bench.load_cases(path)
    path.write_text('{"id": "a", "template": "adr-nygard", "values": {}}\n' * 2)
    with pytest.raises(UserError, match="used twice"):
        bench.load_cases(path)
    cases = bench.load_cases(bench.DEFAULT_CASES)
    assert [c.id for c in bench.select_cases(cases, None, 2)] == [c.id for c in cases[:2]]
    with pytest.raises(UserError, match="no case 'nope'"):
        bench.select_cases(cases, "nope", None)


# -- scoring ----------------------------------------------------------------------------------------

def _crafted(system: str, sections: list[bench.DraftSection], prompt: str) -> bench.Draft:
    markdown = "# Use bash for scripting\n\n" + "\n\n".join(f"## {s.title}\n\n{s.text}" for s in sections)
    return bench.Draft(system, markdown, sections, [(prompt, set())])


def test_a_crafted_draft_is_scored_as_counted_by_hand():
    template = get_template("adr-nygard")
    case = bench.DraftingCase("c", "adr-nygard", {
        "title": "Use bash for scripting", "status": "Accepted",
        "context": "We need a scripting tool for deployments and CI automation.",
        "decision": "Write our scripts in bash 3.2."})
    prompt = ("Facts (use them exactly as written):\n- Context: We need a scripting tool for deployments and CI "
              "automation.\n\nWrite plain paragraphs only: no heading, no title, no placeholders in brackets.")
    sections = [
        bench.DraftSection("Status", "Accepted", False, "status"),
        bench.DraftSection("Context", "We need a scripting tool for deployments and CI automation. "
                           "Write plain paragraphs only, no heading, no title, no placeholders.", True, "context"),
        bench.DraftSection("Decision", "Write our scripts in bash 3.2. The team knows bash well. "
                           "The team knows bash well.", True, "decision"),
        bench.DraftSection("The document should have the following sections", "It is {place}.", True, ""),
    ]
    reference = [bench.q.DocSection("Context", "We need a basic scripting tool for deployments."),
                 bench.q.DocSection("Decision", "Use bash as our primary scripting language.")]
    score = bench.score_draft(_crafted("draftpad", sections, prompt), case, template, case.values, reference,
                              set(), None, None)
    s = score.scores
    assert s["sections_present"] == pytest.approx(3 / 4)  # Consequences is missing
    assert score.details["missing_sections"] == ["Consequences"]
    assert s["facts_present"] == 1.0
    assert s["placeholders"] == 1 and score.details["placeholders"] == ["{place}"]
    assert s["echo"] == 1 and score.details["echo"] == [
        "Write plain paragraphs only, no heading, no title, no placeholders."]
    # 6 sentences of 3+ words ("Accepted" is too short); one repeats.
    assert s["repeated_sentences"] == pytest.approx(1 / 6)
    assert s["off_topic_sections"] == 1
    assert 0 < s["rouge_l"] < 1 and s["similarity"] is None  # no embedder given

    naive = bench.score_draft(_crafted("naive", [bench.DraftSection("Overview", "Bash it is.", True)], prompt),
                              case, template, case.values, reference, set(), None, None)
    assert naive.scores["sections_present"] == 0.0 and naive.scores["off_topic_sections"] == 1
    assert naive.details["compared"] == ["(whole documents)"]


def test_summary_sums_counts_and_averages_fractions():
    def score(system: str, echo: int, rouge: float | None) -> bench.CaseScore:
        scores = {m: 0.5 for m in bench.METRICS} | {"placeholders": 1, "echo": echo, "off_topic_sections": 0,
                                                     "rouge_l": rouge, "similarity": rouge}
        return bench.CaseScore("c", system, scores, 1.0)

    rows = bench.summarise([score("draftpad", 2, 0.2), score("draftpad", 1, None), score("naive", 0, 0.4)])
    assert [r["system"] for r in rows] == ["draftpad", "naive"]
    assert all(set(r) == ROW_KEYS for r in rows)
    assert rows[0]["cases"] == 2 and rows[0]["echo"] == 3 and rows[0]["placeholders"] == 2
    assert rows[0]["rouge_l"] == pytest.approx(0.2)  # the case without a reference does not count


# -- end to end -------------------------------------------------------------------------------------

@pytest.mark.real_model
def test_bench_drafting_end_to_end_on_two_cases(cli, corpus: Path, tmp_path: Path):
    wanted = ("adr-piipan-bash", "legal-affidavit-name-change")
    cases = [c for c in bench.load_cases(bench.DEFAULT_CASES) if c.id in wanted]
    # A small library: the ADR's reference and a few neighbours of each kind (the full corpus takes minutes).
    small = tmp_path / "corpus"
    sources = sorted((corpus / "adr-18f-piipan").glob("*.md"))[:4] + [corpus / cases[0].reference]
    sources += sorted((corpus / "guidance-india-drafting-specs").glob("*-draft.md"))[:3]
    for path in sources:
        target = small / path.relative_to(corpus)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    case_file = tmp_path / "cases.jsonl"
    case_file.write_text("".join(json.dumps({"id": c.id, "template": c.template, "values": c.values,
                                             "reference": c.reference}) + "\n" for c in cases))
    out = tmp_path / "bench.json"
    result = cli("bench", "--drafting", "--cases", str(case_file), "--corpus", str(small), "--json", str(out),
                 "--max-new-tokens", "16", timeout=2400)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.network_attempts == []
    assert "| draftpad |" in result.stdout and "| naive |" in result.stdout
    report = json.loads(out.read_text())
    assert report["complete"] is True
    rows = {r["system"]: r for r in report["rows"]}
    assert set(rows) == {"draftpad", "naive"} and all(set(r) == ROW_KEYS for r in rows.values())
    for row in rows.values():
        assert row["cases"] == 2
        for metric in ("sections_present", "facts_present", "repeated_sentences", "repeated_4grams", "rouge_l",
                       "similarity"):
            assert 0.0 <= row[metric] <= 1.0, (row["system"], metric)
        for metric in ("placeholders", "echo", "off_topic_sections"):
            assert isinstance(row[metric], int) and row[metric] >= 0
    # The pipeline keeps every required section of the template and writes the fixed wording with the
    # facts in it; the plain prompt was never shown the sections.
    assert rows["draftpad"]["sections_present"] == 1.0
    assert rows["draftpad"]["facts_present"] > rows["naive"]["facts_present"]
    by_case = {(c["case"], c["system"]): c["markdown"] for c in report["per_case"]}
    assert by_case[("adr-piipan-bash", "draftpad")] != by_case[("adr-piipan-bash", "naive")]
    assert by_case[("adr-piipan-bash", "draftpad")].startswith("# Use bash for scripting")
