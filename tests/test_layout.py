"""The import contracts that keep the packages apart, read from every module's imports (function-level
imports included): textual only in the app, the app and the CLI on public faces only, engine and
retrieval never reaching up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("assistant", "engine", "retrieval")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(module, imported name or None, line) for every import statement in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
    return found


def modules() -> list[tuple[str, Path]]:
    return sorted((module_name(p), p) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def public_names(package: str) -> set[str]:
    module = __import__(package, fromlist=["__all__"])
    return set(module.__all__)


def violations(rule: callable) -> list[str]:
    out = []
    for name, path in modules():
        for target, imported, line in imports(path):
            problem = rule(name, target, imported)
            if problem:
                out.append(f"{path.relative_to(ROOT)}:{line}: {problem}")
    return out


def test_textual_only_in_the_app() -> None:
    def rule(name: str, target: str, _imported: str | None) -> str:
        inside_app = name == "assistant.app" or name.startswith("assistant.app.")
        return "" if inside_app or target.split(".")[0] != "textual" else f"imports {target}"

    assert violations(rule) == []


def test_engine_and_retrieval_never_reach_up() -> None:
    def rule(name: str, target: str, _imported: str | None) -> str:
        top, into = name.split(".")[0], target.split(".")[0]
        if top == "engine" and into in ("assistant", "retrieval"):
            return f"engine imports {target}"
        if top == "retrieval" and into == "assistant":
            return f"retrieval imports {target}"
        return ""

    assert violations(rule) == []


@pytest.mark.parametrize("client", ["assistant.app", "assistant.cli"])
def test_clients_use_only_public_faces(client: str) -> None:
    faces = {"assistant.drafting": public_names("assistant.drafting"), "engine": public_names("engine"),
             "retrieval": public_names("retrieval")}

    def rule(name: str, target: str, imported: str | None) -> str:
        if not (name == client or name.startswith(client + ".")):
            return ""
        if (target, imported) in (("assistant", "drafting"), ("assistant.app", "run")):
            return ""  # the face itself; `draftpad app` starting the app through its one entry point
        for face, names in faces.items():
            if target.startswith(face + "."):
                return f"reaches past the face: {target}"
            if target == face and imported is not None and imported not in names:
                return f"{face} has no public name {imported}"
        if target.startswith("assistant.") and not target.startswith((client, "assistant.drafting", "assistant.bench")):
            return f"imports another client: {target}"
        return ""

    assert violations(rule) == []


def test_the_rules_see_a_violation(tmp_path: Path) -> None:
    """The reader finds function-level imports, so the rules above cannot pass by missing them."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from engine.superposed import suggest\n    import textual.app\n")
    assert imports(sample) == [("engine.superposed", "suggest", 2), ("textual.app", None, 3)]
