"""Extend a 2-bar loop by 4 bars: ours vs the reference way with diffusers' AudioDiffusionPipeline.

The reference is teticio's notebook method: per round, feed the last bars as raw_audio with
mask_start_secs covering them, take what comes after, and concatenate (a hard cut). Ours is
cratedigger.extend.extend_loop (same rounds, same UNet, same steps, plus crossfade and level match).
UNet: breaks-256's architecture with random weights. Run:
    python benchmarks/extend.py [--steps 50] [--bpm 96] [--device auto]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from _common import rock_pattern
from cratedigger.extend import extend_loop, plan_extension
from cratedigger.mel import MelParams
from cratedigger.model import choose_device, load_model
from cratedigger.model.saving import save_model_folder
from sampling import breaks_256_unet, reference_pipeline, sync


def reference_extend(folder, device, loop, *, bpm, bars, steps, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = reference_pipeline(folder, device)
        mel = MelParams()
        bar = 4 * 60 / bpm * mel.sample_rate
        plan = plan_extension(slice_samples=mel.slice_samples, bar_samples=bar, bars_to_add=bars, existing=loop.size)
        audio, added = loop, 0
        for round_index in range(plan.rounds):
            n_bars = min(plan.bars_per_round, bars - added)
            out = pipe(
                raw_audio=audio[-plan.keep :], slice=0, steps=steps, mask_start_secs=plan.keep / mel.sample_rate,
                generator=torch.Generator(device=device).manual_seed(seed + round_index),
            )
            generated = out.audios[0, 0]
            audio = np.concatenate([audio, generated[plan.keep : plan.keep + round(n_bars * bar)]])
            added += n_bars
    return audio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--bpm", type=float, default=96.0)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = choose_device(args.device)
    from diffusers import DDPMScheduler

    mel = MelParams()
    loop = rock_pattern(bpm=args.bpm, bars=2, sample_rate=mel.sample_rate)
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_model_folder(
            Path(tmp) / "breaks-256-shaped", unet=breaks_256_unet(),
            scheduler=DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", beta_start=1e-4, beta_end=0.02), mel=mel,
        )
        model = load_model(folder, device=device)
        sync(device)
        start = time.perf_counter()
        ours = extend_loop(model, loop, sample_rate=mel.sample_rate, bpm=args.bpm, bars_to_add=4, seed=0, steps=args.steps)
        sync(device)
        t_ours = time.perf_counter() - start
        start = time.perf_counter()
        ref = reference_extend(folder, device, loop, bpm=args.bpm, bars=4, steps=args.steps, seed=0)
        sync(device)
        t_ref = time.perf_counter() - start
    rounds = len(ours.seeds)
    print(f"device: {device}; 2-bar loop at {args.bpm} BPM extended by 4 bars; {rounds} rounds of {args.steps} DDIM steps")
    print(f"{'':<44}{'seconds':>10}{'length s':>10}")
    print(f"{'reference (AudioDiffusionPipeline, hard cut)':<44}{t_ref:>10.1f}{ref.size / mel.sample_rate:>10.2f}")
    print(f"{'cratedigger extend_loop':<44}{t_ours:>10.1f}{ours.audio.shape[0] / mel.sample_rate:>10.2f}")
    print(f"speed ratio (reference / ours): {t_ref / t_ours:.2f}x")


if __name__ == "__main__":
    main()
