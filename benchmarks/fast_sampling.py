"""Fast sampling: seconds per breaks-256 candidate, and quality on trained weights, per setting.

Part 1, speed (always): a breaks-256-shaped UNet with random weights on this machine. A UNet step
costs the same whatever the solver (scheduler overhead is measured too: milliseconds), so each
precision is timed per *step* — a full forward and a feature-reuse (shallow) forward, `--reps`
forwards each, interleaved across precisions — plus the fixed cost of one candidate (noise, decode,
mel inversion). Seconds per candidate for a setting are then extrapolated:

    fixed + full_steps * full + reused_steps * reused + steps * scheduler_overhead

with full_steps = ceil(steps / k) for reuse interval k. `--check NAME` also runs that preset end to
end once, to check the extrapolation against a real run.

Part 2, quality (--model FOLDER, a trained model): for each setting, candidates from the same seeds
as a many-step DDIM reference (full precision, `--ref-steps`, 200 by default), and
- LSD, the log-spectral distance on the mel images in dB: the image maps [0, 255] to
  [-top_db, 0] dB, and LSD = mean over frames of sqrt(mean over mel bins of (dB_a - dB_ref)^2),
  averaged over seeds (dB; 0 = identical, lower is closer);
- tempo share: the share of candidates in which cratedigger.analysis finds a tempo.

Run (nice it on a shared machine):
    python benchmarks/fast_sampling.py                       # speed table, breaks-256 shape
    python benchmarks/fast_sampling.py --size 64 --reps 1    # smoke run
    python benchmarks/fast_sampling.py --skip-speed --model /work/starter/current --seeds 8 --ref-steps 100
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _common import breaks_256_folder
from cratedigger.feature_reuse import ReuseForward
from cratedigger.generate import _noise, decode_images, denoise, generate, make_scheduler, unet_for
from cratedigger.mel import image_to_audio
from cratedigger.model import load_model
from cratedigger.model.device import Precision, cpu_supports_bf16
from cratedigger.presets import PRESETS, preset_request

PRECISIONS = {
    "fp32": Precision(torch.float32),
    "fp32+cl": Precision(torch.float32, channels_last=True),
    "bf16+cl": Precision(torch.bfloat16, channels_last=True),
}
SPEED_SETTINGS = [  # (solver, steps, reuse interval)
    ("ddim", 50, 1), ("ddim", 25, 1), ("ddim", 10, 1), ("ddim", 20, 1),
    ("ddim", 25, 2), ("ddim", 30, 2), ("ddim", 30, 3), ("ddim", 40, 3),
    ("dpm++", 15, 1), ("dpm++", 10, 1), ("dpm++", 8, 1), ("dpm++", 6, 1), ("dpm++", 6, 2),
    ("dpm++3", 15, 1), ("dpm++3", 10, 1), ("dpm++3", 10, 2), ("dpm++3", 8, 1), ("dpm++3", 8, 2),
    ("unipc", 10, 1), ("unipc", 8, 1), ("unipc", 8, 2), ("unipc", 6, 1),
]
QUALITY_SETTINGS = [  # (solver, steps, precision, reuse)
    ("ddim", 25, "fp32", 1), ("ddim", 10, "fp32", 1), ("ddim", 20, "fp32", 1),
    ("ddim", 25, "fp32", 2), ("ddim", 30, "fp32", 2), ("ddim", 30, "fp32", 3), ("ddim", 40, "fp32", 3),
    ("dpm++", 10, "fp32", 1), ("dpm++", 6, "fp32", 1), ("dpm++", 6, "fp32", 2),
    ("dpm++3", 10, "fp32", 1), ("dpm++3", 8, "fp32", 1), ("dpm++3", 10, "fp32", 2), ("dpm++3", 8, "fp32", 2),
    ("dpm++3", 6, "fp32", 2), ("dpm++3", 6, "fp32", 1),
    ("unipc", 10, "fp32", 1), ("unipc", 8, "fp32", 1),
    ("dpm++3", 8, "bf16+cl", 1),  # standard on a native-bf16 CPU (emulated, slow, where there is none)
]


# -- speed -----------------------------------------------------------------------------------------


def time_forwards(model, precisions: dict, reps: int) -> dict:
    """{name: (full s, reused s)} per UNet forward at batch 1, interleaved across precisions."""
    x = torch.randn((1, *model.sample_shape))
    t = torch.tensor(500)
    runners = {}
    for name, p in precisions.items():
        layout = torch.channels_last if p.channels_last else torch.contiguous_format
        xin = x.to(p.dtype).contiguous(memory_format=layout)
        fwd = ReuseForward(unet_for(model, p), 2)
        with torch.inference_mode():
            fwd(xin, t), fwd(xin, t)  # warm-up: one full, one reused
        runners[name] = (fwd, xin)
    times = {name: ([], []) for name in precisions}
    with torch.inference_mode():
        for _ in range(reps):
            for name, (fwd, xin) in runners.items():
                for kind in (0, 1):  # step 2k is full, 2k+1 reuses it
                    start = time.perf_counter()
                    fwd(xin, t)
                    times[name][kind].append(time.perf_counter() - start)
    return {name: (min(full), min(reused)) for name, (full, reused) in times.items()}


def time_fixed(model) -> float:
    """Seconds of one candidate outside the UNet: noise, decode to uint8, mel inversion."""
    g = [torch.Generator().manual_seed(0)]
    best = math.inf
    for _ in range(2):
        start = time.perf_counter()
        sample = _noise(model, g)
        images = decode_images(model, sample.clamp(-1, 1))
        image_to_audio(images, model.mel)
        best = min(best, time.perf_counter() - start)
    return best


def time_scheduler(model, name: str, steps: int = 20) -> float:
    """Seconds of scheduler work per step (set_timesteps, scale_model_input, step), no UNet."""
    sched = make_scheduler(model, name)
    sched.set_timesteps(steps)
    sample = torch.randn((1, *model.sample_shape))
    start = time.perf_counter()
    for t in sched.timesteps:
        x = sched.scale_model_input(sample, t)
        sample = sched.step(x * 0.1, t, sample).prev_sample
    return (time.perf_counter() - start) / steps


def speed_part(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = breaks_256_folder(Path(tmp) / "breaks-256-shaped", size=args.size)
        model = load_model(folder, device="cpu")
        fixed = time_fixed(model)
        sched = {name: time_scheduler(model, name) for name in ("ddim", "dpm++", "dpm++3", "unipc")}
        per_step = time_forwards(model, PRECISIONS, args.reps)
        check = None
        if args.check:
            request = preset_request(args.check, count=1, seeds=(0,))
            start = time.perf_counter()
            generate(model, request)
            check = (args.check, time.perf_counter() - start)
    native = cpu_supports_bf16()
    print(f"\n== speed: breaks-256 UNet shape at {args.size}x{args.size}, random weights, CPU {torch.get_num_threads()} threads, batch 1")
    print(f"native bf16 on this CPU: {native}" + ("" if native else " (bf16 is emulated here; the app uses fp32)"))
    print(f"per UNet forward, min of {args.reps} interleaved (full / reused shallow path):")
    for name, (full, reused) in per_step.items():
        print(f"  {name:<9} full {full:6.2f} s   reused {reused:6.2f} s ({reused / full:.2f} of full)")
    print(f"fixed per candidate (noise, decode, mel inversion): {fixed:.2f} s")
    print("scheduler overhead per step: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in sched.items()))
    print("seconds per candidate, extrapolated from the per-step times above:")
    base = candidate_seconds(per_step["fp32"], fixed, sched["ddim"], 50, 1)
    print(f"  {'solver':<8}{'steps':>6}{'reuse':>6}" + "".join(f"{p:>18}" for p in PRECISIONS))
    for solver, steps, k in SPEED_SETTINGS:
        cells = []
        for name in PRECISIONS:
            secs = candidate_seconds(per_step[name], fixed, sched[solver], steps, k)
            cells.append(f"{secs:8.1f} s {base / secs:5.1f}x")
        print(f"  {solver:<8}{steps:>6}{k:>6}" + "".join(f"{c:>18}" for c in cells))
    print("  (ratio: vs 50-step fp32 DDIM in this run)")
    if check:
        name, secs = check
        p = PRESETS[name]
        print(f"end to end, preset {name} ({p.scheduler} {p.steps} steps, {p.precision}, reuse {p.reuse}): {secs:.1f} s")
    return per_step


def candidate_seconds(step: tuple[float, float], fixed: float, sched: float, steps: int, k: int) -> float:
    full_steps = math.ceil(steps / k)
    return fixed + full_steps * step[0] + (steps - full_steps) * step[1] + steps * sched


# -- quality ---------------------------------------------------------------------------------------


def lsd_db(a: np.ndarray, b: np.ndarray, top_db: float) -> float:
    """Log-spectral distance in dB between uint8 mel images [y_res, x_res] (see the module doc)."""
    da = a.astype(np.float64) / 255.0 * top_db
    db = b.astype(np.float64) / 255.0 * top_db
    return float(np.mean(np.sqrt(np.mean((da - db) ** 2, axis=0))))


def sample_images(model, seeds, solver: str, steps: int, precision: Precision, reuse: int) -> np.ndarray:
    images = []
    for seed in seeds:
        g = [torch.Generator().manual_seed(seed)]
        sample = denoise(model, noise=_noise(model, g), scheduler=solver, steps=steps, generators=g, precision=precision, reuse=reuse)
        images.append(decode_images(model, sample).cpu().numpy()[0])
    return np.stack(images)


def tempo_share(model, images: np.ndarray) -> float:
    from cratedigger.analysis import analyze

    from cratedigger.errors import AnalysisError

    found = []
    for a in image_to_audio(images, model.mel):
        try:
            found.append(analyze(a, sample_rate=model.mel.sample_rate).found)
        except AnalysisError:  # too short or silent: no tempo found
            found.append(False)
    return sum(found) / len(found)


def _parse_setting(text: str) -> tuple[str, int, str, int]:
    solver, steps, prec, k = text.split(":")
    if prec not in PRECISIONS:
        raise SystemExit(f"unknown precision {prec!r} (choose from {', '.join(PRECISIONS)})")
    return solver, int(steps), prec, int(k)


def quality_part(args) -> None:
    model = load_model(args.model, device="cpu")
    seeds = list(range(1000, 1000 + args.seeds))
    print(f"\n== quality: {args.model}, {len(seeds)} seeds, reference DDIM {args.ref_steps} steps fp32")
    start = time.perf_counter()
    ref = sample_images(model, seeds, "ddim", args.ref_steps, PRECISIONS["fp32"], 1)
    print(f"reference: {time.perf_counter() - start:.0f} s; tempo share {tempo_share(model, ref):.2f}", flush=True)
    top_db = float(model.mel.top_db)
    print(f"  {'solver':<8}{'steps':>6}{'precision':>10}{'reuse':>6}{'LSD dB':>9}{'(sd)':>7}{'tempo':>7}{'s/cand':>8}")
    settings = [_parse_setting(s) for s in args.settings] if args.settings else QUALITY_SETTINGS
    for solver, steps, prec, k in settings:
        start = time.perf_counter()
        images = sample_images(model, seeds, solver, steps, PRECISIONS[prec], k)
        secs = (time.perf_counter() - start) / len(seeds)
        d = [lsd_db(a, b, top_db) for a, b in zip(images, ref)]
        share = tempo_share(model, images)
        print(f"  {solver:<8}{steps:>6}{prec:>10}{k:>6}{statistics.mean(d):>9.2f}{statistics.pstdev(d):>7.2f}{share:>7.2f}{secs:>8.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="mel image side for the speed part (256: breaks-256)")
    parser.add_argument("--reps", type=int, default=2, help="timed forwards per precision and kind")
    parser.add_argument("--check", choices=tuple(PRESETS), help="also run this preset end to end once")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--model", help="trained model folder for the quality part")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--ref-steps", type=int, default=200)
    parser.add_argument("--settings", nargs="*", help="quality settings to run, as solver:steps:precision:reuse")
    args = parser.parse_args()
    if not args.skip_speed:
        speed_part(args)
    if args.model:
        quality_part(args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
