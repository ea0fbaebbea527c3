"""The GPU path: 16 breaks-256 candidates, ours vs diffusers' AudioDiffusionPipeline on the same GPU.

Prints, per row, the wall time for all candidates, seconds per candidate, peak GPU memory and the
ratio to the reference. Rows:
- reference: AudioDiffusionPipeline, 50 DDIM steps, fp16 (its noise passed in fp16: its own would be
  fp32 and fail against fp16 weights), one call for the whole batch, librosa inversion per image;
- ours, equal work: cratedigger.generate, 50 DDIM steps, fp16 (the load dtype), batch sized to free
  memory by the engine (default_batch_size);
- ours, each preset (draft, standard, best) as the app runs them (fast precision: fp16 +
  channels_last on CUDA).
Add --compile to also time torch.compile'd UNet forwards (its compile time is printed apart).
A breaks-256 UNet with random weights; timing does not depend on the weights.

Sized to fit in 8 minutes on one H200-class GPU (each row is seconds there). Smoke run on a CPU:
    python benchmarks/gpu_sampling.py --device cpu --size 32 --tiny --count 2 --steps 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import torch

from _common import breaks_256_folder, reference_pipeline, sync
from cratedigger.generate import GenerationRequest, default_batch_size, generate
from cratedigger.model import choose_device, load_model
from cratedigger.presets import PRESETS, preset_request

TINY_CHANNELS = (32, 32, 64, 64, 128, 128)


def memory_reset(device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def memory_peak(device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def time_ours(model, request) -> tuple[float, float | None]:
    memory_reset(model.device)
    sync(model.device)
    start = time.perf_counter()
    generate(model, request)
    sync(model.device)
    return time.perf_counter() - start, memory_peak(model.device)


def time_reference(pipe, device, *, count: int, steps: int, dtype) -> tuple[float, float | None]:
    shape = (count, pipe.unet.config.in_channels, *pipe.unet.config.sample_size)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(device, dtype)
    memory_reset(device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sync(device)
        start = time.perf_counter()
        pipe(batch_size=count, steps=steps, noise=noise)
        sync(device)
    return time.perf_counter() - start, memory_peak(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps of the equal-work rows")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--tiny", action="store_true", help=f"channels {TINY_CHANNELS} (smoke runs)")
    parser.add_argument("--compile", action="store_true", help="also time a torch.compile'd UNet (compiles first)")
    args = parser.parse_args()
    device = choose_device(args.device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    channels = TINY_CHANNELS if args.tiny else None
    seeds = tuple(range(args.count))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        kwargs = {"size": args.size} | ({"channels": channels} if channels else {})
        folder = breaks_256_folder(Path(tmp) / "breaks-256-shaped", **kwargs)
        model = load_model(folder, device=device, dtype=dtype)
        pipe = reference_pipeline(folder, device, dtype=dtype)
        batch = default_batch_size(model, args.count)
        time_ours(model, GenerationRequest(count=1, steps=2, seeds=(0,)))  # CUDA context, cuDNN plans
        time_ours(model, preset_request("standard", count=1, steps=2, seeds=(0,)))  # the fp16+NHWC plans too
        time_reference(pipe, device, count=1, steps=2, dtype=dtype)
        ref = time_reference(pipe, device, count=args.count, steps=args.steps, dtype=dtype)
        rows.append((f"diffusers AudioDiffusionPipeline, DDIM {args.steps}", *ref))
        equal = GenerationRequest(count=args.count, steps=args.steps, seeds=seeds)
        rows.append((f"ours, DDIM {args.steps} (equal work)", *time_ours(model, equal)))
        for name, preset in PRESETS.items():
            steps = min(preset.steps, args.steps) if args.steps < 50 else preset.steps  # smoke runs stay short
            request = preset_request(name, count=args.count, steps=steps, seeds=seeds)
            rows.append((f"ours, preset {name} ({preset.scheduler} {steps}, reuse {preset.reuse})", *time_ours(model, request)))
        if args.compile:
            start = time.perf_counter()
            model.unet.forward = torch.compile(model.unet.forward, mode="max-autotune-no-cudagraphs")
            time_ours(model, GenerationRequest(count=batch, steps=2, seeds=seeds[:batch]))
            print(f"torch.compile warm-up: {time.perf_counter() - start:.0f} s")
            rows.append((f"ours, DDIM {args.steps}, torch.compile", *time_ours(model, equal)))

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; load dtype {str(dtype).removeprefix('torch.')}; {args.count} candidates; our batch {batch}")
    print(f"UNet: breaks-256 block layout, random weights, {args.size}x{args.size}" + (" (tiny channels)" if channels else ""))
    print(f"{'':<52}{'wall s':>9}{'s/cand':>9}{'GPU GiB':>9}{'vs ref':>8}")
    ref_wall = rows[0][1]
    for label, wall, gib in rows:
        mem = f"{gib:.2f}" if gib is not None else "-"
        print(f"{label:<52}{wall:>9.2f}{wall / args.count:>9.3f}{mem:>9}{ref_wall / wall:>7.2f}x")


if __name__ == "__main__":
    main()
