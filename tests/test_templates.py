"""Template loading: every shipped template is usable, broken files give file:line errors, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.drafting.templates import (
    TemplateError, format_money, get_template, list_templates, load_templates, parse_template, render_text,
    shipped_dir,
)
from assistant.drafting.validation import errors, validate_session
from tests.fixtures_drafting import filled_session

SHIPPED = ["adr-nygard", "adr-madr", "in-rent-agreement", "in-affidavit", "in-power-of-attorney",
           "in-agreement-to-sell", "patent-spec", "custom"]
MINIMAL = '''
id = "tiny"
name = "Tiny"
kind = "other"

[[fields]]
name = "who"

[[sections]]
title = "Greeting"
mode = "fixed"
text = "Hello {who}"
uses = ["who"]
'''


def test_every_shipped_template_loads_without_errors():
    found = load_templates([shipped_dir()])
    assert found.errors == []
    assert set(SHIPPED) <= set(found.templates)
    assert [t.id for t in list_templates()] == sorted(found.templates)


def test_required_field_names_the_checks_rely_on():
    assert {"title", "context", "decision"} <= {f.name for f in get_template("adr-nygard").fields}
    rent = {f.name for f in get_template("in-rent-agreement").fields}
    assert {"lessor", "lessee", "property", "rent", "deposit", "start_date", "term_months"} <= rent
    assert set(get_template("adr-madr").variants) == {"full", "minimal"}
    assert set(get_template("in-power-of-attorney").variants) == {"general", "special"}


@pytest.mark.parametrize("template_id,variant", [(t, "") for t in SHIPPED] + [
    ("adr-madr", "minimal"), ("in-power-of-attorney", "special")])
def test_every_shipped_template_validates_when_filled(template_id: str, variant: str):
    template, session = filled_session(template_id, variant)
    found = errors(validate_session(template, session))
    assert found == [], [f.message for f in found]


def test_fixed_sections_carry_the_rent_facts():
    template = get_template("in-rent-agreement")
    values = {"lessor": "Anil Sharma", "lessee": "Priya Nair", "rent": "Rs. 28,000", "deposit": "56000",
              "start_date": "1 March 2025", "term_months": "11", "property": "Flat 302, Sunrise Apartments, Noida"}
    text = "\n".join(render_text(template, s.text, values) for s in template.sections if s.mode == "fixed")
    for expected in ["Anil Sharma", "Priya Nair", "Rs. 28,000/-", "Rs. 56,000/-", "1st day of March, 2025",
                     "11 (Eleven) months", "Flat 302, Sunrise Apartments, Noida"]:
        assert expected in text


def test_missing_required_value_stays_visible_and_optional_one_vanishes():
    template = parse_template(MINIMAL.replace('name = "who"', 'name = "who"\n\n[[fields]]\nname = "extra"\nrequired = false'))
    assert render_text(template, "Hi {who}{extra}!", {}) == "Hi {who}!"
    assert render_text(template, "Hi {who}{extra}! {{literal}}", {"who": "Asha", "extra": "?"}) == "Hi Asha?! {literal}"


def test_money_is_written_the_indian_way():
    assert format_money("28000") == "Rs. 28,000/-"
    assert format_money("Rs 1,20,000") == "Rs. 1,20,000/-"
    assert format_money("₹12345678.5") == "Rs. 1,23,45,678.50"
    assert format_money("twenty thousand") == "twenty thousand"


def test_templates_cannot_run_code():
    # Only {name} is a placeholder: attribute access and format specs are not substitutions.
    template = parse_template(MINIMAL)
    assert render_text(template, "{who.__class__} {who!r} {0}", {"who": "x"}) == "{who.__class__} {who!r} {0}"
    with pytest.raises(TemplateError, match=r"unknown field '__import__'"):
        parse_template(MINIMAL.replace("Hello {who}", "Hello {__import__}"))


@pytest.mark.parametrize("broken,line,message", [
    ('id = "tiny"\nname = \n', 2, "Invalid value"),
    (MINIMAL.replace('mode = "fixed"', 'mode = "magic"'), 11, "unknown mode 'magic'"),
    (MINIMAL.replace('uses = ["who"]', 'uses = ["whom"]'), 13, "unknown field 'whom'"),
    (MINIMAL.replace('kind = "other"', 'kind = 3'), 4, "'kind' must be a string"),
    (MINIMAL.replace('name = "who"', 'name = "who"\ntype = "colour"'), 8, "unknown type 'colour'"),
    (MINIMAL + "\n[[sections]]\ntitle = \"Greeting\"\n", 15, "section id 'greeting' is used twice"),
    (MINIMAL.replace('id = "tiny"', 'id = "tiny"\nscript = "rm -rf /"'), 3, "unknown key 'script'"),
    (MINIMAL.replace('uses = ["who"]', 'uses = ["who"]\nopening = "Dear"'), 14, "only a generated section has an 'opening'"),
    (MINIMAL + '\n[[sections]]\ntitle = "Body"\nopening = "Dear {whom},"\n', 17, "opening uses unknown field 'whom'"),
    (MINIMAL + '\n[[sections]]\ntitle = "Body"\nopening = "Dear {draft}"\n', 17, "no {draft}"),
])
def test_broken_template_reports_file_and_line(broken: str, line: int, message: str):
    with pytest.raises(TemplateError) as caught:
        parse_template(broken, "my.toml")
    assert str(caught.value).startswith(f"my.toml:{line}: ")
    assert message in str(caught.value)


def test_broken_user_template_does_not_stop_the_others(draftpad_home: Path):
    user = draftpad_home / "templates"
    user.mkdir(parents=True)
    (user / "broken.toml").write_text('id = "broken"\nname = "x"\n[[sections]\n', encoding="utf-8")
    (user / "binary.toml").write_bytes(b"\xff\xfe\x00bad")
    (user / "adr-nygard.toml").write_text(MINIMAL.replace('"tiny"', '"adr-nygard"').replace('"Tiny"', '"Mine"'),
                                          encoding="utf-8")
    found = load_templates()
    assert found.templates["adr-nygard"].name == "Mine"  # the user's file overrides the shipped one
    assert "in-rent-agreement" in found.templates
    assert len(found.errors) == 2
    assert any(e.startswith(f"{user / 'broken.toml'}:3: ") for e in found.errors)
    assert any(e.startswith(f"{user / 'binary.toml'}:1: not UTF-8") for e in found.errors)


# -- fuzzing: malformed files never raise anything but TemplateError --------------------------------

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_templates_never_traceback(data: st.DataObject):
    base = data.draw(st.sampled_from([MINIMAL, (shipped_dir() / "adr-madr.toml").read_text(encoding="utf-8")]))
    lines = base.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["delete", "insert", "replace", "truncate"]))
        at = data.draw(st.integers(0, max(len(lines) - 1, 0)))
        junk = data.draw(st.sampled_from([
            "[[sections]]", "[[fields]]", "title = 3", "mode = \"fixed\"", "uses = [1, 2]", "text = \"{nope}\"",
            "variants = [\"x\"]", "max_tokens = -5", "required = \"yes\"", "name = \"draft\"", "= =", "[fields]",
            "id = \"BAD ID\"", "sections = 4", "default = [1]", "text = '''", "\"\"\"",
        ]) | st.text(max_size=40))
        if action == "delete" and lines:
            del lines[at]
        elif action == "insert":
            lines.insert(at, junk)
        elif action == "replace" and lines:
            lines[at] = junk
        else:
            lines = lines[:at]
    try:
        template = parse_template("\n".join(lines), "fuzz.toml")
    except TemplateError as exc:
        assert str(exc).startswith("fuzz.toml:")
        assert int(str(exc).split(":")[1]) >= 1
    else:
        assert template.sections


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_traceback(tmp_path_factory: pytest.TempPathFactory, raw: bytes):
    path = tmp_path_factory.mktemp("fuzz") / "random.toml"
    path.write_bytes(raw)
    found = load_templates([path.parent])
    assert len(found.errors) + len(found.templates) == 1


def test_the_schema_documents_every_key_and_its_example_loads():
    schema = (shipped_dir() / "SCHEMA.md").read_text(encoding="utf-8")
    example = schema.split("```toml\n", 1)[1].split("```", 1)[0]
    template = parse_template(example, "SCHEMA.md")
    assert render_text(template, template.sections[0].text, {"tenant": "Ravi", "vacate_by": "2025-05-01"}).startswith(
        "To Ravi: you are requested to vacate the premises by 2025-05-01.")
    from assistant.drafting.templates import KNOWN_KEYS
    for key in KNOWN_KEYS | {"label", "help", "default", "guidance", "uses", "retrieval", "schedule", "max_tokens",
                             "opening"}:
        assert f"`{key}`" in schema or f"`[[{key}]]`" in schema, key
