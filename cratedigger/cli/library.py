"""`cratedigger library`: the sample library from the command line.

    cratedigger library [--root DIR] add FILE... [--tags t1,t2]
    cratedigger library list [--tag T]... [--any] [--bpm 80-100] [--text W] [--json] ...
    cratedigger library tag ID T... | untag ID T... | rate ID N | trash ID... | restore ID... | purge [ID...]
    cratedigger library export ID... --to DIR [--rate 44100] [--bits 24] [--bpm 90 [--fit stretch|repitch]]
    cratedigger library similar ID [--limit N] [--json]
    cratedigger library recut ID --bpm N [--first-downbeat S] [--bars N]
    cratedigger library check [--repair] [--deep] [--rebuild]

The folder is --root, else $CRATEDIGGER_LIBRARY, else the platform's user data folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cratedigger.errors import BadParameterError

EXIT_CHECK_FAILED = 1
EXIT_SOME_FAILED = 2  # same as the CLI's error exit: something the user asked for did not happen


def _bpm_range(text: str) -> tuple[float | None, float | None]:
    """'80-100', '80-', '-100' or '90' (exactly 90 +-0.5)."""
    try:
        if "-" not in text:
            value = float(text)
            return value - 0.5, value + 0.5
        low, high = text.split("-", 1)
        lo = float(low) if low.strip() else None
        hi = float(high) if high.strip() else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"BPM range must look like 80-100, got {text!r}") from None
    if lo is None and hi is None:
        raise argparse.ArgumentTypeError(f"BPM range must look like 80-100, got {text!r}")
    return lo, hi


def _tag_list(text: str) -> list[str]:
    return [t for t in (part.strip() for part in text.split(",")) if t]


def _sample_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"sample ID must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"sample ID must be >= 1, got {value}")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "library",
        help="the sample library: add, list, tag, rate, export, recut, check",
        description="Manage the sample library (a folder holding library.db and the audio).",
    )
    root_help = "library folder (default: $CRATEDIGGER_LIBRARY, else the user data folder)"
    p.add_argument("--root", type=Path, default=None, help=root_help)
    sub = p.add_subparsers(dest="library_command", metavar="ACTION", required=True)

    def action(name: str, help_: str, func) -> argparse.ArgumentParser:
        ap = sub.add_parser(name, help=help_, description=help_)
        # --root is accepted after the action too; SUPPRESS keeps it from hiding the earlier one.
        ap.add_argument("--root", type=Path, default=argparse.SUPPRESS, help=root_help)
        ap.set_defaults(func=func)
        return ap

    ap = action("add", "import audio files (WAV, FLAC, AIFF, OGG, MP3...), analysed on the way in", _add)
    ap.add_argument("files", nargs="+", type=Path, metavar="FILE")
    ap.add_argument("--tags", type=_tag_list, default=[], help="comma-separated tags, e.g. dusty,half-time")

    ap = action("list", "list samples, newest first", _list)
    ap.add_argument("--tag", action="append", default=[], help="only samples with this tag (repeat: all of them)")
    ap.add_argument("--any", action="store_true", help="with several --tag: any of them instead of all")
    ap.add_argument("--bpm", type=_bpm_range, default=None, help="BPM range, e.g. 80-100, 170-, -90")
    ap.add_argument("--text", default=None, help="words in the name, notes or tags")
    ap.add_argument("--bars", type=int, action="append", default=[], help="only loops of this many bars (repeatable)")
    ap.add_argument("--min-rating", type=int, default=None, help="only samples rated at least this (0-5)")
    ap.add_argument("--favourite", action="store_true", help="only favourites")
    ap.add_argument("--source", action="append", default=[], help="generated, variation, extended, sliced, imported")
    ap.add_argument("--trash", action="store_true", help="list the trash instead")
    ap.add_argument("--sort", default="created", help="created, name, bpm, bars, rating, duration, id")
    ap.add_argument("--asc", action="store_true", help="ascending order (default: descending)")
    ap.add_argument("--limit", type=int, default=None, help="at most this many (default: all)")
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="a JSON list of objects instead of a table")

    ap = action("tag", "add tags to a sample", _tag)
    ap.add_argument("id", type=_sample_id)
    ap.add_argument("tags", nargs="+", metavar="T")

    ap = action("untag", "remove tags from a sample", _untag)
    ap.add_argument("id", type=_sample_id)
    ap.add_argument("tags", nargs="+", metavar="T")

    ap = action("rate", "rate a sample 0-5", _rate)
    ap.add_argument("id", type=_sample_id)
    ap.add_argument("rating", type=int, metavar="N")

    ap = action("export", "export samples as whole-bar WAV loops with tempo and loop chunks", _export)
    ap.add_argument("ids", nargs="+", type=_sample_id, metavar="ID")
    ap.add_argument("--to", required=True, type=Path, metavar="DIR", help="destination folder (created if needed)")
    ap.add_argument("--rate", type=int, default=None, help="44100 or 48000 (default: the sample's own rate)")
    ap.add_argument("--bits", type=int, default=16, help="16 or 24 (default 16)")
    ap.add_argument("--bpm", type=float, default=None, metavar="N",
                    help="export at this project tempo (whole bars at N BPM; 0.5x-2x of the loop's tempo)")
    ap.add_argument("--fit", choices=("stretch", "repitch"), default="stretch",
                    help="with --bpm: stretch keeps the pitch (default), repitch changes speed and pitch like a sampler")

    ap = action("trash", "move samples to the trash", _trash)
    ap.add_argument("ids", nargs="+", type=_sample_id, metavar="ID")
    ap = action("restore", "bring samples back from the trash", _restore)
    ap.add_argument("ids", nargs="+", type=_sample_id, metavar="ID")
    ap = action("purge", "delete trashed samples for good (all of the trash without IDs)", _purge)
    ap.add_argument("ids", nargs="*", type=_sample_id, metavar="ID")

    ap = action("similar", "samples most like this one: rhythm, timbre and tempo (see cratedigger.similarity)", _similar)
    ap.add_argument("id", type=_sample_id)
    ap.add_argument("--limit", type=int, default=10, metavar="N", help="at most N samples (default 10)")
    ap.add_argument("--json", action="store_true", help="a JSON list of {id, distance, ...}, nearest first")

    ap = action("recut", "cut a loop again on a tempo and beat 1 you set, kept as a new sample derived from it "
                         "(the original is unchanged)", _recut)
    ap.add_argument("id", type=_sample_id)
    ap.add_argument("--bpm", type=float, required=True, metavar="N", help="the loop's tempo as you hear it")
    ap.add_argument("--first-downbeat", type=float, default=0.0, metavar="S",
                    help="where beat 1 falls, in seconds from the start (default 0)")
    ap.add_argument("--bars", type=int, default=8, metavar="N", help="at most this many bars: 1, 2, 4 or 8 (default 8)")

    ap = action("check", "find rows without files and files without rows (exit status 1 when any)", _check)
    ap.add_argument("--repair", action="store_true", help="fix what was found (nothing is deleted that holds audio)")
    ap.add_argument("--deep", action="store_true", help="also compare every file's audio with its stored hash (slow)")
    ap.add_argument("--rebuild", action="store_true",
                    help="a damaged library.db: set it aside, restore the newest sound backup, re-add the audio files")


def _open(args: argparse.Namespace):
    from cratedigger.library import Library

    return Library.open(args.root)


def _add(args: argparse.Namespace) -> int:
    from cratedigger.errors import CrateDiggerError

    failed = 0
    with _open(args) as lib:
        for path in args.files:
            try:
                result = lib.import_file_detailed(path, tags=args.tags)
            except CrateDiggerError as exc:  # one bad file (or name, or write) does not stop the batch
                print(f"cratedigger: error: {exc}", file=sys.stderr, flush=True)
                failed += 1
                continue
            s = result.sample
            note = "already in the library as" if result.duplicate else "added"
            print(f"{note} {s.id}: {s.name}  {_bpm_text(s.bpm)}  {_bars_text(s.bars)}  [{', '.join(s.tags)}]", flush=True)
    return EXIT_SOME_FAILED if failed else 0


def _list(args: argparse.Namespace) -> int:
    from cratedigger.library import SampleQuery

    bpm_min, bpm_max = args.bpm if args.bpm else (None, None)
    query = SampleQuery(
        text=args.text, tags=tuple(args.tag), tag_mode="any" if args.any else "all", bpm_min=bpm_min, bpm_max=bpm_max,
        bars=tuple(args.bars), rating_min=args.min_rating, favourite=True if args.favourite else None,
        sources=tuple(args.source), trashed=args.trash, sort=args.sort, descending=not args.asc,
        limit=args.limit, offset=args.offset,
    )
    with _open(args) as lib:
        samples = lib.query(query)
    if args.json:
        json.dump([s.to_dict() for s in samples], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    for s in samples:
        stars = "*" * s.rating + "." * (5 - s.rating)
        fav = "♥" if s.favourite else " "
        print(f"{s.id:>6}  {stars} {fav} {_bpm_text(s.bpm):>9}  {(str(s.bars) + ' bar') if s.bars else '-':>6}  "
              f"{s.duration:6.2f}s  {s.source:<9}  {s.name}  [{', '.join(s.tags)}]")
    return 0


def _bars_text(bars: int | None) -> str:
    return "- bars" if not bars else f"{bars} bar" + ("" if bars == 1 else "s")


def _bpm_text(bpm: float | None) -> str:
    return "? bpm" if bpm is None else f"{bpm:.1f} bpm"


def _tag(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        s = lib.tag(args.id, args.tags)
    print(f"{s.id}: [{', '.join(s.tags)}]")
    return 0


def _untag(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        s = lib.untag(args.id, args.tags)
    print(f"{s.id}: [{', '.join(s.tags)}]")
    return 0


def _rate(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        s = lib.rate(args.id, args.rating)
    print(f"{s.id}: rated {s.rating}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from cratedigger.errors import CrateDiggerError
    from cratedigger.library import export_sample
    from cratedigger.library.export import check_export_options

    if args.bits not in (16, 24):
        raise BadParameterError(f"--bits must be 16 or 24, got {args.bits}")
    check_export_options(rate=args.rate, bits=args.bits)
    failed = 0
    with _open(args) as lib:
        for sid in args.ids:  # each one that can be exported is, and each written file is listed at once
            try:
                path = export_sample(lib, sid, args.to, rate=args.rate, bits=args.bits, bpm=args.bpm, fit=args.fit)
            except CrateDiggerError as exc:
                print(f"cratedigger: error: {sid}: {exc}", file=sys.stderr, flush=True)
                failed += 1
                continue
            print(path, flush=True)
    if failed:
        print(f"cratedigger: {failed} of {len(args.ids)} sample(s) not exported", file=sys.stderr)
    return EXIT_SOME_FAILED if failed else 0


def _trash(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        for sid in args.ids:
            lib.trash(sid)
            print(f"{sid}: in the trash")
    return 0


def _restore(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        for sid in args.ids:
            lib.restore(sid)
            print(f"{sid}: restored")
    return 0


def _purge(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        n = lib.purge(args.ids or None)
    print(f"purged {n} sample(s)")
    return 0


def _similar(args: argparse.Namespace) -> int:
    from cratedigger.similarity import neighbours_json, similar

    if args.limit < 1:
        raise BadParameterError(f"--limit must be at least 1, got {args.limit}")
    with _open(args) as lib:
        near = similar(lib, args.id, limit=args.limit)
        samples = {s.id: s for s in lib.get_many([n.id for n in near])}
    if args.json:
        print(neighbours_json(near, samples))
        return 0
    for n in near:
        s = samples[n.id]
        print(f"{n.id:>6}  {n.distance:6.3f}  {_bpm_text(s.bpm):>9}  {(str(s.bars) + ' bar') if s.bars else '-':>6}  "
              f"{s.name}  (rhythm {n.rhythm:.2f}, timbre {n.timbre:.2f}, tempo {n.tempo:.2f})")
    return 0


def _recut(args: argparse.Namespace) -> int:
    from cratedigger.library.recut import recut_sample

    with _open(args) as lib:
        s = recut_sample(lib, args.id, bpm=args.bpm, first_downbeat=args.first_downbeat, bars=args.bars)
    print(f"recut {s.parent_id} as {s.id}: {s.name}  {_bpm_text(s.bpm)}  {_bars_text(s.bars)}  [{', '.join(s.tags)}]")
    return 0


def _check(args: argparse.Namespace) -> int:
    if args.rebuild:
        from cratedigger.library import resolve_root
        from cratedigger.library.rebuild import rebuild_library

        set_aside, used, report = rebuild_library(resolve_root(args.root))
        if set_aside is not None:
            print(f"rebuilt: the old database is kept as {set_aside}")
        print(f"rebuilt: started from backup {used}" if used else "rebuilt: no sound backup, started from the audio files")
        for line in report.lines():
            print(line)
        return 0 if report.ok else EXIT_CHECK_FAILED
    with _open(args) as lib:
        report = lib.check(repair=args.repair, deep=args.deep)
    for line in report.lines():
        print(line)
    return 0 if report.ok else EXIT_CHECK_FAILED
