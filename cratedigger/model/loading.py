"""Load an audio-diffusion model folder: model_index.json, unet/, scheduler/, mel/, optional vqvae/.

Folders in the wild vary (teticio/audio-diffusion issue 46): the mel component may be named after a
module that is not installed, early revisions are a DDPMPipeline with no mel/ folder, and old UNet
configs lack keys newer diffusers add. We read model_index.json ourselves, load each component with
the diffusers model class it names, and read mel/mel_config.json as plain JSON, so all of them load.
"""

from __future__ import annotations

import json
import logging
import math
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

    def info(self) -> dict:
        """What a loop's provenance says of the model that made it (loop.loop_from_candidate's
        model_info): the same fields whether the CLI or the app made the loop."""
        return {"ref": str(self.ref), "device": str(self.device), "sample_rate": self.mel.sample_rate}


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
    check_scheduler_config(scheduler_config, folder / "scheduler" / "scheduler_config.json")

    vqvae = None
    vae_class = _component_class(index, "vqvae") or _component_class(index, "vae")
    if vae_class is not None:
        if vae_class not in SUPPORTED_AUTOENCODERS:
            raise ModelError(f"vqvae: unsupported class {vae_class!r} (supported: {sorted(SUPPORTED_AUTOENCODERS)})")
        vae_folder = folder / ("vqvae" if (folder / "vqvae").exists() or "vqvae" in index else "vae")
        vqvae = _load_component(diffusers.AutoencoderKL, vae_folder, "vqvae", torch_dtype)

    # Before any weights are read: a config asking for more than this machine has is refused here,
    # not after gigabytes are allocated (or by the kernel's OOM killer mid-generation).
    _check_weights(folder / "unet", "unet")
    check_unet_config(read_json(folder / "unet" / "config.json", what="unet"), folder / "unet" / "config.json")
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


# -- config checks: every number a model folder gives, checked before it is used -------------------

MAX_SAMPLE_SIDE = 1024
BETA_SCHEDULES = {"linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"}
PREDICTION_TYPES = {"epsilon", "v_prediction", "sample"}


def _whole(value, *, where: Path, key: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ModelError(f"{where}: {key} must be a whole number from {lo} to {hi}, got {value!r}")
    return value


def _fraction(value, *, where: Path, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 < value < 1:
        raise ModelError(f"{where}: {key} must be a number between 0 and 1 (exclusive), got {value!r}")
    return float(value)


def check_scheduler_config(config: dict, where: Path) -> None:
    """num_train_timesteps, betas, schedule and prediction type: type, sign and range."""
    _whole(config.get("num_train_timesteps", 1000), where=where, key="num_train_timesteps", lo=2, hi=100_000)
    start = _fraction(config.get("beta_start", 0.0001), where=where, key="beta_start")
    end = _fraction(config.get("beta_end", 0.02), where=where, key="beta_end")
    if end <= start:
        raise ModelError(f"{where}: beta_end ({end}) must be larger than beta_start ({start})")
    schedule = config.get("beta_schedule", "linear")
    if schedule not in BETA_SCHEDULES:
        raise ModelError(f"{where}: beta_schedule must be one of {sorted(BETA_SCHEDULES)}, got {schedule!r}")
    kind = config.get("prediction_type", "epsilon")
    if kind not in PREDICTION_TYPES:
        raise ModelError(f"{where}: prediction_type must be one of {sorted(PREDICTION_TYPES)}, got {kind!r}")
    betas = config.get("trained_betas")
    if betas is not None:
        if not isinstance(betas, list) or not betas:
            raise ModelError(f"{where}: trained_betas must be a list of numbers, got {type(betas).__name__}")
        for i, beta in enumerate(betas):
            _fraction(beta, where=where, key=f"trained_betas[{i}]")


def check_unet_config(config: dict, where: Path) -> None:
    """Shape numbers in range, and the memory one candidate needs no more than this machine has free."""
    size = config.get("sample_size")
    sides = [size, size] if isinstance(size, int) and not isinstance(size, bool) else size
    if not isinstance(sides, list) or len(sides) != 2:
        raise ModelError(f"{where}: sample_size must be a whole number or [height, width], got {size!r}")
    height, width = (_whole(v, where=where, key="sample_size", lo=4, hi=MAX_SAMPLE_SIDE) for v in sides)
    _whole(config.get("in_channels", 3), where=where, key="in_channels", lo=1, hi=64)
    _whole(config.get("out_channels", 3), where=where, key="out_channels", lo=1, hi=64)
    layers = _whole(config.get("layers_per_block", 2), where=where, key="layers_per_block", lo=1, hi=16)
    channels = config.get("block_out_channels", [224, 448, 672, 896])
    if not isinstance(channels, list) or not 1 <= len(channels) <= 10:
        raise ModelError(f"{where}: block_out_channels must be a list of 1-10 whole numbers, got {channels!r}")
    for c in channels:
        _whole(c, where=where, key="block_out_channels", lo=1, hi=8192)
    need = generation_bytes(height=height, width=width, channels=channels, layers_per_block=layers,
                            attention=[("Attn" in str(b)) for b in config.get("down_block_types", [])])
    free = available_memory_bytes()
    if free is not None and need > free:
        raise ModelError(
            f"{where}: a {height}x{width} sample through this UNet needs about {need / 2**30:.1f} GiB for one "
            f"candidate, and only {free / 2**30:.1f} GiB of memory is free; refusing to load it")


def generation_bytes(*, height: int, width: int, channels, layers_per_block: int, attention) -> int:
    """A rough float32 peak for one forward pass of one candidate: the activations kept per level
    (down and up, each resnet layer) plus the attention matrices of the attention levels."""
    total = 0
    for i, c in enumerate(channels):
        h, w = max(1, height >> i), max(1, width >> i)
        total += h * w * int(c) * 4 * (2 * layers_per_block + 3) * 2
        if i < len(attention) and attention[i]:
            total += (h * w) ** 2 * 4 * 2
    return total


def available_memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None
