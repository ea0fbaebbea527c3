"""GUI-thread cost of Audition.load + play: a 6 s stereo loop at 22.05 kHz on a 48 kHz device.

    python benchmarks/audition_prepare.py [--seconds 6] [--repeats 6]

Preparing (checks, resampling to the device's rate, channel layout) runs on Audition's own thread;
this measures what is left on the GUI thread, and, for comparison, the preparation itself.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402


class Device48k:
    """A stand-in output device at 48 kHz, stereo (no sound card needed)."""

    default_samplerate = 48000
    max_output_channels = 2

    def __init__(self, **kwargs):
        pass

    def start(self):
        pass

    def stop(self):
        pass

    def close(self):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    from cratedigger.playback import Player
    from cratedigger_ui.audition import Audition

    app = QApplication.instance() or QApplication([])
    audition = Audition(lambda: Player(stream_factory=Device48k))
    audio = (np.random.default_rng(440).standard_normal((int(args.seconds * 22050), 2)) * 0.1).astype(np.float32)
    gui, prep = [], []
    for i in range(args.repeats):
        t = time.perf_counter()
        audition.load(f"loop{i}", audio, 22050)
        audition.play()
        gui.append((time.perf_counter() - t) * 1000)
        deadline = time.time() + 10
        while audition.loaded_key() != f"loop{i}" and time.time() < deadline:
            app.processEvents()
            time.sleep(0.0005)
        t = time.perf_counter()
        audition.player.prepare(audio, sample_rate=22050)
        prep.append((time.perf_counter() - t) * 1000)
    audition.close()
    print(f"{args.seconds:g} s stereo, 22050 -> 48000 Hz, {args.repeats} loads (first one dropped):")
    print(f"  GUI thread per load+play: median {np.median(gui[1:]):.2f} ms, max {max(gui[1:]):.2f} ms")
    print(f"  preparation (on Audition's thread): median {np.median(prep[1:]):.1f} ms")


if __name__ == "__main__":
    main()
