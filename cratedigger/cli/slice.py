"""`cratedigger slice FILE --bars N --out OUT.wav`: cut a click-free loop of whole bars.

The loop starts on a downbeat; when N bars do not fit, the longest of 1/2/4/8 that does is cut.
It is written atomically at the source's sample rate and channel count, with the `acid` (tempo,
beats, meter) and `smpl` (loop points) chunks an export carries, so a DAW reads it as a loop.
A file of any length is analysed and cut in bounded memory. An existing OUT is kept unless --overwrite.
"""

from __future__ import annotations

from pathlib import Path

from cratedigger.analysis import BACKENDS
from cratedigger.slicing import BAR_CHOICES


def register(subparsers) -> None:
    p = subparsers.add_parser("slice", help="cut a whole-bar loop out of an audio file",
                              description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("file", metavar="FILE")
    p.add_argument("--bars", type=int, choices=BAR_CHOICES, default=4, help="bars to cut (default 4)")
    p.add_argument("--out", required=True, type=Path, metavar="OUT.wav")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.wav when it exists")
    p.add_argument("--bits", type=int, choices=(16, 24, 32), default=24, help="16/24-bit PCM or 32-bit float")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.set_defaults(func=run)


def run(args) -> int:
    from cratedigger.audio.io import check_writable_target, fit_pcm, write_bytes_atomic
    from cratedigger.library.riff import build_loop_wav
    from cratedigger.loop import best_loop_from_file

    check_writable_target(args.out, overwrite=args.overwrite)  # before minutes of analysis
    # the engine's one cut (meter as loops count it, whole-bar clips taken whole), as the app makes it
    loop = best_loop_from_file(args.file, bars=args.bars, backend=args.backend)
    audio, gain = (loop.audio, 1.0) if args.bits == 32 else fit_pcm(loop.audio)
    beats = loop.bars * loop.beats_per_bar
    payload = build_loop_wav(audio, sample_rate=loop.sample_rate, bits=args.bits, beats=beats, tempo=loop.bpm,
                             meter=(loop.beats_per_bar, 4))
    write_bytes_atomic(args.out, payload, overwrite=args.overwrite)
    sr = loop.sample_rate
    start, end = loop.origin.provenance["start"], loop.origin.provenance["end"]
    note = "" if loop.bars == args.bars else f" (only {loop.bars} fit)"
    level = "" if gain == 1.0 else f"; turned down {_db(gain):.1f} dB to fit {args.bits}-bit PCM"
    print(f"{args.out}: {loop.bars} bar{'s' if loop.bars > 1 else ''}{note}, {beats} beats, {loop.bpm:.3f} BPM, "
          f"from {start / sr:.3f} s to {end / sr:.3f} s{level}")
    return 0


def _db(gain: float) -> float:
    import math

    return -20.0 * math.log10(gain)
