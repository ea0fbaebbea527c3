"""DDIM on a breaks-256-shaped UNet (random weights): ours vs diffusers' AudioDiffusionPipeline.

A fair, equal-work comparison: both sides load the same folder in the same dtype (fp32 on the CPU,
fp16 on a GPU), run the same DDIM steps at the same batch from the same seed, and turn every image
into audio (theirs: librosa Griffin-Lim per image; ours: batched). Runs are interleaved, the order
alternating each round, so drift in machine load hits both sides alike; the median is reported.

Run: python benchmarks/sampling.py [--steps 50] [--batch 1] [--rounds 2] [--device auto] [--size 256]
(--size 64 with --steps 2 is a smoke run.)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

from _common import breaks_256_folder, breaks_256_unet, reference_pipeline, sync  # noqa: F401 (extend.py imports these)
from cratedigger.generate import GenerationRequest, generate
from cratedigger.model import choose_device, load_model


def run_reference(pipe, device, *, batch: int, steps: int, seed: int, dtype) -> float:
    shape = (batch, pipe.unet.config.in_channels, *pipe.unet.config.sample_size)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(device, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sync(device)
        start = time.perf_counter()
        pipe(batch_size=batch, steps=steps, noise=noise)  # its own noise would be fp32 only
        sync(device)
    return time.perf_counter() - start


def run_ours(model, device, *, batch: int, steps: int, seed: int) -> float:
    request = GenerationRequest(count=batch, steps=steps, seeds=tuple(range(seed, seed + batch)), batch_size=batch)
    sync(device)
    start = time.perf_counter()
    generate(model, request)
    sync(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=None, help="default: 1 on CPU, 16 on GPU")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (each runs both sides once)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--size", type=int, default=256, help="mel image side (256: breaks-256)")
    args = parser.parse_args()
    device = choose_device(args.device)
    batch = args.batch or (16 if device.type == "cuda" else 1)
    dtype = torch.float16 if device.type == "cuda" else torch.float32

    with tempfile.TemporaryDirectory() as tmp:
        folder = breaks_256_folder(Path(tmp) / "breaks-256-shaped", size=args.size)
        model = load_model(folder, device=device, dtype=dtype)
        pipe = reference_pipeline(folder, device, dtype=dtype)
        run_ours(model, device, batch=1, steps=2, seed=0)  # warm-up both: allocator, CUDA context, cuDNN plans
        run_reference(pipe, device, batch=1, steps=2, seed=0, dtype=dtype)
        ours, ref, mem = [], [], {"ours": 0.0, "ref": 0.0}
        for r in range(args.rounds):
            order = ("ours", "ref") if r % 2 == 0 else ("ref", "ours")
            for side in order:
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats()
                if side == "ours":
                    ours.append(run_ours(model, device, batch=batch, steps=args.steps, seed=0))
                else:
                    ref.append(run_reference(pipe, device, batch=batch, steps=args.steps, seed=0, dtype=dtype))
                if device.type == "cuda":
                    mem[side] = max(mem[side], torch.cuda.max_memory_allocated() / 2**30)

    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    dtype_name = str(dtype).removeprefix("torch.")
    print(f"device: {name}; {dtype_name} both sides; batch {batch}; {args.steps} DDIM steps; {args.rounds} interleaved rounds")
    print(f"UNet: breaks-256 architecture, random weights, {args.size}x{args.size}")
    print(f"{'':<36}{'median s':>10}{'clips/min':>12}{'GPU GiB':>10}")
    for label, times, key in (("diffusers AudioDiffusionPipeline", ref, "ref"), ("cratedigger generate", ours, "ours")):
        t = statistics.median(times)
        gib = f"{mem[key]:.2f}" if device.type == "cuda" else "-"
        print(f"{label:<36}{t:>10.1f}{batch / t * 60:>12.2f}{gib:>10}")
    print(f"throughput ratio (ours / reference): {statistics.median(ref) / statistics.median(ours):.2f}x")


if __name__ == "__main__":
    main()
