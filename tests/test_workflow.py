"""Plan and draft plumbing: prompt building and parsing (pure), then the workflow on a tiny random model."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant import drafting
from assistant.drafting import examples, model_calls, prompts
from assistant.drafting.templates import get_template
from tests.fixtures_drafting import RENT


def test_parse_titles_keeps_titles_and_drops_prose():
    output = "Here are the sections:\n1. **Status**\n2) Context:\n- Decision\n## Consequences\n\nDecision\n" \
             "This section explains why the team decided to do what it did in detail.\n"
    assert prompts.parse_titles(output) == ["Here are the sections", "Status", "Context", "Decision", "Consequences"]


def test_merge_plan_keeps_required_sections_in_order_and_places_extras_before_closing_ones():
    template = get_template("in-rent-agreement")
    proposed = ["Rent", "Pets and Parking", "Residential Rent Agreement (11 months)", "Anil Sharma", "Lock-in Period"]
    outline, extras = prompts.merge_plan(template.sections, proposed, 3, {**RENT, "_template": template.name},
                                         ["Pets and Parking", "Lock-in Period", "Rent"])
    assert extras == ["Pets and Parking", "Lock-in Period"]
    names = [item if isinstance(item, str) else item.id for item in outline]
    assert names[-5:] == ["Pets and Parking", "Lock-in Period", "registration", "schedule", "signatures"]
    assert [n for n in names if n not in extras] == [s.id for s in template.sections]


def test_draft_prompt_puts_facts_first_and_names_the_section():
    template = get_template("in-rent-agreement")
    messages = prompts.draft_messages(template, RENT, "Additional Terms", "Write two clauses.",
                                      ["Parties", "Additional Terms"], 2,
                                      [prompts.PriorSection("Parties", "This Rent Agreement is made. " * 30, True)],
                                      ["Example clause about parking."])
    user = messages[1]["content"]
    assert user.startswith("Facts (use them exactly as written):\n- Lessor (owner): Anil Sharma")
    assert "2. Additional Terms  <- this section" in user and "Example clause about parking." in user
    assert len(user.split("- Parties: ")[1].split("\n")[0]) <= prompts.CONDENSE_CHARS + 2
    assert 'Write the "Additional Terms" section' in user


def test_clean_section_drops_heading_repeats_and_the_cut_off_tail():
    raw = "## Decision\nWe will use PostgreSQL. It is robust.\nIt is robust.\n\nThe team will migrate in"
    assert prompts.clean_section(raw, "Decision", "We will use PostgreSQL.") == "It is robust."
    # A primed continuation keeps its first (unfinished-looking) words: they end the fixed sentence.
    assert prompts.clean_section(" it is fast. It is fast. It scales.", "D", "", keep_lead=True) == "it is fast. It scales."


@pytest.fixture(scope="module")
def tiny_lm(tiny_model_dir: Path):
    from engine.loading import load_model

    return load_model(str(tiny_model_dir), device="cpu", dtype="fp32")


@dataclass
class FakeExample:
    text: str


class FakeLibrary:
    def examples(self, kind: str, heading: str, text: str = "", k: int = 3, form: str | None = None) -> list[FakeExample]:
        return [FakeExample(f"Example {kind} section for {heading}.")]

    def search(self, query: str, k: int = 10, kind: str | None = None, source: str | None = None) -> list:
        return []

    def stats(self) -> dict:
        return {"documents": 1, "by_kind": {"adr": 1}}

    def close(self) -> None:
        pass


def test_draft_all_stores_every_section_with_stats_and_reference_texts(tiny_lm, monkeypatch: pytest.MonkeyPatch):
    calls: list[dict] = []
    real = model_calls.generate

    def spy(lm, prompt, config, **kwargs):
        calls.append({"prompt": prompt, "config": config, **kwargs})
        return real(lm, prompt, config, **kwargs)

    monkeypatch.setattr(model_calls, "generate", spy)
    monkeypatch.setattr(examples, "open_library", lambda: FakeLibrary())
    sid = drafting.new_session("adr-nygard", values={"title": "Use PostgreSQL", "context": "Flat files lose events.",
                                                     "decision": "Store events in PostgreSQL."}).id
    seen: list[int] = []
    results = drafting.draft_all(sid, tiny_lm, on_section=lambda n, s: seen.append(n), max_new_tokens=8)
    # Status is fixed wording; Context and Decision are the person's facts, which the embedded
    # model is not asked to pad; only Consequences, with none given, is the model's.
    assert seen == [1, 2, 3, 4] and [r.used_model for r in results] == [False, False, False, True]
    # One call for the model-written section, and a second if its first draft was unusable.
    assert 1 <= len(calls) <= 2 and all(c["config"].max_new_tokens == 8 for c in calls)
    assert calls[0]["reference_texts"][0] == "Example adr section for Consequences."
    assert "Store events in PostgreSQL." in calls[0]["reference_texts"]
    session = drafting.get_session(sid)
    assert session.section(2).text == "Flat files lose events."  # no dangling "This matters because"
    assert session.section(2).current.method == drafting.FROM_FACTS and session.section(2).current.source == "fixed"
    stats = session.section(4).current.stats
    assert stats["new_tokens"] <= 8 and stats["examples"] == 1 and session.section(4).current.model
    assert drafting.draft_all(sid, tiny_lm, max_new_tokens=8) == []  # nothing left to draft
    # Asked to, the model adds to the facts, which stay first.
    extended = drafting.draft_section(sid, session.section(3).id, tiny_lm, max_new_tokens=8, extend=True)
    assert extended.used_model and extended.version.text.startswith("Store events in PostgreSQL.")
    assert len(calls) >= 2 and calls[-1]["reference_texts"][0] == "Example adr section for Decision."


def test_a_section_written_from_facts_follows_a_changed_fact_unless_the_person_edited_it(tiny_lm):
    sid = drafting.new_session("adr-nygard", values={"title": "T", "context": "Old context.", "decision": "Old."}).id
    drafting.draft_all(sid, tiny_lm, max_new_tokens=4, use_library=False)
    decision = drafting.get_session(sid).section(3).id
    drafting.edit_section(sid, decision, "My own decision text.")
    session = drafting.set_values(sid, {"context": "New context.", "decision": "New."})
    assert session.section(2).text == "New context." and session.section(2).current.method == drafting.FROM_FACTS
    assert session.section(3).text == "My own decision text."


def test_cancel_stops_draft_all_and_keeps_what_was_written(tiny_lm):
    sid = drafting.new_session("adr-nygard", values={"title": "T", "context": "c", "decision": "d"}).id
    cancel = threading.Event()

    def stop_after_first(position: int, section: object) -> None:
        if position == 2:
            cancel.set()

    results = drafting.draft_all(sid, tiny_lm, on_section=stop_after_first, cancel=cancel, max_new_tokens=8,
                                 use_library=False, extend=True)
    assert [r.position for r in results] == [1, 2] and results[1].cancelled and results[1].version is None
    assert [s.status for s in drafting.get_session(sid).sections] == ["drafted", "planned", "planned", "planned"]


def test_plan_on_tiny_model_keeps_required_sections(tiny_lm, monkeypatch: pytest.MonkeyPatch):
    sid = drafting.new_session("in-rent-agreement", values=RENT).id
    result = drafting.plan(sid, tiny_lm, max_new_tokens=24, use_library=False)
    template = get_template("in-rent-agreement")
    keyed = [s.key for s in result.session.sections if s.key]
    assert keyed == [s.id for s in template.sections]
    assert len(result.session.sections) == len(keyed) + len(result.added)
    from engine.generation import GenerationResult

    fresh = drafting.new_session("in-rent-agreement", values=RENT).id

    class RentLibrary(FakeLibrary):  # other rent agreements that have a pets-and-parking clause
        def stats(self) -> dict:
            return {"documents": 3, "by_kind": {"legal": 3}, "by_form": {"rent-agreement": 3}}

        def common_headings(self, kind: str, min_documents: int = 2) -> list[tuple[str, int]]:
            return [("Pets and Parking", 3)] if kind == "rent-agreement" else []

    monkeypatch.setattr(examples, "open_library", lambda: RentLibrary())

    def answer(text: str):
        monkeypatch.setattr(model_calls, "generate", lambda *a, **k: GenerationResult(text, []))
        return drafting.plan(fresh, tiny_lm)

    # Known answers, not the random model's: one title, or none, is not an outline, so the
    # template's sections stay as they are...
    for text in ("1. Pets and Parking\n", "no list here"):
        fallback = answer(text)
        assert fallback.notice.startswith("the model's outline could not be read"), text
        assert fallback.added == [] and [s.key for s in fallback.session.sections] == keyed
    # ...while a readable list is used for the titles other rent agreements support.
    used = answer("1. Pets and Parking\n2. Lock-in Period\n")
    assert used.notice == "" and used.proposed == ["Pets and Parking", "Lock-in Period"]
    assert used.added == ["Pets and Parking"]
    assert [s.title for s in used.session.sections if not s.key] == used.added


def test_plan_without_a_budget_uses_plan_tokens_read_when_called(tiny_lm, monkeypatch: pytest.MonkeyPatch):
    """The app plans with drafting.plan and no budget: the budget is planner.PLAN_TOKENS as it is
    when called, so setting it (as the app's Pilot test does) takes effect."""
    from assistant.drafting import planner
    from engine.generation import GenerationResult

    budgets: list[int] = []

    def spy(lm, messages, config, **kwargs):
        budgets.append(config.max_new_tokens)
        return GenerationResult("no list here", [])

    monkeypatch.setattr(model_calls, "generate", spy)
    monkeypatch.setattr(planner, "PLAN_TOKENS", 7)
    drafting.plan(drafting.new_session("in-rent-agreement", values=RENT).id, tiny_lm, use_library=False)
    assert budgets == [7]


@pytest.mark.real_model  # loads the MiniLM embedding model
def test_draft_uses_the_users_library_for_examples(tiny_lm, corpus: Path, monkeypatch: pytest.MonkeyPatch):
    from retrieval.library import open_library

    files = sorted((corpus / "adr-18f-piipan").glob("docs__adr__000[2-4]*.md"))
    library = open_library()
    try:
        library.add_paths(files, kind="adr")
        assert library.stats()["by_kind"].get("adr") == len(files)
    finally:
        library.close()
    captured: list[list[str]] = []
    real = model_calls.generate

    def spy(lm, prompt, config, **kwargs):
        captured.append(list(kwargs.get("reference_texts", ())))
        return real(lm, prompt, config, **kwargs)

    monkeypatch.setattr(model_calls, "generate", spy)
    sid = drafting.new_session("adr-madr", values={"title": "Pick a deployment platform", "context": "We need to host"
                                                   " the service.", "options": "cloud.gov; AWS", "chosen": "cloud.gov",
                                                   "because": "it is authorised"}).id
    consequences = next(s.id for s in drafting.get_session(sid).sections if s.key == "consequences")
    result = drafting.draft_section(sid, consequences, tiny_lm, max_new_tokens=4)
    assert result.examples >= 1
    corpus_text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    assert captured[0][0].strip() and captured[0][0].strip()[:60] in corpus_text
