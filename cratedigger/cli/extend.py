"""`cratedigger extend` and `cratedigger vary`: grow a loop by bars, or make variations of it."""

from __future__ import annotations

import argparse
from pathlib import Path

from cratedigger.errors import AnalysisError, BadParameterError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "extend",
        help="extend a loop by whole bars (outpainting)",
        description="Continue a loop bar by bar; the original audio is kept sample for sample.",
    )
    p.add_argument("file", type=Path, help="the loop (should end on a downbeat, e.g. from `cratedigger slice`)")
    p.add_argument("--model", required=True, help="hub id or model folder")
    p.add_argument("--bars", type=int, required=True, help="how many bars to add")
    p.add_argument("--bpm", type=float, default=None, help="the loop's tempo (default: analysed)")
    p.add_argument("--beats-per-bar", type=int, default=None, help="default: analysed meter, else 4")
    _common(p)
    p.add_argument("--out", type=Path, required=True, help="output WAV")
    p.set_defaults(func=run_extend)

    v = subparsers.add_parser(
        "vary",
        help="make variations of a loop",
        description="Variations of a loop's first model slice: strength 0.1 stays close, 1.0 wanders far.",
    )
    v.add_argument("file", type=Path)
    v.add_argument("--model", required=True, help="hub id or model folder")
    v.add_argument("--count", type=int, default=4)
    v.add_argument("--strength", type=float, default=0.5, help="0 < strength <= 1 (default 0.5)")
    _common(v)
    v.add_argument("--out", type=Path, required=True, help="folder for the WAVs and JSON sidecars")
    v.set_defaults(func=run_vary)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--scheduler", default="ddim", choices=["ddim", "ddpm", "dpm++"])
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default="auto")


def run_extend(args: argparse.Namespace) -> int:
    import soundfile as sf

    from cratedigger.audio.io import read_audio, write_audio_atomic
    from cratedigger.cli.generate import progress_bar
    from cratedigger.extend import extend_loop
    from cratedigger.model import load_model

    audio, rate = read_audio(args.file)
    bpm, beats_per_bar = args.bpm, args.beats_per_bar
    if bpm is None:  # a given tempo is trusted as it is, with 4/4 unless told otherwise
        from cratedigger.analysis import analyze

        analysis = analyze(audio, sample_rate=rate)
        if analysis.bpm is None:
            raise AnalysisError(f"{args.file}: no tempo found; pass --bpm")
        bpm = analysis.bpm
        beats_per_bar = beats_per_bar or analysis.beats_per_bar
    beats_per_bar = beats_per_bar or 4
    if args.out.suffix.lower() != ".wav":
        raise BadParameterError(f"--out must be a .wav file, got {args.out}")
    model = load_model(args.model, device=args.device)
    bar, on_step = progress_bar("extending")
    try:
        result = extend_loop(
            model, audio, sample_rate=rate, bpm=bpm, bars_to_add=args.bars, beats_per_bar=beats_per_bar,
            seed=args.seed, steps=args.steps, scheduler=args.scheduler, on_step=on_step,
        )
    finally:
        bar.close()
    # Keep the source's resolution so its samples come back unchanged.
    bits = 16 if sf.info(str(args.file)).subtype in ("PCM_16", "PCM_S8", "PCM_U8") else 24
    write_audio_atomic(args.out, result.audio, sample_rate=rate, bits=bits)
    print(f"{args.out}: +{result.bars_added} bars at {result.bpm:.2f} BPM, {result.audio.shape[0] / rate:.2f} s")
    return 0


def run_vary(args: argparse.Namespace) -> int:
    from cratedigger.audio.io import read_audio
    from cratedigger.cli.generate import progress_bar, write_candidates
    from cratedigger.model import load_model
    from cratedigger.variations import make_variations

    audio, rate = read_audio(args.file)
    if args.out.exists() and not args.out.is_dir():
        raise BadParameterError(f"--out {args.out} is a file, not a folder")
    seeds = None if args.seed is None else tuple(args.seed + i for i in range(max(args.count, 0)))
    model = load_model(args.model, device=args.device)
    bar, on_step = progress_bar("varying")
    written: list[Path] = []
    try:
        make_variations(
            model, audio, sample_rate=rate, count=args.count, strength=args.strength, seeds=seeds,
            steps=args.steps, scheduler=args.scheduler, on_step=on_step,
            on_batch=lambda cs: written.extend(write_candidates(args.out, cs, prefix=f"{args.file.stem}_var")),
        )
    finally:
        bar.close()
    for path in written:
        print(path)
    return 0
