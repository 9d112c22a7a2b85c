from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.tiny import ARCHES, build_tiny_model

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@pytest.fixture(autouse=True)
def draftpad_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data directory, so nothing touches the user's real one."""
    home = tmp_path / "draftpad-home"
    monkeypatch.setenv("DRAFTPAD_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {arch: build_tiny_model(root / arch, arch) for arch in ARCHES}


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_model_dirs: dict[str, Path]) -> Path:
    return tiny_model_dirs["llama"]


@pytest.fixture(scope="session")
def real_model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data dir for all real-model tests, so the dequantised GGUF copy is made once per run."""
    return tmp_path_factory.mktemp("real-home")


@pytest.fixture(scope="session")
def real_lm(real_model_home: Path):
    """The embedded SmolLM2 model, loaded once per test session."""
    old = os.environ.get("DRAFTPAD_HOME")
    os.environ["DRAFTPAD_HOME"] = str(real_model_home)
    try:
        from engine import load_model

        return load_model("default")
    finally:
        if old is None:
            os.environ.pop("DRAFTPAD_HOME", None)
        else:
            os.environ["DRAFTPAD_HOME"] = old


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS
