"""`cratedigger generate`: candidates from a model, one WAV and one JSON sidecar each (with --cut, each
cut to whole bars as the app's Fresh tray cuts it)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cratedigger.presets import DEFAULT_PRESET, PRESETS
from cratedigger.schedulers import SCHEDULERS

def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate",
        help="generate candidate breaks with a model",
        description=(
            "Generate candidates: 16-bit WAVs at the model's rate (peak-normalised) plus JSON sidecars. "
            "A preset sets scheduler, steps, precision and feature reuse; --steps / --scheduler override it."
        ),
    )
    p.add_argument("--model", default=None, help="'starter' (built in), a hub id or a model folder (default: $CRATEDIGGER_MODEL, else breaks-256 if cached, else starter)")
    presets = "; ".join(f"{p.name}: {p.about}" for p in PRESETS.values())
    p.add_argument("--preset", default=DEFAULT_PRESET, help=f"{presets} (default {DEFAULT_PRESET})")
    p.add_argument("--count", type=int, default=1, help="how many candidates (default 1)")
    p.add_argument("--steps", type=int, default=None, help="denoising steps (default: the preset's)")
    p.add_argument("--scheduler", default=None, help=f"{', '.join(SCHEDULERS)} (default: the preset's)")
    p.add_argument("--seed", type=int, default=None, help="seed of the first candidate; the others follow it (+1 each)")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM eta: 0 deterministic, 1 like DDPM")
    p.add_argument("--batch-size", type=int, default=None, help="default: 1 on a CPU, sized to memory on a GPU")
    p.add_argument("--backend", default="torch", help="torch (default) or openvino (pip install -e .[openvino]; CPU, full steps only, so with --preset best; the first run converts the model, about a minute, then it is cached)")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps")
    p.add_argument("--offline", action="store_true", help="use only the Hugging Face cache")
    p.add_argument("--out", required=True, type=Path, help="folder for the WAVs and JSON sidecars")
    p.add_argument(
        "--overwrite", action="store_true", help="replace files of the same name (default: new names, never overwrite)"
    )
    p.add_argument(
        "--cut", action="store_true",
        help=("cut each candidate to its longest whole-bar loop, as the app's Fresh tray does: whole bars get their "
              "tempo and bars in the name ('break_000_seed7_93bpm_2bar.wav') and acid/smpl chunks; a candidate "
              "without whole bars is written as generated, the reason in its sidecar"),
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cratedigger.audio.io import check_writable_target
    from cratedigger.generate import generate
    from cratedigger.model import load_model
    from cratedigger.presets import preset_request

    from cratedigger.seeds import seed_run

    seeds = None if args.seed is None else seed_run(args.seed, args.count, what="--seed")
    request = preset_request(
        args.preset, count=args.count, steps=args.steps, scheduler=args.scheduler, seeds=seeds, eta=args.eta,
        batch_size=args.batch_size, backend=args.backend,
    )
    check_writable_target(args.out, folder=True)  # before minutes of model loading, not after
    model = load_model(args.model, device=args.device, offline=True if args.offline else None)
    bar, on_step = progress_bar("generating")
    written: list[Path] = []
    started = time.perf_counter()

    write = loop_writer(args.out, model, overwrite=args.overwrite) if args.cut else None

    def on_batch(candidates) -> None:
        for candidate in candidates:
            if write is not None:
                written.append(write(candidate))
            else:
                written.extend(write_candidates(args.out, [candidate], prefix="break", overwrite=args.overwrite))
            if bar.disable:  # a log or a pipe: one line per candidate instead of a redrawn bar
                print(
                    f"cratedigger: candidate {len(written)}/{request.count} written: {written[-1].name} "
                    f"({time.perf_counter() - started:.1f} s)",
                    file=sys.stderr, flush=True,
                )

    try:
        generate(model, request, on_batch=on_batch, on_step=on_step,
                 on_stage=lambda text: print(f"cratedigger: {text}", file=sys.stderr, flush=True))
    finally:
        bar.close()
        for path in written:  # also when stopped or failed: what is on disk
            print(path, flush=True)
    return 0


def loop_writer(out: Path, model, *, overwrite: bool):
    """write(candidate) -> WAV path: the candidate cut as the app's Fresh tray cuts it
    (loop.loop_from_candidate with the same model info), written by cli.loop_files."""
    from cratedigger.cli.loop_files import say_once, write_loop_files
    from cratedigger.loop import loop_from_candidate

    about_model = model.info()
    said: set[str] = set()

    def write(candidate) -> Path:
        loop = loop_from_candidate(candidate, model_info=about_model)
        say_once(loop.note, said)
        return write_loop_files(out, loop, stem=f"break_{candidate.index:03d}_seed{candidate.seed}",
                                fields=candidate.params, overwrite=overwrite)

    return write


def progress_bar(label: str):
    """A tqdm bar on a terminal (disabled otherwise) and the on_step(done, total) callback that drives it."""
    from tqdm import tqdm

    bar = tqdm(total=None, unit="step", disable=not sys.stderr.isatty(), desc=label)

    def on_step(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, on_step


def write_candidates(out: Path, candidates, *, prefix: str, overwrite: bool = False) -> list[Path]:
    """One 16-bit WAV (peak-normalised audio as generated) and one JSON sidecar per candidate. Names
    that are taken get a -2, -3... suffix unless `overwrite`."""
    from cratedigger.audio.io import write_audio_atomic
    from cratedigger.cli.loop_files import unique_stem, write_sidecar

    paths = []
    for candidate in candidates:
        stem = f"{prefix}_{candidate.index:03d}_seed{candidate.seed}"
        if not overwrite:
            stem = unique_stem(out, stem, (".wav", ".json"))
        wav = write_audio_atomic(
            out / f"{stem}.wav", candidate.audio, sample_rate=candidate.sample_rate, bits=16, overwrite=overwrite
        )
        sidecar = {**candidate.params, "file": wav.name, "duration": candidate.duration}
        write_sidecar(out / f"{stem}.json", sidecar, overwrite=overwrite)
        paths.append(wav)
    return paths
