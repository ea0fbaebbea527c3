"""The built-in `starter` model and the default-model rule.

The starter model is a small audio-diffusion folder trained by us on freely licensed drums
(models/starter/README.md); it ships inside the package as `cratedigger.starter_model`, so a fresh
install generates breaks offline. The default model is the first available of: the user's own choice
(an app setting, or CRATEDIGGER_MODEL), teticio's breaks-256 when it is already in the Hugging Face
cache, the built-in starter.
"""

from __future__ import annotations

import os
from pathlib import Path

from cratedigger.errors import ModelError

STARTER = "starter"
BREAKS_256 = "teticio/audio-diffusion-breaks-256"
BREAKS_256_MB = 455  # what a first download of breaks-256 costs (its UNet weights and configs)
ENV_MODEL = "CRATEDIGGER_MODEL"
PACKAGE = "cratedigger.starter_model"  # models/starter/model, mapped in pyproject.toml
_WEIGHTS = ("unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.bin")


def _installed_folder() -> Path:
    from importlib.resources import files

    try:
        return Path(str(files(PACKAGE)))
    except (ModuleNotFoundError, TypeError) as exc:
        raise ModelError("the built-in starter model is not installed (reinstall CrateDigger: pip install -e .)") from exc


def starter_folder() -> Path:
    """The installed starter model's folder; a clear error when the install lacks it."""
    folder = _installed_folder()
    if not (folder / "model_index.json").is_file():
        raise ModelError(f"the built-in starter model is incomplete: {folder} has no model_index.json "
                         "(reinstall CrateDigger)")
    return folder


def is_starter(ref: str | os.PathLike | None) -> bool:
    return ref is not None and os.fspath(ref).strip().lower() == STARTER


def hub_model_cached(repo_id: str = BREAKS_256, *, cache_dir: str | os.PathLike | None = None) -> bool:
    """True when repo_id's config and UNet weights are already in the Hugging Face cache (no network)."""
    from huggingface_hub import try_to_load_from_cache

    def cached(name: str) -> bool:
        found = try_to_load_from_cache(repo_id, name, cache_dir=cache_dir)
        return isinstance(found, str) and Path(found).is_file()

    return cached("model_index.json") and any(cached(name) for name in _WEIGHTS)


def default_model_reference(choice: str | None = None, *, cache_dir: str | os.PathLike | None = None) -> str:
    """The model to use when none is named: choice (an app setting), then $CRATEDIGGER_MODEL, then
    breaks-256 if it is cached, then the built-in starter."""
    for ref in (choice, os.environ.get(ENV_MODEL)):
        if ref and ref.strip():
            return ref.strip()
    if hub_model_cached(BREAKS_256, cache_dir=cache_dir):
        return BREAKS_256
    return STARTER
