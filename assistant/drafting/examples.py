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


def has_kind(library: object, kind: str) -> bool:
    """Skips retrieval (and loading the embedding model) when the library has nothing of this kind."""
    try:
        by_kind = library.stats().get("by_kind", {})
    except Exception:  # noqa: BLE001
        return False
    return bool(by_kind.get(kind)) if by_kind else False


def similar_headings(library: object | None, template: Template, values: dict[str, str]) -> list[str]:
    if library is None or not has_kind(library, template.kind):
        return []
    query = " ".join([template.name] + [v for v in values.values() if v][:4])[:400]
    try:
        hits = library.search(query, k=10, kind=template.kind)
    except Exception:  # noqa: BLE001
        return []
    seen: list[str] = []
    for hit in hits:
        heading = (hit.heading or "").split(" > ")[-1].strip()
        if heading and heading.casefold() not in {h.casefold() for h in seen}:
            seen.append(heading)
    return seen


def section_examples(library: object | None, template: Template, title: str, hint: str, k: int = 2) -> list[str]:
    if library is None or not has_kind(library, template.kind):
        return []
    try:
        found = library.examples(template.kind, title, hint, k=k)
    except Exception:  # noqa: BLE001
        return []
    return [e.text for e in found if getattr(e, "text", "").strip()]
