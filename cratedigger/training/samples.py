"""Listen to a run while it trains: a few breaks from the current (EMA) weights, through the same
generation loop the app uses, written as WAV + mel PNG under RUN_DIR/samples/step-N/."""

from __future__ import annotations

from pathlib import Path

import torch

from cratedigger.audio.io import write_audio_atomic
from cratedigger.cancel import CancelToken
from cratedigger.mel import MelParams


def write_samples(
    folder: Path,
    *,
    unet: torch.nn.Module,
    scheduler_config: dict,
    mel: MelParams,
    vqvae: torch.nn.Module | None,
    device: torch.device,
    seeds: tuple[int, ...],
    steps: int,
    cancel: CancelToken | None = None,
) -> list[Path]:
    """Generate len(seeds) breaks with DDIM in `steps` steps; returns the WAV paths.

    The same seeds at every step of a run make the samples comparable as training goes on.
    """
    from PIL import Image

    from cratedigger.generate import GenerationRequest, generate
    from cratedigger.model.loading import LoadedModel

    model = LoadedModel(
        ref="training", revision=None, folder=folder, unet=unet, scheduler_config=dict(scheduler_config),
        mel=mel, vqvae=vqvae, device=device, dtype=torch.float32,
    )
    steps = min(steps, model.train_timesteps)
    request = GenerationRequest(count=len(seeds), steps=steps, scheduler="ddim", seeds=tuple(seeds))
    was_training = unet.training
    unet.eval()
    try:
        candidates = generate(model, request, cancel=cancel)
    finally:
        unet.train(was_training)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for candidate in candidates:
        stem = folder / f"sample-{candidate.index}-seed-{candidate.seed}"
        paths.append(write_audio_atomic(stem.with_suffix(".wav"), candidate.audio, sample_rate=candidate.sample_rate))
        Image.fromarray(candidate.image).save(stem.with_suffix(".png"))
    return paths
