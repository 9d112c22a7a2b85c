"""What the library offers the drafting core: headings of similar documents for the planner and
example sections for the writer. An empty, missing or broken library just means no examples."""

from __future__ import annotations

from assistant.drafting.templates import Template


def open_library() -> object | None:
    try:
        from retrieval import open_library

        return open_library()
    except Exception:  # noqa: BLE001 - drafting works without examples when the library is unusable
        return None


def close(library: object | None) -> None:
    if library is not None:
        try:
            library.close()
        except Exception:  # noqa: BLE001
            pass


def template_form(template: Template) -> str:
    """The library's finer kind for documents like this template's ("in-affidavit" -> "affidavit"),
    read from its name by the same rules that classify imported documents; "" when it names none."""
    from retrieval import form_for_title

    return form_for_title(template.name, template.kind)


def library_filter(template: Template) -> str:
    """What examples are filtered by: the template's form when it has one, else its kind."""
    return template_form(template) or template.kind


def has_kind(library: object, kind: str) -> bool:
    """Skips retrieval (and loading the embedding model) when the library has nothing of this kind
    (a kind like "legal" or a form like "affidavit")."""
    try:
        stats = library.stats()
    except Exception:  # noqa: BLE001
        return False
    return bool(stats.get("by_kind", {}).get(kind) or stats.get("by_form", {}).get(kind))


HEADING_SUPPORT = 2  # documents that must use a heading before the planner may propose it


def similar_headings(library: object | None, template: Template, values: dict[str, str]) -> list[str]:
    """Headings that several documents of the template's own kind use, most used first: a heading
    one stray document has (an NDA's clause in a pool of rent agreements) is no pattern."""
    wanted = library_filter(template)
    if library is None or not has_kind(library, wanted):
        return []
    try:
        return [heading for heading, _n in library.common_headings(wanted, HEADING_SUPPORT)]
    except Exception:  # noqa: BLE001
        return []


GIST_CHARS = 240  # of the document's gist (its title and first long answer) in a section's query
FACT_CHARS = 160  # of each fact the section uses
HINT_WORDS = 12  # of the retrieval words and guidance, once there are facts to look up by


def section_query(template: Template, hint: str, values: dict[str, str] | None = None,
                  uses: tuple[str, ...] = ()) -> str:
    """What a section's examples are looked up by (after its title): the facts it uses, the
    document's gist, then the guidance. Facts first because the embedding reads only the first
    hundred words or so, and they are what tells one ADR's Context from another's."""
    values = values or {}
    facts = [values[name][:FACT_CHARS] for name in uses if values.get(name)]
    title = values.get("title") or template.name
    first_long = next((values[f.name] for f in template.fields
                       if f.type == "long_text" and values.get(f.name) and f.name not in uses), "")
    gist = f"{title}. {first_long}"[:GIST_CHARS]
    if facts or values.get("title") or first_long:
        # The guidance is the same for every document of the template: past the retrieval words
        # and its first clause it only pulls in sections that share its generic wording.
        hint = " ".join(hint.split()[:HINT_WORDS])
    return "\n".join(part for part in (*facts, gist, hint) if part.strip())


def section_examples(library: object | None, template: Template, title: str, hint: str, k: int = 2,
                     values: dict[str, str] | None = None, uses: tuple[str, ...] = ()) -> list[str]:
    form = template_form(template)
    if library is None or not has_kind(library, form or template.kind):
        return []
    try:
        found = library.examples(template.kind, title, section_query(template, hint, values, uses), k=k,
                                 form=form or None)
    except Exception:  # noqa: BLE001
        return []
    return [e.text for e in found if getattr(e, "text", "").strip()]
