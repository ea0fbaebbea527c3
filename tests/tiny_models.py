"""Tiny random audio-diffusion models saved in the real hub layout, built by the tests themselves.

They use diffusers' deprecated AudioDiffusionPipeline.save_pretrained (fixtures only: it writes the
layout the published repos have); the product never runs that pipeline.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

# Small enough to run in milliseconds, big enough to be a real UNet with attention.
TINY_MEL = dict(x_res=64, y_res=32, sample_rate=22050, n_fft=1024, hop_length=256, top_db=80, n_iter=8)


def tiny_unet(*, sample_size, in_channels=1, seed=0):
    from diffusers import UNet2DModel

    torch.manual_seed(seed)
    return UNet2DModel(
        sample_size=sample_size,
        in_channels=in_channels,
        out_channels=in_channels,
        layers_per_block=1,
        block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
    )


def tiny_vae(seed=1):
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(
        in_channels=1,
        out_channels=1,
        latent_channels=1,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(4, 8),
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=32,
    )


# A wider slice (2.97 s) so that bars at break tempos fit: for extension tests.
WIDE_MEL = dict(TINY_MEL, x_res=256)


def build_tiny_model(
    folder: Path, *, latent: bool = False, safe_serialization: bool = False, mel_config: dict | None = None
) -> Path:
    """Save a random tiny model in the layout of teticio's repos; returns the folder."""
    from diffusers import AudioDiffusionPipeline, DDPMScheduler, Mel

    config = mel_config or TINY_MEL
    mel = Mel(**config)
    vae = tiny_vae() if latent else None
    if latent:
        unet = tiny_unet(sample_size=(config["y_res"] // 2, config["x_res"] // 2))
    else:
        unet = tiny_unet(sample_size=(config["y_res"], config["x_res"]))
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", beta_start=1e-4, beta_end=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = AudioDiffusionPipeline(vqvae=vae, unet=unet, mel=mel, scheduler=scheduler)
        pipe.save_pretrained(folder, safe_serialization=safe_serialization)
    return Path(folder)
