"""`cratedigger extend` and `cratedigger vary`: grow a loop by bars, or make variations of it."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from cratedigger.errors import AnalysisError, BadParameterError
from cratedigger.schedulers import SCHEDULER_NAMES

GRID_SECONDS = 30.0  # how much of a source `vary` analyses for its tempo grid


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "extend",
        help="extend a loop by whole bars (outpainting)",
        description=("Continue a loop bar by bar. The original audio is kept sample for sample except its last "
                     "10 ms, which crossfade into the new bars (a float source is written as float, so it stays exact). "
                     "A JSON sidecar beside --out keeps its origin (\"extended\"), bars and how it was made."),
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
        description=("Variations of a loop's first model slice: strength 0.1 stays close, 1.0 wanders far. Each is "
                     "named after the loop ('<name>_var_1_140bpm_1bar.wav'), cut to whole bars on the loop's tempo "
                     "grid and written at its sample rate; when the model's window is shorter than one bar of the "
                     "loop, the window is written as is, named without a tempo."),
    )
    v.add_argument("file", type=Path)
    v.add_argument("--model", default=None, help="'starter' (built in), a hub id or a model folder (default: $CRATEDIGGER_MODEL, else breaks-256 if cached, else starter)")
    v.add_argument("--count", type=int, default=4)
    v.add_argument("--strength", type=float, default=0.5, help="0 < strength <= 1 (default 0.5)")
    v.add_argument("--bpm", type=float, default=None,
                   help="the loop's tempo, 4/4 from its first sample (default: analysed); variations are cut on it")
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
    from cratedigger.cli.loop_files import loop_sidecar, write_sidecar
    from cratedigger.extend import extend_loop, fit_extension_pcm
    from cratedigger.loop import extended_loop
    from cratedigger.model import load_model
    from cratedigger.variations import parent_name

    if args.out.suffix.lower() != ".wav":
        raise BadParameterError(f"--out must be a .wav file, got {args.out}")
    sidecar_path = args.out.with_suffix(".json")
    for target in (args.out, sidecar_path):  # before the model loads, not after it generated
        check_writable_target(target, overwrite=args.overwrite)
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
    # The loop as the app's Extend makes it: its origin, and its bars counted by the engine.
    loop = extended_loop(result, beats_per_bar=beats_per_bar, source_name=parent_name(args.file.stem),
                         model_info=model.info())
    wav = write_audio_atomic(args.out, out_audio, sample_rate=rate, bits=bits, overwrite=args.overwrite)
    sidecar = loop_sidecar(loop, {"source": str(args.file), "bars_added": result.bars_added})
    sidecar.update(file=wav.name, sample_rate=rate, duration=round(loop.duration, 6))
    write_sidecar(sidecar_path, sidecar, overwrite=args.overwrite)
    level = "" if gain == 1.0 else f"; turned down {-20 * math.log10(gain):.1f} dB to fit {bits}-bit PCM"
    print(f"{args.out}: +{result.bars_added} bars at {loop.bpm:.2f} BPM, {loop.bars} bars in all, "
          f"{loop.duration:.2f} s{level}")
    return 0


def run_vary(args: argparse.Namespace) -> int:
    import time

    from cratedigger.audio.io import audio_info, check_writable_target, read_audio
    from cratedigger.cli.generate import progress_bar
    from cratedigger.cli.loop_files import say_once, write_loop_files
    from cratedigger.loop import loop_from_candidate
    from cratedigger.model import load_model
    from cratedigger.seeds import seed_run
    from cratedigger.variations import (make_variations, parent_name, source_frames_needed, source_grid,
                                        variation_file_stem, variation_name)

    check_writable_target(args.out, folder=True)  # before the model loads
    info = audio_info(args.file)
    seeds = None if args.seed is None else seed_run(args.seed, args.count, what="--seed")
    model = load_model(args.model, device=args.device)
    # Only the first model slice is varied, but the loop's grid is read from up to GRID_SECONDS of it
    # (a window shorter than a bar holds no bar to find): never the whole of a long file.
    frames = max(source_frames_needed(model, info.sample_rate), int(GRID_SECONDS * info.sample_rate))
    audio, rate = read_audio(args.file, frames=min(info.frames, frames))
    parent = source_grid(audio, sample_rate=rate, name=parent_name(args.file.stem), bpm=args.bpm)
    about_model = model.info()
    bar, on_step = progress_bar("varying")
    written: list[Path] = []
    notes: set[str] = set()
    first = _first_free_variation(args.out, parent.name, overwrite=args.overwrite)
    started = time.perf_counter()

    def on_batch(candidates) -> None:
        for candidate in candidates:
            loop = loop_from_candidate(candidate, model_info=about_model, source=parent if parent.bpm else None)
            index = first + len(written)
            fields = {**candidate.params, "seed": candidate.seed, "name": variation_name(parent.name, index),
                      "parent_name": parent.name, "sample_rate": rate, "model_sample_rate": loop.sample_rate}
            path = write_loop_files(args.out, loop, stem=variation_file_stem(parent.name, index), rate=rate,
                                    fields=fields, overwrite=args.overwrite)
            written.append(path)
            say_once(loop.note, notes)  # said once, plainly, not per file
            if bar.disable:  # a log or a pipe: one line per candidate instead of a redrawn bar
                print(f"cratedigger: variation {len(written)}/{args.count} written: {path.name} "
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


def _first_free_variation(out: Path, parent: str, *, overwrite: bool) -> int:
    """Variations are numbered on per parent: after the highest "<parent>_var_N" already in `out`."""
    import re

    from cratedigger.variations import variation_file_stem

    if overwrite or not out.is_dir():
        return 1
    base = re.escape(variation_file_stem(parent, 0)[: -len("0")])
    taken = [int(m.group(1)) for p in out.iterdir() if (m := re.match(rf"{base}(\d+)(?:[_.-]|$)", p.name))]
    return max(taken, default=0) + 1
