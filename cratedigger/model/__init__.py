"""Finding and loading audio-diffusion model folders and hub ids; device and dtype choice."""

from cratedigger.model.device import choose_device, dtype_for
from cratedigger.model.loading import LoadedModel, load_model
from cratedigger.model.resolve import ResolvedModel, resolve_model
from cratedigger.model.starter import STARTER, default_model_reference

__all__ = [
    "STARTER", "LoadedModel", "ResolvedModel", "choose_device", "default_model_reference", "dtype_for", "load_model",
    "resolve_model",
]
