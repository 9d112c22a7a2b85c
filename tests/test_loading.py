"""Model specs resolve to the right place, and a missing model is one clear error."""

from pathlib import Path

import pytest
import torch

from engine.errors import ModelNotFound, UserError
from engine.loading import load_model, pick_device, pick_dtype, resolve_spec


def test_default_spec_finds_the_embedded_gguf() -> None:
    resolved = resolve_spec("default")
    assert resolved.kind == "gguf" and resolved.gguf_file.endswith(".gguf")
    assert (Path(resolved.location) / resolved.gguf_file).is_file()


def test_specs_by_shape(tmp_path: Path, tiny_model_dir: Path) -> None:
    assert resolve_spec(str(tiny_model_dir)).kind == "folder"
    assert resolve_spec("HuggingFaceTB/SmolLM2-360M-Instruct").kind == "hub"
    with pytest.raises(ModelNotFound, match="model file not found"):
        resolve_spec(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelNotFound, match="no config.json"):
        resolve_spec(str(tmp_path))
    with pytest.raises(ModelNotFound):
        resolve_spec("not a model")


def test_uncached_hub_id_fails_offline_with_one_line(no_network) -> None:
    with pytest.raises(ModelNotFound) as info:
        load_model("draftpad-tests/no-such-model")
    message = str(info.value)
    assert "no-such-model" in message and "offline" in message and "\n" not in message
    assert no_network == []  # offline mode means not even a DNS lookup


def test_device_and_dtype_choice() -> None:
    cpu = torch.device("cpu")
    assert pick_dtype("auto", cpu) == torch.float32
    assert pick_dtype("auto", torch.device("cuda")) == torch.bfloat16
    assert pick_dtype("bf16", cpu) == torch.bfloat16
    with pytest.raises(UserError):
        pick_dtype("int3", cpu)
    if not torch.cuda.is_available():
        assert pick_device("auto") == cpu


def test_loading_a_folder_on_cpu(tiny_model_dir: Path) -> None:
    lm = load_model(str(tiny_model_dir), dtype="fp32")
    assert lm.device.type == "cpu" and lm.dtype == torch.float32
    assert lm.vocab_size == len(lm.tokenizer) and lm.eos_token_ids == {lm.tokenizer.eos_token_id}


def test_the_embedder_waits_while_a_model_is_being_loaded(monkeypatch) -> None:
    """Two threads importing transformers' submodules at once can fail one with 'partially
    initialized module' (seen in the app: the model loading while the editor fetched examples);
    both loaders take one lock, so the embedder's first load waits for the model's."""
    import threading

    from engine.offline import TRANSFORMERS_IMPORTS
    from retrieval.embedding import Embedder

    embedder = Embedder()
    done = threading.Event()
    with TRANSFORMERS_IMPORTS:
        worker = threading.Thread(target=lambda: (embedder._load(), done.set()), daemon=True)
        worker.start()
        assert not done.wait(0.5)  # held back while "the model loads"
    assert done.wait(120) and embedder._parts is not None
