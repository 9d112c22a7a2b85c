"""draftpad's local inference engine. Importing it switches the Hugging Face stack offline."""

from engine.offline import enforce_offline

enforce_offline()

from engine.errors import ModelNotFound, UserError  # noqa: E402
from engine.generate import GenerationConfig, GenerationResult, METHODS, encode_prompt, generate  # noqa: E402
from engine.loading import LoadedModel, load_model  # noqa: E402
from engine.stats import GenerationStats  # noqa: E402
from engine.speculative import register as _register_speculative  # noqa: E402

_register_speculative(METHODS)  # replaces the "auto" placeholder with the speculative decoder

__all__ = [
    "GenerationConfig", "GenerationResult", "GenerationStats", "LoadedModel", "METHODS",
    "ModelNotFound", "UserError", "encode_prompt", "generate", "load_model",
]
