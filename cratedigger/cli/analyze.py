"""`cratedigger analyze FILE... [--json]`: tempo, beats, downbeats and a suggested whole-bar loop.

Every file is tried; a bad one is reported (an object with "error" in --json mode, a line on stderr
otherwise) and the rest go on. "No tempo found" is an answer, not a failure (bpm is null).
A result the analysis is not sure of says so: "low_confidence": true and "unsure": ["tempo"] and/or
["beat 1"] in --json, a "?" after the BPM and what to check in the text line.
Exit status: 0 when every file was analysed, 1 when some could not be, 2 when none could.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cratedigger.analysis import BACKENDS, Analyzer
from cratedigger.errors import CrateDiggerError
from cratedigger.regrid import loop_meter
from cratedigger.slicing import suggest_loop

EXIT_SOME_FAILED = 1
EXIT_ALL_FAILED = 2


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="tempo, beats, downbeats and a suggested loop of audio files",
        description=__doc__.split("\n", 1)[1].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (any format libsndfile reads)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per file")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="madmom (default when installed) or librosa")
    p.add_argument("--bars", type=int, choices=(1, 2, 4, 8), default=8,
                   help="longest loop to suggest, in bars (the longest that fits is suggested)")
    p.set_defaults(func=run)


def analyze_file(path: str, analyzer: Analyzer, *, max_bars: int = 8) -> dict:
    """One file -> a JSON-ready dict; {"file", "error"} when it cannot be read or analysed."""
    try:
        result, info = analyzer.analyze_file(path)  # block by block: a 2-hour record fits in memory
    except CrateDiggerError as exc:
        return {"file": str(path), "error": str(exc)}
    result = loop_meter(result)  # bars and meter as the library, `slice` and the app count them
    sr = info.sample_rate
    loop = suggest_loop(result, sample_rate=sr, n_samples=info.frames, bars=max_bars) if result.found else None
    return {"file": str(path), "sample_rate": sr, "channels": info.channels, **result.to_dict(),
            "loop": loop.to_dict(sr) if loop else None}


def run(args) -> int:
    analyzer = Analyzer(backend=args.backend)
    reports = []
    for path in args.files:
        report = analyze_file(path, analyzer, max_bars=args.bars)
        reports.append(report)
        if not args.json:  # stream: long lists show progress file by file
            _print_line(report)
    if args.json:
        json.dump(reports, sys.stdout, indent=1)
        sys.stdout.write("\n")
    failed = sum("error" in r for r in reports)
    if failed == len(reports):
        return EXIT_ALL_FAILED
    return EXIT_SOME_FAILED if failed else 0


def _print_line(report: dict) -> None:
    name = Path(report["file"]).name
    if "error" in report:
        print(f"{name}: error: {report['error']}", file=sys.stderr, flush=True)
        return
    if report["bpm"] is None:
        print(f"{name}: no tempo found ({report['duration']:.2f} s)", flush=True)
        return
    loop = report["loop"]
    where = (f"loop {loop['bars']} bar{'s' if loop['bars'] > 1 else ''} from {loop['start_s']:.3f} s"
             if loop else "no whole bar fits")
    unsure = report.get("unsure") or []
    # say what to check, in the words of the app's one-gesture fixes
    hint = "".join(f"; unsure of the {what} ({UNSURE_HINTS[what]})" for what in unsure if what in UNSURE_HINTS)
    print(f"{name}: {report['bpm']:.2f} BPM{' ?' if unsure else ''}, {report['beats_per_bar']} beats/bar, "
          f"{len(report['beats'])} beats, {where}, confidence {report['confidence']:.2f}{hint}", flush=True)


UNSURE_HINTS = {"tempo": "it may be half or double", "beat 1": "beat 1 may be another beat of the bar"}
