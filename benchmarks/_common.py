"""Shared bits for the benchmarks: timing, real drum audio (Debian lmms-common / hydrogen-drumkits),
the breaks-256 UNet shape with random weights, and the reference pipeline."""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from drum_audio import real_break, rock_pattern  # noqa: E402,F401

BREAKS_256_CHANNELS = (128, 128, 256, 256, 512, 512)


def timed(fn, *args, repeat: int = 1, **kwargs):
    """(best seconds over `repeat` runs, last result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, result


def breaks_256_unet(*, size: int = 256, channels: tuple[int, ...] = BREAKS_256_CHANNELS):
    """The architecture of teticio/audio-diffusion-breaks-256's unet/config.json (random weights).
    `size` / `channels` shrink it for smoke runs (e.g. --tiny): same block layout, fewer pixels."""
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    return UNet2DModel(
        sample_size=(size, size),
        in_channels=1,
        out_channels=1,
        layers_per_block=2,
        block_out_channels=channels,
        down_block_types=("DownBlock2D", "DownBlock2D", "DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"),
        norm_num_groups=min(32, min(channels)),
    )


def breaks_256_folder(folder: Path, *, size: int = 256, channels: tuple[int, ...] = BREAKS_256_CHANNELS) -> Path:
    """A model folder in the hub layout around breaks_256_unet(), breaks-256's mel numbers scaled to `size`."""
    from diffusers import DDPMScheduler

    from cratedigger.mel import MelParams
    from cratedigger.model.saving import save_model_folder

    return save_model_folder(
        folder,
        unet=breaks_256_unet(size=size, channels=channels),
        scheduler=DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", beta_start=1e-4, beta_end=0.02),
        mel=MelParams(x_res=size, y_res=size),
    )


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def reference_pipeline(folder: Path, device, *, dtype=None):
    """diffusers' deprecated AudioDiffusionPipeline on `folder`, with a DDIM scheduler, in `dtype`
    (default fp32). Call it inside warnings.catch_warnings: the pipeline warns on load and per call."""
    from diffusers import AudioDiffusionPipeline, DDIMScheduler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = AudioDiffusionPipeline.from_pretrained(folder, torch_dtype=dtype or torch.float32)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe
