"""Sessions through the drafting façade: outline edits, append-only versions, undo, persistence."""

from __future__ import annotations

import sqlite3

import pytest

from assistant import drafting
from engine.errors import UserError
from engine.paths import database_path
from tests.fixtures_drafting import RENT

def titles(session: drafting.Session) -> list[str]:
    return [s.title for s in session.sections]


def at(session_id: int, position: int) -> int:
    """The stable id of the section now at `position` (what the CLI does with a typed N)."""
    return drafting.get_session(session_id).section(position).id


def test_new_session_starts_from_the_template_outline_and_defaults():
    session = drafting.new_session("in-rent-agreement", "Flat 302 lease", RENT)
    template = drafting.get_template("in-rent-agreement")
    assert titles(session) == [s.title for s in template.sections]
    assert session.values["term_months"] == "11" and session.values["rent"] == "28000"
    assert all(s.status == "planned" and s.current is None for s in session.sections)
    assert [s.id for s in drafting.list_sessions()] == [session.id]
    minimal = drafting.new_session("adr-madr", variant="minimal")
    assert "Decision Drivers" not in titles(minimal) and "Considered Options" in titles(minimal)


def test_unknown_template_field_or_variant_is_a_user_error():
    with pytest.raises(UserError, match="no template 'nope'"):
        drafting.new_session("nope")
    with pytest.raises(UserError, match="has no field 'colour'"):
        drafting.new_session("adr-nygard", values={"colour": "red"})
    with pytest.raises(UserError, match="has no variant 'huge'"):
        drafting.new_session("adr-madr", variant="huge")
    with pytest.raises(UserError, match="no session 42"):
        drafting.get_session(42)


def test_outline_add_remove_move_rename():
    sid = drafting.new_session("adr-nygard", values={"title": "T"}).id
    assert titles(drafting.add_section(sid, "Alternatives", position=3)) == [
        "Status", "Context", "Alternatives", "Decision", "Consequences"]
    assert titles(drafting.move_section(sid, at(sid, 3), 5)) == [
        "Status", "Context", "Decision", "Consequences", "Alternatives"]
    assert titles(drafting.rename_section(sid, at(sid, 5), "Options considered"))[-1] == "Options considered"
    session = drafting.remove_section(sid, at(sid, 5))
    assert titles(session) == ["Status", "Context", "Decision", "Consequences"]
    assert [s.position for s in session.sections] == [1, 2, 3, 4]
    with pytest.raises(UserError, match="has no section 9"):
        drafting.move_section(sid, at(sid, 9), 1)
    with pytest.raises(UserError, match="has no section 9"):
        drafting.move_section(sid, at(sid, 1), 9)
    with pytest.raises(UserError, match="needs a title"):
        drafting.add_section(sid, "  ")


def test_versions_are_append_only_and_revert_makes_a_new_one():
    sid = drafting.new_session("adr-nygard", values={"title": "T"}).id
    context = at(sid, 2)
    first = drafting.edit_section(sid, context, "First words.")
    second = drafting.edit_section(sid, context, "Second words.")
    assert (first.version, second.version) == (1, 2)
    with pytest.raises(UserError, match="no text yet"):
        drafting.accept(sid, at(sid, 3))
    assert drafting.accept(sid, context).by_id(context).status == "accepted"
    back = drafting.revert(sid, context, 1)
    assert (back.version, back.text, back.source, back.reverted_from) == (3, "First words.", "reverted", 1)
    assert [(v.version, v.text) for v in drafting.history(sid, context)] == [
        (1, "First words."), (2, "Second words."), (3, "First words.")]
    section = drafting.get_session(sid).section(2)
    assert (section.text, section.status) == ("First words.", "drafted")
    with pytest.raises(UserError, match="no version 7"):
        drafting.revert(sid, context, 7)
    # A section the template requires stays; removing an added one keeps its versions in the database.
    with pytest.raises(UserError, match="required by the template"):
        drafting.remove_section(sid, context)
    drafting.add_section(sid, "Alternatives", position=3)
    drafting.edit_section(sid, at(sid, 3), "We also looked at flat files.")
    assert [s.title for s in drafting.remove_section(sid, at(sid, 3)).sections] == [
        "Status", "Context", "Decision", "Consequences"]
    with sqlite3.connect(database_path()) as conn:
        assert conn.execute("SELECT COUNT(*) FROM drafting_versions").fetchone()[0] == 4
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_fixed_sections_are_drafted_without_a_model():
    sid = drafting.new_session("in-rent-agreement", values=RENT).id
    assert drafting.needs_model(sid, at(sid, 1)) is False and drafting.needs_model(sid, at(sid, 5)) is False
    assert drafting.needs_model(sid, at(sid, 5), extend=True) is True  # the model may add to the clause
    streamed: list[str] = []
    result = drafting.draft_section(sid, at(sid, 3), lm=None, on_text=streamed.append)
    assert not result.used_model and result.version.source == "fixed"
    assert "Rs. 28,000/-" in result.version.text and streamed == [result.version.text]
    assert drafting.get_session(sid).section(3).status == "drafted"


def test_plan_refuses_once_sections_are_drafted():
    sid = drafting.new_session("adr-nygard", values={"title": "T"}).id
    drafting.edit_section(sid, at(sid, 1), "Accepted")
    with pytest.raises(UserError, match="already has drafted sections"):
        drafting.plan(sid, lm=None)


def test_set_values_merges_and_checks_names():
    sid = drafting.new_session("adr-nygard", values={"title": "T", "context": "c"}).id
    session = drafting.set_values(sid, {"decision": "d"}, title="New title")
    assert session.values["context"] == "c" and session.values["decision"] == "d" and session.title == "New title"
    with pytest.raises(UserError):
        drafting.set_values(sid, {"bogus": "x"})


def test_a_document_between_people_is_named_after_them_by_default(tmp_path, monkeypatch) -> None:
    from assistant import drafting

    monkeypatch.setenv("DRAFTPAD_HOME", str(tmp_path))
    rent = drafting.get_template("in-rent-agreement")
    assert drafting.default_title(rent, {"lessor": " Suresh Iyer ", "lessee": "Priya Nair"}) == \
        "Residential Rent Agreement (11 months) — Suresh Iyer and Priya Nair"
    assert drafting.default_title(rent, {}) == rent.name
    assert drafting.new_session("in-affidavit", values={"deponent": "Ravi Kumar"}).title == "Affidavit — Ravi Kumar"
    assert drafting.new_session("in-affidavit", "My own", values={"deponent": "Ravi Kumar"}).title == "My own"
