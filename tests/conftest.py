from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.tiny import ARCHES, build_tiny_model

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rebuildable caches (the dequantised GGUF copy, ~20 s to make) are shared by the whole run."""
    return tmp_path_factory.mktemp("draftpad-cache")


@pytest.fixture(autouse=True)
def draftpad_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_cache: Path) -> Path:
    """Every test gets its own data directory, so nothing touches the user's real one."""
    home = tmp_path / "draftpad-home"
    monkeypatch.setenv("DRAFTPAD_HOME", str(home))
    monkeypatch.setenv("DRAFTPAD_CACHE", str(shared_cache))
    return home


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {arch: build_tiny_model(root / arch, arch) for arch in ARCHES}


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_model_dirs: dict[str, Path]) -> Path:
    return tiny_model_dirs["llama"]


@pytest.fixture(scope="session")
def real_lm(shared_cache: Path):
    """The embedded SmolLM2 model, loaded once per test session."""
    os.environ["DRAFTPAD_CACHE"] = str(shared_cache)
    from engine import load_model

    return load_model("default")


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def no_network():
    """Any internet connection or DNS lookup inside the test raises and is recorded."""
    from tests import netguard

    netguard.ATTEMPTS.clear()
    netguard.install()
    try:
        yield netguard.ATTEMPTS
    finally:
        netguard.uninstall()


def run_cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 600):
    """Run `draftpad ARGS` in a subprocess under the network guard; returns CompletedProcess."""
    import subprocess
    import sys

    full_env = {**os.environ, **(env or {})}
    root = Path(__file__).resolve().parents[1]
    full_env["PYTHONPATH"] = str(root) + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "tests.netguard", "draftpad", *args], cwd=root, env=full_env,
                          input=stdin, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def cli(draftpad_home: Path, tmp_path: Path):
    """Call as cli("generate", "hi", ...); DRAFTPAD_HOME is the test's; network attempts are logged."""
    log = tmp_path / "net-attempts.log"

    def call(*args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 600):
        merged = {"DRAFTPAD_HOME": str(draftpad_home), "DRAFTPAD_NETGUARD_LOG": str(log), **(env or {})}
        result = run_cli(*args, env=merged, stdin=stdin, timeout=timeout)
        result.network_attempts = log.read_text().splitlines() if log.exists() else []
        return result

    return call


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models are all overhead: extra threads only spin against other processes on 2 cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
