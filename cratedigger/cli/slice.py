"""`cratedigger slice FILE --bars N --out OUT.wav`: cut a click-free loop of whole bars.

The loop starts on a downbeat; when N bars do not fit, the longest of 1/2/4/8 that does is cut.
It is written atomically at the source's sample rate and channel count.
"""

from __future__ import annotations

from pathlib import Path

from cratedigger.analysis import BACKENDS, Analyzer
from cratedigger.audio.io import read_audio, write_audio_atomic
from cratedigger.slicing import BAR_CHOICES, slice_loop


def register(subparsers) -> None:
    p = subparsers.add_parser("slice", help="cut a whole-bar loop out of an audio file",
                              description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("file", metavar="FILE")
    p.add_argument("--bars", type=int, choices=BAR_CHOICES, default=4, help="bars to cut (default 4)")
    p.add_argument("--out", required=True, type=Path, metavar="OUT.wav")
    p.add_argument("--bits", type=int, choices=(16, 24, 32), default=24, help="16/24-bit PCM or 32-bit float")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.set_defaults(func=run)


def run(args) -> int:
    audio, sr = read_audio(args.file)
    analysis = Analyzer(backend=args.backend).analyze(audio, sample_rate=sr)
    loop = slice_loop(audio, sample_rate=sr, analysis=analysis, bars=args.bars)
    write_audio_atomic(args.out, loop.audio, sample_rate=sr, bits=args.bits)
    note = "" if loop.bars == args.bars else f" (only {loop.bars} fit)"
    print(f"{args.out}: {loop.bars} bar{'s' if loop.bars > 1 else ''}{note}, {loop.beats} beats, {loop.bpm:.3f} BPM, "
          f"from {loop.start / sr:.3f} s to {loop.end / sr:.3f} s")
    return 0
