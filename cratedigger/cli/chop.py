"""`cratedigger chop FILE --out DIR [--bpm N]`: cut a loop into its hits and write a kit.

The kit is a folder DIR/{name}_{bpm}bpm_kit/ holding hits/*.wav, a .mid that replays the loop from
them (at --bpm, else the loop's own tempo), a .sfz and a Decent Sampler .dspreset. It is written
whole or not at all; a loop with no hits writes nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

from cratedigger.errors import AnalysisError, BadParameterError

_EXPORT_SUFFIX = re.compile(r"(?:[_-]\d+bpm)?(?:_\d+bar)?$", re.IGNORECASE)


def _unit(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadParameterError(f"--sensitivity must be a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise BadParameterError(f"--sensitivity must be a number from 0 to 1, got {text!r}")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser("chop", help="chop a loop into hits: WAVs, MIDI, SFZ and Decent Sampler kit",
                              description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder the kit folder is made in")
    p.add_argument("--bpm", type=float, default=None, metavar="N", help="tempo of the MIDI file (default: the loop's)")
    p.add_argument("--source-bpm", type=float, default=None, metavar="N",
                   help="the loop's own tempo when known (default: analysed; the grid then starts on its first downbeat)")
    p.add_argument("--sensitivity", type=str, default="0.5", metavar="S",
                   help="0-1: higher finds quieter hits (default 0.5)")
    p.add_argument("--name", default=None, help="kit name (default: the file's name)")
    p.set_defaults(func=run)


def run(args) -> int:
    from cratedigger.audio.io import read_audio
    from cratedigger.chop import chop_loop, write_kit

    sensitivity = _unit(args.sensitivity)
    if args.bpm is not None and not 1 <= args.bpm <= 999:
        raise BadParameterError(f"--bpm must be 1-999, got {args.bpm:g}")
    audio, sr = read_audio(args.file)
    if args.source_bpm is not None:
        bpm, origin = float(args.source_bpm), 0.0
    else:
        from cratedigger.analysis import analyze

        analysis = analyze(audio, sample_rate=sr)
        if analysis.bpm is None:
            raise AnalysisError(f"{args.file}: no tempo found, so there is no grid to chop on; pass --source-bpm")
        bpm = float(analysis.bpm)
        grid = analysis.downbeats or analysis.beats
        origin = float(grid[0]) if grid else 0.0
    try:
        chopped = chop_loop(audio, sample_rate=sr, bpm=bpm, origin=origin, sensitivity=sensitivity)
    except AnalysisError as exc:
        raise AnalysisError(f"{args.file}: {exc}") from None
    name = args.name or _EXPORT_SUFFIX.sub("", args.file.stem) or args.file.stem
    kit = write_kit(chopped, args.out, name=name, bpm=args.bpm)
    print(f"{kit.folder}: {len(kit.hits)} hits from a {bpm:.2f} BPM loop, MIDI at {kit.bpm:g} BPM "
          f"({kit.midi.name}, {kit.sfz.name}, {kit.dspreset.name})")
    return 0
