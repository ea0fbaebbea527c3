"""Save screenshots of the app's main views into docs/ (offscreen; no display or sound card needed).

    python docs/make_screenshots.py            # docs/screenshot-library.png, -generating.png, -hidpi.png

The library is filled by importing real drum loops from Debian's lmms-common (analysed with the
real beat tracker); the Fresh tray is filled by generating with a small random model at
breaks-256's mel shape (its "breaks" are noise: a trained model is not bundled yet).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "benchmarks"))


LOOPS = [  # (lmms file, name, tags, rating, favourite)
    ("break01.ogg", "dusty one-bar", ["dusty", "amen-ish"], 5, True),
    ("break02.ogg", "rolling break", ["dusty"], 4, False),
    ("break03.ogg", "tight funk", ["funk", "tight"], 3, False),
    ("jungle01.ogg", "jungle roller", ["half-time", "jungle"], 4, True),
    ("909beat01.ogg", "909 four", ["electro"], 2, False),
    ("house_loop01.ogg", "house shuffle", ["house"], 3, False),
    ("electro_beat01.ogg", "electro stomp", ["electro"], 1, False),
]


def fill_library(root: Path) -> None:
    from cratedigger.library import Library
    from drum_audio import LMMS_BEATS

    with Library.open(root) as lib:
        for file, name, tags, rating, fav in LOOPS:
            path = LMMS_BEATS / file
            if not path.exists():
                continue
            s = lib.import_file(path, tags=tags, name=name)
            lib.rate(s.id, rating)
            lib.set_favourite(s.id, fav)


def wait(app, predicate, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.01)
    return False


def shoot(out_dir: Path, *, suffix: str = "", only_library: bool = False) -> list[Path]:
    import numpy as np

    from cratedigger.playback import BLOCK_FRAMES
    from ui_stall import build_model, open_offscreen_window

    work = Path(tempfile.mkdtemp(prefix="cd-shots-"))
    fill_library(work / "library")
    app, window = open_offscreen_window(work)
    wait(app, lambda: window.library_model.rowCount() >= 3, 30)
    saved = []

    # 1. The library: a loop selected, playing, grid + spectrogram, loop region on its first bars.
    row = next(i for i, e in enumerate(window.library_model.entries()) if e.name == "jungle roller")
    window.library_list.setFocus()
    window.library_list.setCurrentIndex(window.library_model.index(row))
    wait(app, lambda: window.detail.spec_image.image is not None and window.audition.clip is not None, 30)
    entry = window.current
    bars = entry.bar_times()
    if len(bars) >= 3:
        window.detail.set_region(bars[0], bars[2])
    out = np.zeros((BLOCK_FRAMES, 2), np.float32)
    for _ in range(int(0.9 * window.audition.clip.sample_rate / BLOCK_FRAMES)):
        window.audition.player._callback(out, BLOCK_FRAMES, None, None)  # the playhead moves as if heard
    wait(app, lambda: False, 0.3)
    path = out_dir / f"screenshot-library{suffix}.png"
    window.grab().save(str(path))
    saved.append(path)
    if only_library:
        window.close()
        return saved

    # 2. Generating: the first batch in the Fresh tray while the rest cook.
    model = build_model(work / "model")
    panel = window.panel
    panel.remember_model(str(model))
    panel.device_box.setCurrentText("cpu")
    panel.count_spin.setValue(12)
    panel.steps_spin.setValue(40)
    panel.generate_button.click()
    wait(app, lambda: window.fresh_model.rowCount() >= 4, 600)
    wait(app, lambda: window.detail.spec_image.image is not None, 10)
    path = out_dir / f"screenshot-generating{suffix}.png"
    window.grab().save(str(path))
    saved.append(path)
    window.close()  # quits mid-generation: cancels cleanly
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--hidpi-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hidpi_child:
        for p in shoot(args.out, suffix="-hidpi", only_library=True):
            print(p)
        return 0
    for p in shoot(args.out):
        print(p)
    # HiDPI: the same window at device pixel ratio 2, in a fresh process (the scale is fixed at start).
    env = dict(os.environ, QT_SCALE_FACTOR="2")
    subprocess.run([sys.executable, __file__, "--out", str(args.out), "--hidpi-child"], env=env, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
