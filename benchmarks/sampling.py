"""50-step DDIM on a breaks-256-shaped UNet (random weights): ours vs diffusers' AudioDiffusionPipeline.

Both produce audio from the same seed: the reference runs its own loop and librosa's mel inversion
per image; ours runs cratedigger.generate. On a GPU it also measures batch-16 throughput and peak
memory. Run: python benchmarks/sampling.py [--steps 50] [--batch 1] [--device auto]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import torch

from cratedigger.generate import GenerationRequest, generate
from cratedigger.mel import MelParams
from cratedigger.model import choose_device, load_model
from cratedigger.model.saving import save_model_folder


def breaks_256_unet():
    """The architecture of teticio/audio-diffusion-breaks-256's unet/config.json."""
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    return UNet2DModel(
        sample_size=(256, 256),
        in_channels=1,
        out_channels=1,
        layers_per_block=2,
        block_out_channels=(128, 128, 256, 256, 512, 512),
        down_block_types=("DownBlock2D", "DownBlock2D", "DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"),
    )


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def reference_pipeline(folder: Path, device):
    """diffusers' deprecated AudioDiffusionPipeline on `folder`, with a DDIM scheduler (call it
    inside warnings.catch_warnings: the pipeline warns on load and on every call)."""
    from diffusers import AudioDiffusionPipeline, DDIMScheduler

    pipe = AudioDiffusionPipeline.from_pretrained(folder)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run_reference(folder: Path, device, *, batch: int, steps: int, seed: int) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = reference_pipeline(folder, device)
        sync(device)
        start = time.perf_counter()
        pipe(batch_size=batch, steps=steps, generator=torch.Generator(device=device).manual_seed(seed))
        sync(device)
    return time.perf_counter() - start


def run_ours(folder: Path, device, *, batch: int, steps: int, seed: int) -> float:
    model = load_model(folder, device=device)
    sync(device)
    start = time.perf_counter()
    generate(model, GenerationRequest(count=batch, steps=steps, seeds=tuple(range(seed, seed + batch)), batch_size=batch))
    sync(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=None, help="default: 1 on CPU, 16 on GPU")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = choose_device(args.device)
    batch = args.batch or (16 if device.type == "cuda" else 1)
    from diffusers import DDPMScheduler

    with tempfile.TemporaryDirectory() as tmp:
        folder = save_model_folder(
            Path(tmp) / "breaks-256-shaped",
            unet=breaks_256_unet(),
            scheduler=DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", beta_start=1e-4, beta_end=0.02),
            mel=MelParams(),
        )
        if device.type == "cuda":
            run_ours(folder, device, batch=1, steps=2, seed=0)  # warm-up: CUDA context, cuDNN plans
            torch.cuda.reset_peak_memory_stats()
        t_ours = run_ours(folder, device, batch=batch, steps=args.steps, seed=0)
        mem_ours = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        t_ref = run_reference(folder, device, batch=batch, steps=args.steps, seed=0)
        mem_ref = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None

    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; batch {batch}; {args.steps} DDIM steps; breaks-256-shaped UNet (random weights)")
    print(f"{'':<36}{'seconds':>10}{'clips/min':>12}{'GPU GiB':>10}")
    for label, t, mem in (("diffusers AudioDiffusionPipeline", t_ref, mem_ref), ("cratedigger generate", t_ours, mem_ours)):
        print(f"{label:<36}{t:>10.1f}{batch / t * 60:>12.2f}{(f'{mem:.2f}' if mem is not None else '-'):>10}")
    print(f"throughput ratio (ours / reference): {t_ref / t_ours:.2f}x")


if __name__ == "__main__":
    main()
