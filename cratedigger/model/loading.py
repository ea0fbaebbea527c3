"""Load an audio-diffusion model folder: model_index.json, unet/, scheduler/, mel/, optional vqvae/.

Folders in the wild vary (teticio/audio-diffusion issue 46): the mel component may be named after a
module that is not installed, early revisions are a DDPMPipeline with no mel/ folder, and old UNet
configs lack keys newer diffusers add. We read model_index.json ourselves, load each component with
the diffusers model class it names, and read mel/mel_config.json as plain JSON, so all of them load.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from cratedigger.errors import ModelError
from cratedigger.mel import MelParams
from cratedigger.model.device import choose_device, dtype_for
from cratedigger.model.resolve import ResolvedModel, resolve_model

log = logging.getLogger(__name__)

SUPPORTED_PIPELINES = {"AudioDiffusionPipeline", "DDPMPipeline", "DDIMPipeline", "LDMPipeline"}
SUPPORTED_UNETS = {"UNet2DModel"}
SUPPORTED_SCHEDULERS = {"DDPMScheduler", "DDIMScheduler", "DPMSolverMultistepScheduler", "PNDMScheduler"}
SUPPORTED_AUTOENCODERS = {"AutoencoderKL"}
WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")


@dataclass
class LoadedModel:
    """Everything needed to sample: the networks on their device, the scheduler config and mel numbers."""

    ref: str
    revision: str | None
    folder: Path
    unet: torch.nn.Module
    scheduler_config: dict
    mel: MelParams
    vqvae: torch.nn.Module | None
    device: torch.device
    dtype: torch.dtype

    @property
    def is_latent(self) -> bool:
        return self.vqvae is not None

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of what the UNet denoises: pixels, or latents for VAE models."""
        size = self.unet.config.sample_size
        height, width = (size, size) if isinstance(size, int) else tuple(size)
        return int(self.unet.config.in_channels), int(height), int(width)

    @property
    def train_timesteps(self) -> int:
        return int(self.scheduler_config.get("num_train_timesteps", 1000))


def read_json(path: Path, *, what: str) -> dict:
    if not path.is_file():
        raise ModelError(f"{what}: {path} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{what}: {path} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{what}: {path} must hold a JSON object")
    return data


def _component_class(index: dict, name: str) -> str | None:
    entry = index.get(name)
    if entry is None or (isinstance(entry, list) and (len(entry) < 2 or entry[1] is None)):
        return None
    if not isinstance(entry, list) or not isinstance(entry[1], str):
        raise ModelError(f"model_index.json: component {name!r} should be [library, class], got {entry!r}")
    return entry[1]


def _check_weights(folder: Path, what: str) -> None:
    if not folder.is_dir():
        raise ModelError(f"{what}: folder {folder} is missing")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise ModelError(f"{what}: no weights in {folder} (expected {' or '.join(WEIGHT_FILES)})")


def _load_component(cls, folder: Path, what: str, dtype: torch.dtype) -> torch.nn.Module:
    _check_weights(folder, what)
    read_json(folder / "config.json", what=what)
    use_safetensors = (folder / WEIGHT_FILES[0]).is_file()
    try:
        module = cls.from_pretrained(folder, use_safetensors=use_safetensors, torch_dtype=dtype)
    except Exception as exc:  # diffusers raises OSError, ValueError, RuntimeError, safetensors errors...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "size mismatch" in str(exc) or "shape" in str(exc).lower():
            raise ModelError(f"{what}: weights in {folder} do not match its config.json ({reason[:300]})") from exc
        raise ModelError(f"{what}: cannot load weights from {folder} ({reason[:300]})") from exc
    return module.eval().requires_grad_(False)


def load_model(
    ref: str | os.PathLike | ResolvedModel,
    *,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    offline: bool | None = None,
    tqdm_class=None,
) -> LoadedModel:
    """Load a hub id or local folder onto `device` (auto by default), half precision on GPUs."""
    import diffusers

    resolved = ref if isinstance(ref, ResolvedModel) else resolve_model(ref, offline=offline, tqdm_class=tqdm_class)
    folder = resolved.folder
    torch_device = device if isinstance(device, torch.device) else choose_device(device)
    torch_dtype = dtype or dtype_for(torch_device)

    index = read_json(folder / "model_index.json", what="model")
    pipeline = index.get("_class_name")
    if pipeline not in SUPPORTED_PIPELINES:
        raise ModelError(f"model_index.json: unsupported pipeline {pipeline!r} (supported: {sorted(SUPPORTED_PIPELINES)})")

    unet_class = _component_class(index, "unet")
    if unet_class is None:
        raise ModelError("model_index.json names no unet component")
    if unet_class not in SUPPORTED_UNETS:
        raise ModelError(f"unet: unsupported class {unet_class!r} (supported: {sorted(SUPPORTED_UNETS)})")
    scheduler_class = _component_class(index, "scheduler")
    if scheduler_class is None:
        raise ModelError("model_index.json names no scheduler component")
    if scheduler_class not in SUPPORTED_SCHEDULERS:
        raise ModelError(f"scheduler: unsupported class {scheduler_class!r}")
    scheduler_config = read_json(folder / "scheduler" / "scheduler_config.json", what="scheduler")

    vqvae = None
    vae_class = _component_class(index, "vqvae") or _component_class(index, "vae")
    if vae_class is not None:
        if vae_class not in SUPPORTED_AUTOENCODERS:
            raise ModelError(f"vqvae: unsupported class {vae_class!r} (supported: {sorted(SUPPORTED_AUTOENCODERS)})")
        vae_folder = folder / ("vqvae" if (folder / "vqvae").exists() or "vqvae" in index else "vae")
        vqvae = _load_component(diffusers.AutoencoderKL, vae_folder, "vqvae", torch_dtype)

    unet = _load_component(diffusers.UNet2DModel, folder / "unet", "unet", torch_dtype)
    mel = _read_mel(folder, index, unet, vqvae)

    model = LoadedModel(
        ref=resolved.ref,
        revision=resolved.revision,
        folder=folder,
        unet=unet.to(torch_device),
        scheduler_config=dict(scheduler_config),
        mel=mel,
        vqvae=vqvae.to(torch_device) if vqvae is not None else None,
        device=torch_device,
        dtype=torch_dtype,
    )
    _check_consistency(model)
    log.info("loaded %s (%s) on %s/%s", model.ref, model.revision or "local", torch_device, torch_dtype)
    return model


def _read_mel(folder: Path, index: dict, unet, vqvae) -> MelParams:
    config_path = folder / "mel" / "mel_config.json"
    if config_path.exists() or _component_class(index, "mel") is not None:
        return MelParams.from_config_file(config_path)
    # Early revisions (a bare DDPMPipeline) had no mel/ folder: the image is the UNet's sample and the
    # remaining numbers were audiodiffusion's Mel defaults.
    if vqvae is not None:
        raise ModelError(f"{folder}: latent model without mel/mel_config.json")
    size = unet.config.sample_size
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    log.warning("%s has no mel/ folder: using the audio-diffusion Mel defaults at %dx%d", folder, width, height)
    return MelParams(x_res=int(width), y_res=int(height))


def _check_consistency(model: LoadedModel) -> None:
    channels, height, width = model.sample_shape
    if model.vqvae is None:
        if (height, width) != (model.mel.y_res, model.mel.x_res):
            raise ModelError(
                f"unet sample_size {height}x{width} does not match mel {model.mel.y_res}x{model.mel.x_res}"
            )
        if channels != 1 or model.unet.config.out_channels != 1:
            raise ModelError(f"unet must map 1 channel to 1 channel for mel images, has {channels}")
    else:
        if model.vqvae.config.in_channels != 1:
            raise ModelError(f"vqvae expects {model.vqvae.config.in_channels} image channels; mel images have 1")
        if model.vqvae.config.latent_channels != channels:
            raise ModelError(
                f"vqvae latent_channels {model.vqvae.config.latent_channels} != unet in_channels {channels}"
            )
