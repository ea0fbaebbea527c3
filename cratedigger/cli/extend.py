"""`cratedigger extend` and `cratedigger vary`: grow a loop by bars, or make variations of it."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from cratedigger.errors import AnalysisError, BadParameterError
from cratedigger.schedulers import SCHEDULER_NAMES


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "extend",
        help="extend a loop by whole bars (outpainting)",
        description=("Continue a loop bar by bar. The original audio is kept sample for sample except its last "
                     "10 ms, which crossfade into the new bars (a float source is written as float, so it stays exact)."),
    )
    p.add_argument("file", type=Path, help="the loop (should end on a downbeat, e.g. from `cratedigger slice`)")
    p.add_argument("--model", default=None, help="'starter' (built in), a hub id or a model folder (default: $CRATEDIGGER_MODEL, else breaks-256 if cached, else starter)")
    p.add_argument("--bars", type=int, required=True, help="how many bars to add")
    p.add_argument("--bpm", type=float, default=None, help="the loop's tempo (default: analysed)")
    p.add_argument("--beats-per-bar", type=int, default=None, help="default: analysed meter, else 4")
    _common(p)
    p.add_argument("--out", type=Path, required=True, help="output WAV")
    p.add_argument("--overwrite", action="store_true", help="replace --out when it exists")
    p.set_defaults(func=run_extend)

    v = subparsers.add_parser(
        "vary",
        help="make variations of a loop",
        description="Variations of a loop's first model slice: strength 0.1 stays close, 1.0 wanders far.",
    )
    v.add_argument("file", type=Path)
    v.add_argument("--model", default=None, help="'starter' (built in), a hub id or a model folder (default: $CRATEDIGGER_MODEL, else breaks-256 if cached, else starter)")
    v.add_argument("--count", type=int, default=4)
    v.add_argument("--strength", type=float, default=0.5, help="0 < strength <= 1 (default 0.5)")
    _common(v)
    v.add_argument("--out", type=Path, required=True, help="folder for the WAVs and JSON sidecars")
    v.add_argument("--overwrite", action="store_true", help="replace files of the same name (default: new names)")
    v.set_defaults(func=run_vary)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--scheduler", default="ddim", choices=SCHEDULER_NAMES)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default="auto")


def run_extend(args: argparse.Namespace) -> int:
    from cratedigger.audio.io import audio_info, check_writable_target, read_audio, write_audio_atomic
    from cratedigger.cli.generate import progress_bar
    from cratedigger.extend import extend_loop, fit_extension_pcm
    from cratedigger.model import load_model

    if args.out.suffix.lower() != ".wav":
        raise BadParameterError(f"--out must be a .wav file, got {args.out}")
    check_writable_target(args.out, overwrite=args.overwrite)  # before the model loads, not after it generated
    info = audio_info(args.file)
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
    model = load_model(args.model, device=args.device)
    bar, bar_step = progress_bar("extending")
    shown = [0]

    def on_step(done: int, total: int) -> None:
        bar_step(done, total)
        quarter = 4 * done // max(1, total)
        if bar.disable and quarter > shown[0]:  # a log or a pipe: a line at each quarter instead of a bar
            shown[0] = quarter
            print(f"cratedigger: extending: step {done}/{total}", file=sys.stderr, flush=True)

    try:
        result = extend_loop(
            model, audio, sample_rate=rate, bpm=bpm, bars_to_add=args.bars, beats_per_bar=beats_per_bar,
            seed=args.seed, steps=args.steps, scheduler=args.scheduler, on_step=on_step,
        )
    finally:
        bar.close()
    # Keep the source's resolution so its samples come back unchanged; a float source stays float
    # (nothing to clip). PCM above full scale is turned down, as export does, never clipped.
    bits = 32 if info.subtype in ("FLOAT", "DOUBLE") else 16 if info.subtype in ("PCM_16", "PCM_S8", "PCM_U8") else 24
    out_audio, gain = (result.audio, 1.0) if bits == 32 else fit_extension_pcm(result)
    write_audio_atomic(args.out, out_audio, sample_rate=rate, bits=bits, overwrite=args.overwrite)
    level = "" if gain == 1.0 else f"; turned down {-20 * math.log10(gain):.1f} dB to fit {bits}-bit PCM"
    print(f"{args.out}: +{result.bars_added} bars at {result.bpm:.2f} BPM, {result.audio.shape[0] / rate:.2f} s{level}")
    return 0


def run_vary(args: argparse.Namespace) -> int:
    import time

    from cratedigger.audio.io import audio_info, check_writable_target, read_audio
    from cratedigger.cli.generate import progress_bar, write_candidates
    from cratedigger.library.naming import sanitise_stem
    from cratedigger.model import load_model
    from cratedigger.seeds import seed_run
    from cratedigger.variations import make_variations, source_frames_needed

    check_writable_target(args.out, folder=True)  # before the model loads
    info = audio_info(args.file)
    seeds = None if args.seed is None else seed_run(args.seed, args.count, what="--seed")
    model = load_model(args.model, device=args.device)
    # Only the first model slice is varied: read just that much, however long the file is.
    audio, rate = read_audio(args.file, frames=min(info.frames, source_frames_needed(model, info.sample_rate)))
    bar, on_step = progress_bar("varying")
    written: list[Path] = []
    prefix = f"{sanitise_stem(args.file.stem, fallback='loop')}_var"
    started = time.perf_counter()

    def on_batch(candidates) -> None:
        for candidate in candidates:
            written.extend(write_candidates(args.out, [candidate], prefix=prefix, overwrite=args.overwrite))
            if bar.disable:  # a log or a pipe: one line per candidate instead of a redrawn bar
                print(f"cratedigger: variation {len(written)}/{args.count} written: {written[-1].name} "
                      f"({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)

    try:
        make_variations(
            model, audio, sample_rate=rate, count=args.count, strength=args.strength, seeds=seeds,
            steps=args.steps, scheduler=args.scheduler, on_step=on_step, on_batch=on_batch,
        )
    finally:
        bar.close()
        for path in written:  # also when stopped or failed: what is on disk
            print(path, flush=True)
    return 0
