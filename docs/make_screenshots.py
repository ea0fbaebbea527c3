"""Save screenshots of the app's main views into docs/ (offscreen; no display or sound card needed).

    python docs/make_screenshots.py            # docs/screenshot-library.png, -generating.png, -hidpi.png

A clean library in a fresh temp folder is filled by importing real drum loops from Debian's
lmms-common (analysed with the real beat tracker; only loops it reads at their true tempo: break01
and break03 read at half speed); the Fresh tray (its own temp folder, never the user's) is filled
with variations of one of them by the built-in starter model, which land on their parent's grid.
The status bar shows the README's example library folder instead of the temp folder's path.
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


LOOPS = [  # (lmms file, name, tags, rating, favourite); each read at its true tempo
    ("break02.ogg", "rolling break", ["dusty", "amen-ish"], 5, True),
    ("jungle01.ogg", "jungle roller", ["half-time", "jungle"], 4, True),
    ("909beat01.ogg", "909 four", ["electro"], 2, False),
    ("house_loop01.ogg", "house shuffle", ["house"], 3, False),
    ("electro_beat02.ogg", "electro bounce", ["electro"], 3, False),
]
SELECTED = "rolling break"
VARIED = "909 four"  # two whole bars: the starter's 5.9 s window holds them with no silence cut in
SHOWN_ROOT = "Library: ~/Breaks"  # as after `cratedigger-app --library ~/Breaks` (the README's example)


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
    from PySide6.QtCore import QEvent

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        app.processEvents()
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # widgets replaced on a selection go now
        if predicate():
            return True
        time.sleep(0.01)
    return False


def open_window(work: Path):
    """The real app window at 1280x800 on a library, settings, drag cache and Fresh tray inside
    `work`, with a silent output stream (no sound card here)."""
    from cratedigger.playback import Player
    from cratedigger_ui.app import create_app
    from cratedigger_ui.main_window import MainWindow
    from cratedigger_ui.settings import AppSettings, make_settings
    from silent_stream import SilentStream

    app = create_app([sys.argv[0]])
    window = MainWindow(settings=AppSettings(make_settings(str(work / "settings.ini"))), library_root=work / "library",
                        player_factory=lambda: Player(stream_factory=SilentStream), drag_cache=work / "drag",
                        fresh_dir=work / "fresh")
    window.resize(1280, 800)
    window.show()
    return app, window


def select(app, window, name: str) -> None:
    row = next(i for i, e in enumerate(window.library_model.entries()) if e.name == name)
    window.library_list.setFocus()
    window.library_list.setCurrentIndex(window.library_model.index(row))
    wait(app, lambda: window.current is not None and window.current.name == name and window.audition.clip is not None
         and window.detail.spec_image.image is not None, 30)


def grab(window, path: Path) -> Path:
    window.library_label.setText(SHOWN_ROOT)  # not the temp folder's path
    window.grab().save(str(path))
    return path


def shoot(out_dir: Path, *, suffix: str = "", only_library: bool = False) -> list[Path]:
    import numpy as np

    from cratedigger.playback import BLOCK_FRAMES

    work = Path(tempfile.mkdtemp(prefix="cd-shots-"))
    fill_library(work / "library")
    app, window = open_window(work)
    wait(app, lambda: window.library_model.rowCount() >= 3, 30)
    saved = []

    # 1. The library: a loop selected, playing, grid + spectrogram, tempo bar.
    select(app, window, SELECTED)
    out = np.zeros((BLOCK_FRAMES, 2), np.float32)
    for _ in range(int(0.6 * window.audition.clip.sample_rate / BLOCK_FRAMES)):
        window.audition.player._callback(out, BLOCK_FRAMES, None, None)  # the playhead moves as if heard
    wait(app, lambda: False, 0.3)
    saved.append(grab(window, out_dir / f"screenshot-library{suffix}.png"))
    if only_library:
        window.close()
        return saved

    # 2. Variations of a loop by the starter model, landing in the Fresh tray on its grid.
    select(app, window, VARIED)
    panel = window.panel
    panel.remember_model("starter")
    panel.device_box.setCurrentText("cpu")
    panel.steps_spin.setValue(20)
    panel.variation_count.setValue(6)
    panel.strength.setValue(0.35)
    panel.variations_button.click()
    wait(app, lambda: window.fresh_model.rowCount() >= 3, 900)
    window.fresh_list.setFocus()
    window.fresh_list.setCurrentIndex(window.fresh_model.index(0))  # the first variation, on its parent's grid
    wait(app, lambda: window.current is not None and window.current.key.startswith("fresh"), 30)
    wait(app, lambda: window.detail.spec_image.image is not None, 10)
    wait(app, lambda: False, 0.3)
    saved.append(grab(window, out_dir / f"screenshot-generating{suffix}.png"))
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
