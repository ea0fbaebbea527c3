"""A process for the crash tests to kill: it adds, exports or purges samples in a loop.

    python tests/library_worker.py ROOT add|export|purge [--pause PHASE] [--out DIR] [--no-tmpfile]

Every finished operation prints "DONE n". With --pause, the process prints "PAUSED" at that point of
the first operation and sleeps, so the test can SIGKILL it exactly there:
  mid-file      half of the audio bytes written, file not complete
  file-linked   the complete file is in place, its row not yet inserted
  in-row-tx     the row is inserted but its transaction not committed
  before-unlink a purge committed, its file not yet deleted
Patches are applied here, around the real library code; the library has no test hooks.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from cratedigger import atomic  # noqa: E402
from cratedigger.library import Library, export_sample, files, store  # noqa: E402
from library_helpers import click_loop  # noqa: E402


def pause() -> None:
    print("PAUSED", flush=True)
    time.sleep(120)
    os._exit(3)  # never reached when the test kills us


def install_pause(phase: str) -> None:
    if phase == "mid-file":
        def half_write(fd, payload):
            os.write(fd, memoryview(payload)[: len(payload) // 2])
            os.fsync(fd)
            pause()

        atomic._write_payload = half_write
    elif phase == "file-linked":
        real = files.write_new_file

        def linked(*args, **kwargs):
            path = real(*args, **kwargs)
            pause()
            return path

        files.write_new_file = linked
    elif phase == "in-row-tx":
        real_insert = store.Library._insert_row

        def insert(*args, **kwargs):
            sid = real_insert(*args, **kwargs)
            pause()
            return sid

        store.Library._insert_row = staticmethod(insert)
    elif phase == "before-unlink":
        files.remove_quietly = lambda path: pause()
    else:
        raise SystemExit(f"unknown phase {phase}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("mode", choices=["add", "export", "purge"])
    parser.add_argument("--pause", default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--no-tmpfile", action="store_true", help="use the named-temp-file fallback")
    args = parser.parse_args()
    if args.no_tmpfile:
        atomic.supports_tmpfile = lambda: False
    if args.pause:
        install_pause(args.pause)
    sr = 44100
    with Library.open(args.root, analyzer=None) as lib:
        n = 0
        while True:
            if args.mode == "add":
                audio = click_loop(bpm=95.0, bars=1, sample_rate=sr, channels=2, seed=n + os.getpid())
                lib.add_audio(audio, sr, name=f"take {n}", source="generated", provenance={"seed": n}, bpm=95.0,
                              bars=1, tags=["crash-test"])
            elif args.mode == "export":
                export_sample(lib, 1, args.out, bits=24)
            else:
                trashed = lib.query(trashed=True, limit=1)
                if not trashed:
                    print("EMPTY", flush=True)
                    return
                lib.purge([trashed[0].id])
            n += 1
            print(f"DONE {n}", flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
