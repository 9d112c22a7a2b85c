"""What the drafting core does with a small model's failures: loops stopped, echoed instructions and
stutter dropped, one seeded retry for a degenerate draft, planner extras only with support, and
validate naming what is wrong. The model is a stand-in that says exactly what each test needs."""

from __future__ import annotations

import threading

import pytest

from assistant import drafting
from assistant.drafting import examples, guards, model_calls, prompts
from assistant.drafting.templates import get_template
from engine import UserError
from tests.fixtures_drafting import RENT, Scripted

ADR = {"title": "Use SQLite for notes", "context": "Notes are JSON files and search is slow.",
       "decision": "Store notes in one SQLite database with FTS5."}
LOOP = "It keeps every note in one file. " * 6
ECHO = f"{prompts.PLAIN_RULE} The database file is easy to back up."


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch):
    def install(*texts: str) -> Scripted:
        fake = Scripted(list(texts))
        monkeypatch.setattr(model_calls, "generate", fake)
        monkeypatch.setattr(examples, "open_library", lambda: None)
        return fake

    return install


def adr_section(sid: int, title: str):
    return next(s for s in drafting.get_session(sid).sections if s.title == title)


# -- the guards on their own ----------------------------------------------------------------------

def test_repetition_stop_trips_on_a_repeated_sentence_or_run_and_not_on_varied_prose() -> None:
    watch = guards.RepetitionStop()
    for chunk in ["We store notes in SQLite. ", "Search uses the FTS5 index. ", "We store notes in SQLite. ", "Then"]:
        watch.feed(chunk)
    assert watch.tripped.is_set() and watch.reason == "repeated sentence"
    run = guards.RepetitionStop()
    run.feed("the index is rebuilt at every start of the app, the index is rebuilt at every start of the")
    assert run.tripped.is_set() and run.reason == "repeated words"
    said_before = guards.RepetitionStop(already="Notes are JSON files and search is slow.")
    said_before.feed("Notes are JSON files and search is slow. More")
    assert said_before.tripped.is_set()
    fine = guards.RepetitionStop()
    fine.feed("SQLite keeps notes in one file. Backups copy that file. Search is fast with FTS5. ")
    assert not fine.tripped.is_set()


def test_echo_and_stutter_filters_drop_only_the_bad_sentences() -> None:
    scaffold = prompts.scaffolding(get_template("adr-nygard"))
    assert guards.drop_echo(ECHO, scaffold) == ("The database file is easy to back up.", 1)
    kept, dropped = guards.drop_stutter("The consequences will be positive and positive. Backups get simpler.")
    assert (kept, dropped) == ("Backups get simpler.", 1)
    assert guards.drop_stutter("We chose SQLite and PostgreSQL stays.") == ("We chose SQLite and PostgreSQL stays.", 0)


def test_either_event_is_set_by_either_side() -> None:
    user, guard = threading.Event(), threading.Event()
    both = guards.EitherEvent(user, guard, None)
    assert not both.is_set()
    guard.set()
    assert both.is_set()


# -- the writer with a scripted model -------------------------------------------------------------

def test_a_looping_draft_is_stopped_and_stored_once(scripted) -> None:
    fake = scripted(LOOP)
    sid = drafting.new_session("adr-nygard", values=ADR).id
    section = adr_section(sid, "Decision")
    result = drafting.draft_section(sid, section.id, object(), extend=True)
    text = result.version.text
    assert text.lower().count("it keeps every note in one file.") == 1  # lower case inside "We chose this because"
    assert result.version.stats["repetition_stop"] == "repeated sentence"
    assert len(fake.calls) == 1  # the loop left a usable sentence: no retry


def test_echoed_instructions_never_reach_the_document(scripted) -> None:
    scripted(ECHO)
    sid = drafting.new_session("adr-nygard", values=ADR).id
    text = drafting.draft_section(sid, adr_section(sid, "Context").id, object(), extend=True).version.text
    assert prompts.PLAIN_RULE not in text and "because the database file is easy to back up." in text
    assert not [f for f in drafting.validate(sid) if f.code == "echo"]


def test_a_degenerate_draft_gets_one_seeded_sampled_retry(scripted) -> None:
    good = "SQLite gives atomic writes and fast full-text search for every note."
    fake = scripted("Notes. Notes.", good, "Notes. Notes.", good)
    sid = drafting.new_session("adr-nygard", values=ADR).id
    events: list[str] = []
    result = drafting.draft_section(sid, adr_section(sid, "Decision").id, object(), extend=True,
                                    on_text=events.append, on_retry=lambda: events.append("<retry>"))
    assert len(fake.calls) == 2
    # the retry is announced between the two drafts' text, never as text of the draft
    assert "".join(events) == f"Notes. Notes.<retry>{good}"
    first, second = (c["config"] for c in fake.calls)
    assert first.temperature == 0.0 and second.temperature > 0 and second.seed == guards.RETRY_SEED
    assert "atomic writes" in result.version.text and result.version.stats["retried"] is True
    # drafted again, the section gets a new try, not the same retry once more
    drafting.draft_section(sid, adr_section(sid, "Decision").id, object(), extend=True)
    assert fake.calls[3]["config"].seed == guards.RETRY_SEED + 1


def test_a_cancelled_draft_is_not_retried(scripted) -> None:
    fake = scripted("Notes.")
    cancel = threading.Event()
    cancel.set()
    sid = drafting.new_session("adr-nygard", values=ADR).id
    result = drafting.draft_section(sid, adr_section(sid, "Decision").id, object(), cancel=cancel, extend=True)
    assert result.cancelled and len(fake.calls) == 1


def test_a_draft_stopped_while_watching_keeps_what_was_seen_and_validate_asks_to_check_it(scripted) -> None:
    # all the person saw is an echoed instruction, which the filters drop from a finished draft
    seen = prompts.PLAIN_RULE
    scripted(seen + " and then much more text that is never reached")
    cancel = threading.Event()
    streamed: list[str] = []

    def watch(chunk: str) -> None:
        streamed.append(chunk)
        if "".join(streamed).strip() == seen:
            cancel.set()

    sid = drafting.new_session("adr-nygard", values=ADR).id
    section = adr_section(sid, "Consequences")
    result = drafting.draft_section(sid, section.id, object(), cancel=cancel, on_text=watch)
    assert result.cancelled and result.version is not None
    assert seen in result.version.text and result.version.stats["unchecked"] is True
    codes = [f.code for f in drafting.validate(sid) if f.section_title == "Consequences"]
    assert "unchecked" in codes


def test_a_redraft_that_writes_nothing_usable_keeps_the_text_the_section_had(scripted) -> None:
    good = "Backups copy one file, and search answers in milliseconds with FTS5 for SQLite notes."
    scripted(good, prompts.PLAIN_RULE)  # the second draft, and its retry, only echo an instruction
    sid = drafting.new_session("adr-nygard", values=ADR).id
    section = adr_section(sid, "Consequences")
    first = drafting.draft_section(sid, section.id, object())
    assert "FTS5" in first.version.text and not first.kept
    again = drafting.draft_section(sid, section.id, object())
    assert again.kept and again.version.version == first.version.version
    assert adr_section(sid, "Consequences").current.version == first.version.version
    assert len(drafting.history(sid, section.id)) == 1


def test_continuation_prompt_is_the_document_so_far_without_instructions(scripted) -> None:
    fake = scripted("It also keeps search fast.")
    sid = drafting.new_session("adr-nygard", values=ADR).id
    drafting.draft_section(sid, adr_section(sid, "Decision").id, object(), extend=True)
    prompt = fake.calls[0]["prompt"]
    assert isinstance(prompt, str)
    assert prompt.startswith("# Use SQLite for notes\n\n## Status\n\nAccepted\n\n## Context\n\n")
    assert prompt.endswith("## Decision\n\nStore notes in one SQLite database with FTS5.\n\nWe chose this because")
    assert not any(instruction in prompt for instruction in prompts.INSTRUCTIONS)
    assert "\n\n" in fake.calls[0]["config"].stop  # an inline slot is one paragraph


def test_examples_in_a_continuation_prompt_keep_their_list_items_on_their_own_lines() -> None:
    example = "- Adapters get easier to write.\n- An attribute   is repeated per type.\n\n\n- Users map attributes by hand."
    prompt = prompts.continuation_prompt(get_template("adr-nygard"), "Use SQLite", [], "Consequences", [example])
    assert "- Adapters get easier to write.\n- An attribute is repeated per type.\n\n- Users map" in prompt
    long = "\n".join(f"- Item {i} says something about the decision." for i in range(40))
    kept = prompts.excerpt(long, prompts.EXAMPLE_CHARS)
    assert len(kept) <= prompts.EXAMPLE_CHARS and kept.endswith("decision.") and kept.count("\n") > 5
    assert prompts.excerpt("One sentence. " * 80, 100).endswith("…")  # one long paragraph is cut by sentence


def test_chat_prompts_remain_for_models_behind_a_server(scripted) -> None:
    fake = scripted("It also keeps search fast.")
    sid = drafting.new_session("adr-nygard", values=ADR).id
    drafting.draft_section(sid, adr_section(sid, "Decision").id, object(), style="chat")
    assert isinstance(fake.calls[0]["prompt"], list) and fake.calls[0]["lead"].rstrip() == "We chose this because"


# -- the planner ----------------------------------------------------------------------------------

def test_planner_extras_need_support_and_never_echo_instructions() -> None:
    template = get_template("in-rent-agreement")
    proposed = ["The document should have the following sections", "USING THIS MUTUAL NON-DISCLOSURE AGREEMENT",
                "Payment", "Pets and Parking", "Lock-in Period"]
    outline, extras = prompts.merge_plan(template.sections, proposed, 3, RENT, ["Parking and Pets", "Lock-in period"])
    assert extras == ["Parking and Pets", "Lock-in period"]  # the supported headings' own wording
    assert prompts.merge_plan(template.sections, proposed, 3, RENT, [])[1] == []


def test_a_free_form_plan_drops_titles_that_name_nothing_and_says_when_none_is_left(scripted) -> None:
    scripted("1. Overview\n2. Structure of the document\n3. What's the plan?\n4. What to do\n")
    sid = drafting.new_session("custom", values={"title": "Onboarding guide", "purpose": "Ship a first change."}).id
    result = drafting.plan(sid, object())
    assert result.added == [] and [s.title for s in result.session.sections] == ["Overview"]
    assert "add your own sections" in result.notice
    template = get_template("custom")
    assert prompts.merge_plan(template.sections, ["Local setup", "Structure of the document"], 3, {},
                              ["Local setup", "Structure of the document"])[1] == ["Local setup"]


def test_a_template_with_fixed_sections_is_planned_without_the_model(scripted) -> None:
    fake = scripted("1. Alternatives\n2. The document should have the following sections\n")
    sid = drafting.new_session("adr-nygard", values=ADR).id
    result = drafting.plan(sid, object())
    assert fake.calls == [] and result.added == []
    assert [s.title for s in result.session.sections] == ["Status", "Context", "Decision", "Consequences"]


# -- validate and the field rules -----------------------------------------------------------------

def test_validate_names_echo_and_repeated_sentences_by_section() -> None:
    sid = drafting.new_session("adr-nygard", values=ADR).id
    context, decision = adr_section(sid, "Context"), adr_section(sid, "Decision")
    drafting.edit_section(sid, context.id, f"{ADR['context']} {prompts.PLAIN_RULE}")
    drafting.edit_section(sid, decision.id, f"{ADR['decision']} Notes are JSON files and search is slow.")
    found = {(f.code, f.section, f.severity) for f in drafting.validate(sid)}
    assert ("echo", context.position, "error") in found
    assert ("repeated_sentence", decision.position, "warning") in found


def test_field_rules_are_the_cores_and_name_the_field() -> None:
    with pytest.raises(UserError, match=r"field 'rent' needs an amount, e\.g\. Rs\. 25,000 or 25000 \(got 'abc'\)"):
        drafting.new_session("in-rent-agreement", values={**RENT, "rent": "abc"})
    with pytest.raises(UserError, match="field 'start_date' needs a date"):
        drafting.new_session("in-rent-agreement", values={**RENT, "start_date": "next tuesday"})
    for written in ("Rs. 85,00,000/- (Rupees Eighty-Five Lakh only)", "₹ 1.2 crore", "25000", "Rs. 25,000 only"):
        assert drafting.new_session("in-rent-agreement", values={**RENT, "rent": written}).values["rent"] == written
    titled = drafting.new_session("adr-nygard", "Use SQLite for notes", {"context": "c", "decision": "d"})
    assert titled.values["title"] == "Use SQLite for notes"


def test_changing_a_field_rewrites_the_fixed_sections_that_use_it_as_a_new_version() -> None:
    sid = drafting.new_session("in-rent-agreement", values=RENT).id
    parties = next(s for s in drafting.get_session(sid).sections if s.key == "parties")
    drafting.draft_section(sid, parties.id, None)
    session = drafting.set_values(sid, {"place": "Nagpur"})
    redone = next(s for s in session.sections if s.key == "parties")
    assert redone.current.version == 2 and "executed at Nagpur" in redone.text
    assert "Nagpur" not in drafting.history(sid, redone.id)[0].text
    with pytest.raises(UserError, match="field 'rent' needs an amount"):
        drafting.set_values(sid, {"rent": "lots"})


def test_cli_refuses_bad_values_and_lists_missing_fields_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.cli import main

    assert main(["new", "in-rent-agreement", "--set", "rent=abc", "--set", "start_date=next tuesday"]) == 2
    assert capsys.readouterr().err == ("draftpad: error: field 'rent' needs an amount, e.g. Rs. 25,000 or 25000 "
                                       "(got 'abc')\n")
    assert main(["new", "in-rent-agreement", "--set", "rent=28000"]) == 2  # stdin is no terminal here
    err = capsys.readouterr().err
    assert err.startswith("draftpad: error: template 'in-rent-agreement' needs lessor, lessor_address, lessee")
    assert len(err.splitlines()) == 1
    assert main(["new", "adr-nygard", "--title", "Use SQLite", "--set", "context=c", "--set", "decision=d"]) == 0
    sid = capsys.readouterr().out.strip()
    assert main(["set", sid, "status=Superseded"]) == 0
    assert "section 1 'Status' rewritten from the template as v" not in capsys.readouterr().out  # not drafted yet
    assert main(["set", sid, "nosuch=1"]) == 2 and "has no field 'nosuch'" in capsys.readouterr().err


def test_a_mirrored_clause_keeps_its_first_half_and_ends_as_a_sentence() -> None:
    mirrored = ("The Lessee shall also pay the maintenance and repair of the said property, and the Lessor "
                "shall pay the maintenance and repair of the said")
    assert guards.finish_sentence(guards.cut_loop(mirrored)) == (
        "The Lessee shall also pay the maintenance and repair of the said property.")
    assert guards.cut_loop("No run of eight words comes back in this sentence at all.") == (
        "No run of eight words comes back in this sentence at all.")
    assert guards.finish_sentence("It ends well.") == "It ends well."
    assert guards.finish_sentence("It stops in the") == "It stops."  # no clause to fall back to


def test_the_templates_own_wording_is_never_reported_as_echo() -> None:
    from tests.fixtures_drafting import filled_session
    from assistant.drafting.validation import validate_session

    for template_id in ("in-rent-agreement", "in-affidavit", "adr-nygard", "patent-spec"):
        template, session = filled_session(template_id)
        assert [f.message for f in validate_session(template, session) if f.code == "echo"] == [], template_id


def test_a_value_copied_from_a_fields_help_is_a_fact_not_an_echo() -> None:
    template = get_template("in-rent-agreement")
    example = template.field("property").help.split("'")[1]  # the help's own example address
    sid = drafting.new_session("in-rent-agreement", values={**RENT, "property": example}).id
    for section in drafting.get_session(sid).sections:
        if not drafting.needs_model(sid, section.id):
            drafting.draft_section(sid, section.id, None)
    assert [f.message for f in drafting.validate(sid) if f.code == "echo"] == []


def test_a_retry_leaves_out_the_earlier_prose_it_copied_and_no_lead_in_dangles(scripted) -> None:
    fake = scripted("of the way we store data.", "of the way we store data.")
    sid = drafting.new_session("adr-nygard", values=ADR).id
    drafting.edit_section(sid, adr_section(sid, "Context").id,
                          f"{ADR['context']}\n\nThis matters because of the way we store data.")
    result = drafting.draft_section(sid, adr_section(sid, "Decision").id, object(), extend=True)
    first, retry = (call["prompt"] for call in fake.calls)
    assert "of the way we store data" in first and "of the way we store data" not in retry
    assert result.version.text == ADR["decision"]  # no "We chose this because" left hanging


def test_prose_states_no_amount_its_section_was_not_given(scripted) -> None:
    scripted("The Lessee shall not store inflammable goods in the said Premises. "
             "It shall pay a monthly maintenance charge of Rs. 28,000/- to the Lessor.")
    sid = drafting.new_session("in-rent-agreement", values=RENT).id
    maintenance = next(s for s in drafting.get_session(sid).sections if s.key == "maintenance")
    assert not drafting.needs_model(sid, maintenance.id)  # a standard clause: the template's words alone
    text = drafting.draft_section(sid, maintenance.id, object(), extend=True).version.text
    assert "28,000" not in text and text.endswith(
        "the rules and bye-laws of the housing society.\n\n"
        "4. That the Lessee shall not store inflammable goods in the said Premises.")  # a clause, numbered on


def test_a_clause_binding_one_party_ends_where_it_starts_binding_the_other() -> None:
    lead = "The Lessee shall also keep the said Premises"
    assert guards.cut_party_switch(
        "in a state of repair, and the Lessor shall be responsible for the maintenance of the said Premises.",
        lead) == "in a state of repair."
    assert guards.cut_party_switch("clean. The Lessee shall not keep pets.", lead) == "clean. The Lessee shall not keep pets."
    assert guards.cut_party_switch("the Lessor shall repaint it every year.", lead) == ""
    # a lead-in that binds nobody leaves the prose alone
    assert guards.cut_party_switch("and the Lessor shall repaint it.", "The parties further agree that") == (
        "and the Lessor shall repaint it.")


def test_a_list_says_each_item_once_and_a_bare_currency_is_a_figure() -> None:
    assert guards.drop_repeated_items(
        "wherein the device is a housing, a display means, a storage means, a storage means, a storage means.\n\n"
        "It is light, small, and light.") == (
        "wherein the device is a housing, a display means, a storage means.\n\nIt is light, small, and light.")
    # an amount cut off after its currency is still an amount the section was not given
    assert guards.drop_unasked_figures("It hands over the deeds. It shall be sold at the price of Rs.") == (
        "It hands over the deeds.", 1)
    # ...but a word ending in "rs" is not a currency ("load balancers next year" was dropped as one)
    assert guards.drop_unasked_figures("Load balancers cost more. Others agree.") == (
        "Load balancers cost more. Others agree.", 0)


def test_a_sentence_that_says_itself_twice_is_dropped() -> None:
    text = ("This matters because we are now using AWS to manage our logs, and we are using AWS to manage "
            "our logs. The DAO is a decentralized, blockchain-based, decentralized, decentralized. "
            "Logs reach CloudWatch within a minute.")
    assert guards.drop_stutter(text) == ("Logs reach CloudWatch within a minute.", 2)
    # a phrase said twice in different sentences is style, not a loop
    assert guards.drop_stutter("The said Premises are let. The said Premises are let furnished.")[1] == 0


def test_a_sentence_naming_nothing_of_the_document_is_dropped() -> None:
    grounds = ("Use AWS hosted Elasticsearch. Our self-hosted ELK cluster has had many outages and leaves "
               "product teams unable to see their application logs.")
    text = ("We will have to pay for more load balancers. Product teams see their logs again. "
            "We think this is best. The clusters stay up.")
    # "clusters" meets "cluster", "teams" "teams": those stay; the rest names nothing in the document
    unsupported = guards.ungrounded_sentences(text, grounds)
    assert unsupported == ["We will have to pay for more load balancers.", "We think this is best."]
    assert guards.drop_sentences(text, unsupported) == "Product teams see their logs again. The clusters stay up."
    assert guards.ungrounded_sentences("It is.", grounds) == []  # no content word: left to other guards
    # an opening that names the document grounds the sentence it leads into; a generic one does not
    assert guards.ungrounded_sentences("in good repair.", grounds, opening="The teams shall keep the cluster") == []
    assert guards.ungrounded_sentences("in good repair.", grounds, opening="This matters because") == ["in good repair."]


def test_a_sentence_bringing_in_a_name_nobody_gave_is_dropped() -> None:
    grounds = "# Move search to OpenSearch\nProduct search runs as SQL LIKE queries on PostgreSQL."
    invented = "Google has created a new way to search that no other engine has."
    assert guards.ungrounded_sentences(invented, grounds, opening="As a result of this decision,") == [invented]
    kept = "Search runs on OpenSearch, and PostgreSQL stays the source of truth."
    assert guards.ungrounded_sentences(f"{kept} Later, Kibana shows it.", grounds) == ["Later, Kibana shows it."]
    # a sentence's own first word, a list item's, or a restarted one after "because" is no name
    assert guards.ungrounded_sentences("* Good, because search gets faster.", grounds) == []
    assert guards.ungrounded_sentences("It makes search faster.", grounds, opening="We chose this because") == []


def test_a_required_section_with_nothing_grounded_keeps_its_text_and_validate_asks_to_check_it(scripted) -> None:
    scripted("We will have to pay for more load balancers next year.")
    sid = drafting.new_session("adr-nygard", values=ADR).id
    version = drafting.draft_section(sid, adr_section(sid, "Consequences").id, object()).version
    assert "load balancers" in version.text and version.stats["unsupported"]
    warning = next(f for f in drafting.validate(sid) if f.code == "unsupported")
    assert warning.severity == "warning" and warning.section_title == "Consequences"


def test_an_invented_sentence_does_not_reach_the_document(scripted) -> None:
    scripted("SQLite keeps every note in one file. We chose to use MongoDB for the mobile game.")
    sid = drafting.new_session("adr-nygard", values=ADR).id
    result = drafting.draft_section(sid, adr_section(sid, "Decision").id, object(), extend=True)
    assert "MongoDB" not in result.version.text and "SQLite keeps every note in one file." in result.version.text
    assert result.version.stats["dropped_sentences"] == 1


def test_a_sentence_mostly_said_before_is_dropped_and_a_list_item_is_not_said_again() -> None:
    text = ("The component to be used to render the header of a document could be named helper-header. "
            "The components to be used to render the header could be named helper-header. Names stay short.")
    assert guards.drop_near_repeats(text)[1] == 1
    assert guards.drop_near_repeats("The Lessee shall pay the rent on time. The Lessee shall keep the premises clean.")[1] == 0
    assert guards.drop_stutter("It is a full-featured, full-featured tool. Fine.") == ("Fine.", 1)
    # a list item of the fixed wording (no full stop) is a sentence already said
    already = "- my correct name is Rahul Verma\n- Rahul Kumar and Rahul Verma are one and the same person\n"
    assert prompts.clean_section("- Rahul Kumar and Rahul Verma are one and the same person.", "Declarations",
                                 already) == ""


def test_a_section_with_its_gist_drops_ungrounded_prose_rather_than_keeping_it(scripted) -> None:
    scripted("it is not possible to create a full-fledged tool.")
    sid = drafting.new_session("adr-nygard", values=ADR).id
    version = drafting.draft_section(sid, adr_section(sid, "Context").id, object(), extend=True).version
    assert version.text == ADR["context"] and "unsupported" not in version.stats


def test_the_models_prose_elsewhere_grounds_nothing_but_the_persons_text_does(scripted) -> None:
    scripted("SQLite keeps every note and the widget combination in one file.",
             "The widget combination stays small.")
    sid = drafting.new_session("adr-nygard", values=ADR).id
    drafting.draft_section(sid, adr_section(sid, "Decision").id, object(), extend=True)
    consequences = adr_section(sid, "Consequences")
    first = drafting.draft_section(sid, consequences.id, object()).version
    assert first.stats.get("unsupported")  # "widget" came from the model's Decision prose only
    drafting.edit_section(sid, adr_section(sid, "Decision").id, "We store notes and widgets in one SQLite file.")
    again = drafting.draft_section(sid, consequences.id, object()).version
    assert "unsupported" not in again.stats and "widget combination" in again.text


def test_a_sentence_that_negates_a_fact_is_caught_but_one_that_negates_the_old_situation_is_not() -> None:
    decision = "Store all notes in one SQLite database per user with WAL and FTS5 for search."
    said = "we will no longer be able to store notes in a single SQLite database per user."
    assert guards.contradicting_sentences(said, [decision]) == [said]
    assert guards.contradicting_sentences("Backups must copy the database file, not a folder of notes.", [decision]) == []
    assert guards.contradicting_sentences("Search over all notes becomes one query.", [decision]) == []
    assert "context" in guards.SITUATION_FIELDS  # "We will not keep notes as JSON files" negates the context, rightly


NOTES_ADR = {"title": "Use SQLite for notes", "context": "Notes are JSON files; search is slow.",
             "decision": "Store all notes in one SQLite database per user with WAL and FTS5 for search."}


def consequences_written_as(scripted, text: str) -> tuple[int, object]:
    """(session id, the Consequences version) of a notes ADR whose model answers `text`."""
    scripted(text)
    sid = drafting.new_session("adr-nygard", values=NOTES_ADR).id
    return sid, drafting.draft_section(sid, adr_section(sid, "Consequences").id, object()).version


def test_a_consequence_that_contradicts_the_decision_is_dropped_or_flagged(scripted) -> None:
    sid, version = consequences_written_as(
        scripted, "we will no longer be able to store notes in a single SQLite database per user.")
    # the required section keeps the text rather than stay empty, and says why it should be checked
    assert version.stats.get("unsupported") == [
        "we will no longer be able to store notes in a single SQLite database per user."]
    findings = drafting.validate(sid)
    assert any(f.code == "unsupported" and "opposite of a fact" in f.message for f in findings)


def test_a_section_the_model_wrote_from_no_fact_is_named_by_validate_as_its_guess(scripted) -> None:
    sid, version = consequences_written_as(scripted, "Search over all notes becomes one SQLite query.")
    assert version.stats.get("from_no_fact") and "unsupported" not in version.stats
    guessed = [f for f in drafting.validate(sid) if f.code == "guessed"]
    assert len(guessed) == 1 and guessed[0].severity == "warning" and "Consequences" in guessed[0].message


# -- openings, list items and empty tries --------------------------------------------------------

MADR = {"title": "Use Kafka for order events", "context": "Checkout calls billing over HTTP and times out.",
        "options": "Kafka topic; HTTP with retries", "chosen": "Kafka topic", "because": "it decouples checkout"}


def test_a_generated_sections_opening_ends_its_prompt_and_begins_its_text(scripted) -> None:
    fake = scripted("it decouples checkout from billing.\n* Bad, because Kafka is one more service to run.")
    sid = drafting.new_session("adr-madr", values=MADR).id
    section = adr_section(sid, "Consequences")
    assert drafting.wording_before_draft(sid, section.id) == "* Good, because"
    version = drafting.draft_section(sid, section.id, object()).version
    assert fake.calls[0]["prompt"].endswith("## Consequences\n\n* Good, because")
    assert version.text == ("* Good, because it decouples checkout from billing.\n"
                            "* Bad, because Kafka is one more service to run.")


def test_prose_that_does_not_finish_the_opening_takes_its_place() -> None:
    """The guards dropped the line that finished "* Good, because": the opening must not dangle."""
    template = get_template("adr-madr")
    assert prompts.join_mixed(template, "* Good, because {draft}", {}, "* Bad, because it costs more.") \
        == "* Bad, because it costs more."
    assert prompts.join_mixed(template, "Intro.\n\n* Good, because {draft}", {}, "") == "Intro."


def test_clean_section_keeps_links_decimals_and_list_markers() -> None:
    text = "1. Track it in [issues](https://github.com/adr/madr/issues).\n2. Version 3.5 costs Rs. 5 a month.\n* Done."
    assert prompts.clean_section(text, "Confirmation") == text


def test_an_empty_try_is_drafted_again_and_named_by_validate(scripted) -> None:
    scripted(prompts.PLAIN_RULE)  # every try only echoes an instruction: nothing usable
    sid = drafting.new_session("adr-nygard", values=ADR).id
    section = adr_section(sid, "Consequences")
    drafting.draft_all(sid, object())
    assert adr_section(sid, "Consequences").current.text == "" and adr_section(sid, "Consequences").undrafted
    empty = [f for f in drafting.validate(sid) if f.code == "empty_section"]
    assert len(empty) == 1 and "the model wrote nothing usable" in empty[0].message
    again = drafting.draft_all(sid, object())
    assert [r.title for r in again] == ["Consequences"]
    drafting.edit_section(sid, section.id, "")  # emptied by the person: on purpose
    assert not adr_section(sid, "Consequences").undrafted
