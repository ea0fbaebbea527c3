"""`cratedigger generate`: candidates from a model, one WAV and one JSON sidecar each."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cratedigger.errors import BadParameterError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate",
        help="generate candidate breaks with a model",
        description="Generate candidates: 16-bit WAVs at the model's rate (peak-normalised) plus JSON sidecars.",
    )
    p.add_argument("--model", required=True, help="hub id (e.g. teticio/audio-diffusion-breaks-256) or model folder")
    p.add_argument("--count", type=int, default=1, help="how many candidates (default 1)")
    p.add_argument("--steps", type=int, default=None, help="denoising steps (default: 50 ddim, 20 dpm++, model's own for ddpm)")
    p.add_argument("--scheduler", default="ddim", choices=["ddim", "ddpm", "dpm++"])
    p.add_argument("--seed", type=int, default=None, help="seed of the first candidate; the others follow it (+1 each)")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM eta: 0 deterministic, 1 like DDPM")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps")
    p.add_argument("--offline", action="store_true", help="use only the Hugging Face cache")
    p.add_argument("--out", required=True, type=Path, help="folder for the WAVs and JSON sidecars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cratedigger.generate import GenerationRequest, generate
    from cratedigger.model import load_model

    seeds = None
    if args.seed is not None:
        if args.seed < 0:
            raise BadParameterError(f"--seed must be >= 0, got {args.seed}")
        seeds = tuple(args.seed + i for i in range(max(args.count, 0)))
    request = GenerationRequest(
        count=args.count, steps=args.steps, scheduler=args.scheduler, seeds=seeds, eta=args.eta, batch_size=args.batch_size
    )
    if args.out.exists() and not args.out.is_dir():
        raise BadParameterError(f"--out {args.out} is a file, not a folder")
    model = load_model(args.model, device=args.device, offline=True if args.offline else None)
    bar, on_step = progress_bar("generating")

    written: list[Path] = []

    def on_batch(candidates) -> None:
        written.extend(write_candidates(args.out, candidates, prefix="break"))

    try:
        generate(model, request, on_batch=on_batch, on_step=on_step)
    finally:
        bar.close()
    for path in written:
        print(path)
    return 0


def progress_bar(label: str):
    """A tqdm bar on a terminal (silent otherwise) and the on_step(done, total) callback that drives it."""
    from tqdm import tqdm

    bar = tqdm(total=None, unit="step", disable=not sys.stderr.isatty(), desc=label)

    def on_step(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, on_step


def write_candidates(out: Path, candidates, *, prefix: str) -> list[Path]:
    """One 16-bit WAV (peak-normalised audio as generated) and one JSON sidecar per candidate."""
    from cratedigger.audio.io import write_audio_atomic, write_bytes_atomic

    paths = []
    for candidate in candidates:
        stem = f"{prefix}_{candidate.index:03d}_seed{candidate.seed}"
        wav = write_audio_atomic(out / f"{stem}.wav", candidate.audio, sample_rate=candidate.sample_rate, bits=16)
        sidecar = {**candidate.params, "file": wav.name, "duration": candidate.duration}
        write_bytes_atomic(out / f"{stem}.json", (json.dumps(sidecar, indent=2) + "\n").encode())
        paths.append(wav)
    return paths
