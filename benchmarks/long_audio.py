"""Peak memory of analyze, library add and slice on a long recording (issue 14 item 1).

    python benchmarks/long_audio.py --minutes 10 [--backend madmom] [--keep /tmp/long.wav]

Builds a stereo 44.1 kHz 16-bit WAV of a real drum break repeated block by block (never whole in
memory), then runs each command in its own process and prints its peak RSS (getrusage of the
child), wall time and CPU time. A 2-hour file is `--minutes 120` (1.2 GB on disk). Measured on 2
shared cores: analyze 581 MB peak, 395 CPU s; library add 608 MB, 420 CPU s; slice 591 MB, 439 CPU s
(each 16-18x real time in CPU seconds; the wall time depends on the neighbours).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
what, path, work, backend = sys.argv[1:5]
if what == "analyze":
    from cratedigger.analysis import Analyzer
    result, info = Analyzer(backend=backend).analyze_file(path)
    note = f"{result.bpm and round(result.bpm, 2)} BPM, {len(result.beats)} beats"
elif what == "add":
    from cratedigger.library import Library
    from cratedigger.analysis import analyze_file
    with Library.open(work + "/lib") as lib:
        s = lib.import_file(path)
        note = f"sample {s.id}, {s.bpm and round(s.bpm, 2)} BPM, {s.duration:.0f} s"
else:
    from cratedigger.analysis import Analyzer
    from cratedigger.slicing import slice_file
    result, info = Analyzer(backend=backend).analyze_file(path)
    loop = slice_file(path, analysis=result, bars=4)
    note = f"{loop.bars} bars at {loop.bpm:.2f} BPM from {loop.start / info.sample_rate:.1f} s"
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"what": what, "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "seconds": round(time.perf_counter() - t0, 1),
                  "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1), "note": note}))
"""


def build(path: Path, minutes: float) -> None:
    from drum_audio import real_break

    loop = real_break(44100, repeats=8)
    block = np.stack([loop, loop * 0.9], axis=1)
    frames = int(minutes * 60 * 44100)
    with sf.SoundFile(str(path), "w", 44100, 2, subtype="PCM_16") as out:
        written = 0
        while written < frames:
            part = block[: frames - written]
            out.write(part)
            written += part.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--keep", type=Path, default=None, help="write (or reuse) the long file here")
    parser.add_argument("--only", nargs="*", default=["analyze", "add", "slice"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        path = args.keep or Path(work) / "long.wav"
        if not path.exists():
            t0 = time.perf_counter()
            build(path, args.minutes)
            print(f"built {path}: {args.minutes:g} min, {path.stat().st_size / 2**20:.0f} MiB in {time.perf_counter() - t0:.0f} s")
        rows = []
        for what in args.only:
            done = subprocess.run([sys.executable, "-c", CHILD, what, str(path), work, args.backend], cwd=REPO,
                                  capture_output=True, text=True)
            if done.returncode:
                print(f"{what}: failed\n{done.stderr[-2000:]}")
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["minutes"] = args.minutes
            row["x_real_time"] = round(args.minutes * 60 / row["seconds"], 1)
            rows.append(row)
            # CPU seconds as well as wall: on a shared machine the wall time says more about the neighbours
            print(f"{what:8s} peak RSS {row['peak_rss_mb']:7.1f} MB  {row['seconds']:7.1f} s wall "
                  f"({row['x_real_time']}x real time), {row['cpu_seconds']:7.1f} CPU s  {row['note']}", flush=True)
        own = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"largest child peak RSS: {own:.1f} MB")


if __name__ == "__main__":
    main()
