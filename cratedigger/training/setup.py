"""The networks a run trains: a new UNet (teticio's shape, scaled), or one to fine-tune, plus the VAE.

A run keeps a `spec/` folder (UNet and scheduler configs, mel numbers, the frozen VAE's weights) so
that `--resume` rebuilds exactly the same model without the original --from/--vae references.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from cratedigger.errors import BadParameterError, ModelError
from cratedigger.mel import MelParams
from cratedigger.training.config import TrainConfig, default_channels

log = logging.getLogger(__name__)

SPEC = "spec"
# Numbers that must agree between a dataset and a model (n_iter only affects decoding audio).
MEL_KEYS = ("x_res", "y_res", "sample_rate", "n_fft", "hop_length", "top_db")


@dataclass
class ModelParts:
    """What training needs: the UNet to train, the noise scheduler, mel numbers, optional frozen VAE."""

    unet: torch.nn.Module
    scheduler: object  # diffusers DDPMScheduler
    mel: MelParams
    vqvae: torch.nn.Module | None
    source: dict  # where it came from: {"base_model": ..., "vae": ...}

    @property
    def prediction_type(self) -> str:
        return str(self.scheduler.config.get("prediction_type", "epsilon"))


def new_unet(*, sample_size: tuple[int, int], in_channels: int, channels: tuple[int, ...], layers_per_block: int):
    """teticio's audio-diffusion UNet2DModel: plain blocks, self-attention one level above the bottom.

    sample_size is (height, width) = (y_res, x_res) for pixel models, the latent size for latent ones.
    """
    from diffusers import UNet2DModel

    levels = len(channels)
    factor = 2 ** (levels - 1)
    if any(side % factor for side in sample_size):
        raise BadParameterError(
            f"a UNet with {levels} levels halves its input {levels - 1} times, so height and width must be "
            f"multiples of {factor}; got {sample_size[0]}x{sample_size[1]} (use fewer --channels levels)"
        )
    attention = levels - 2 if levels >= 2 else None
    down = tuple("AttnDownBlock2D" if i == attention else "DownBlock2D" for i in range(levels))
    up = tuple(reversed(["AttnUpBlock2D" if i == attention else "UpBlock2D" for i in range(levels)]))
    groups = min(32, math.gcd(*channels))
    return UNet2DModel(
        sample_size=tuple(sample_size),
        in_channels=in_channels,
        out_channels=in_channels,
        layers_per_block=layers_per_block,
        block_out_channels=tuple(channels),
        down_block_types=down,
        up_block_types=up,
        norm_num_groups=groups,
    )


def new_scheduler(train_timesteps: int):
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=train_timesteps, beta_schedule="linear", beta_start=1e-4, beta_end=0.02)


def load_vae(ref: str) -> torch.nn.Module:
    """An AutoencoderKL from a folder holding one (config.json + weights), or a latent model's vqvae/."""
    from cratedigger.model.loading import read_json
    from cratedigger.model.resolve import resolve_model

    folder = resolve_model(ref).folder
    if (folder / "config.json").is_file():
        config = read_json(folder / "config.json", what="vae")
        if config.get("_class_name") not in (None, "AutoencoderKL"):
            raise ModelError(f"vae {ref}: {folder} holds a {config.get('_class_name')}, not an AutoencoderKL")
        vae_folder = folder
    elif (folder / "vqvae").is_dir():
        vae_folder = folder / "vqvae"
    elif (folder / "vae").is_dir():
        vae_folder = folder / "vae"
    else:
        raise ModelError(f"vae {ref}: {folder} has neither an AutoencoderKL config.json nor a vqvae/ folder")
    vae = _load_vae_folder(vae_folder)
    if vae.config.in_channels != 1:
        raise ModelError(f"vae {ref}: takes {vae.config.in_channels}-channel images; mel images have 1")
    return vae


def _load_vae_folder(folder: Path) -> torch.nn.Module:
    from diffusers import AutoencoderKL

    try:
        vae = AutoencoderKL.from_pretrained(folder, torch_dtype=torch.float32)
    except Exception as exc:  # diffusers raises OSError, ValueError, safetensors errors...
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"vae: cannot load {folder} ({reason})") from exc
    return vae.eval().requires_grad_(False)


def latent_size(vae, mel: MelParams) -> tuple[int, int, int]:
    """(channels, height, width) the VAE encodes a y_res x x_res mel image to."""
    with torch.no_grad():
        latents = vae.encode(torch.zeros(1, 1, mel.y_res, mel.x_res)).latent_dist.mode()
    return int(latents.shape[1]), int(latents.shape[2]), int(latents.shape[3])


def check_mel_match(dataset_mel: MelParams, model_mel: MelParams, *, model_ref: str, dataset: Path) -> None:
    wrong = [k for k in MEL_KEYS if getattr(dataset_mel, k) != getattr(model_mel, k)]
    if wrong:
        detail = ", ".join(f"{k} {getattr(dataset_mel, k)} vs {getattr(model_mel, k)}" for k in wrong)
        raise BadParameterError(
            f"dataset {dataset} was made with other mel settings than model {model_ref} ({detail}); "
            f"rebuild it with `cratedigger dataset AUDIO_DIR --out DIR --from {model_ref}`"
        )


def build_parts(config: TrainConfig, dataset_mel: MelParams | None, image_size: tuple[int, int]) -> ModelParts:
    """New or fine-tuned networks for a fresh run. image_size is the dataset's (x_res, y_res)."""
    if config.base_model is not None:
        return _fine_tune_parts(config, dataset_mel, image_size)
    if dataset_mel is None:
        raise BadParameterError(
            f"{config.dataset} has no mel_config.json, so the audio settings of its images are unknown: "
            "make it with `cratedigger dataset`, or fine-tune a model made with the same settings (--from)"
        )
    mel = dataset_mel
    vqvae = None
    if config.vae is not None:
        vqvae = load_vae(config.vae)
        channels, height, width = latent_size(vqvae, mel)
    else:
        channels, height, width = 1, mel.y_res, mel.x_res
    unet = new_unet(
        sample_size=(height, width),
        in_channels=channels,
        channels=config.block_out_channels or default_channels(height, width),
        layers_per_block=config.layers_per_block,
    )
    return ModelParts(unet, new_scheduler(config.train_timesteps), mel, vqvae, {"base_model": None, "vae": config.vae})


def _fine_tune_parts(config: TrainConfig, dataset_mel: MelParams | None, image_size) -> ModelParts:
    from diffusers import DDPMScheduler

    from cratedigger.model import load_model

    model = load_model(config.base_model, device="cpu", dtype=torch.float32)
    if dataset_mel is not None:
        check_mel_match(dataset_mel, model.mel, model_ref=config.base_model, dataset=config.dataset)
    elif image_size != (model.mel.x_res, model.mel.y_res):
        raise BadParameterError(
            f"dataset images are {image_size[0]}x{image_size[1]} but model {config.base_model} takes "
            f"{model.mel.x_res}x{model.mel.y_res}"
        )
    unet = model.unet.requires_grad_(True).train()
    scheduler = DDPMScheduler.from_config(model.scheduler_config)
    return ModelParts(unet, scheduler, model.mel, model.vqvae, {"base_model": config.base_model, "vae": None})


def save_spec(parts: ModelParts, run_dir: Path) -> None:
    """Write run_dir/spec: enough to rebuild the same networks on resume (weights come from checkpoints)."""
    spec = Path(run_dir) / SPEC
    staging = spec.with_name(SPEC + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "unet_config.json").write_text(json.dumps(_plain(parts.unet.config), indent=2) + "\n")
    (staging / "scheduler_config.json").write_text(json.dumps(_plain(parts.scheduler.config), indent=2) + "\n")
    (staging / "mel_config.json").write_text(json.dumps(parts.mel.to_dict(), indent=2) + "\n")
    (staging / "source.json").write_text(json.dumps(parts.source, indent=2) + "\n")
    if parts.vqvae is not None:
        parts.vqvae.save_pretrained(staging / "vqvae")
    shutil.rmtree(spec, ignore_errors=True)
    staging.rename(spec)


def _plain(config) -> dict:
    """A diffusers config as JSON-ready data (tuples -> lists; local paths like _name_or_path dropped)."""
    return json.loads(json.dumps({k: v for k, v in dict(config).items() if not k.startswith("_name_or_path")}, default=list))


def load_spec(run_dir: Path) -> ModelParts:
    """Rebuild the networks of an earlier run from run_dir/spec (UNet weights still random)."""
    from diffusers import DDPMScheduler, UNet2DModel

    from cratedigger.model.loading import read_json

    spec = Path(run_dir) / SPEC
    if not spec.is_dir():
        raise ModelError(f"{run_dir}: has checkpoints but no {SPEC}/ folder describing the model; cannot resume")
    unet = UNet2DModel.from_config(read_json(spec / "unet_config.json", what="training spec"))
    scheduler = DDPMScheduler.from_config(read_json(spec / "scheduler_config.json", what="training spec"))
    mel = MelParams.from_config_file(spec / "mel_config.json")
    source = read_json(spec / "source.json", what="training spec")
    vqvae = _load_vae_folder(spec / "vqvae") if (spec / "vqvae").is_dir() else None
    return ModelParts(unet.train(), scheduler, mel, vqvae, source)
