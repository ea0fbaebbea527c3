"""Helpers for tests that drive the real window offscreen."""

from __future__ import annotations

from pathlib import Path

from cratedigger.library import Library
from cratedigger_ui.tasks import ExportOptions
from library_helpers import click_loop

LIBRARY_RATE = 22050


def two_loop_library(root: Path) -> Path:
    """A library at `root` with two whole-bar loops with tempo, one tagged: what a producer's library
    looks like. Returns `root`."""
    with Library.open(root, analyzer=None) as lib:
        lib.add_audio(click_loop(bpm=120, bars=2, sample_rate=LIBRARY_RATE), LIBRARY_RATE, name="amen-ish",
                      source="generated", bpm=120.0, bars=2, tags=["dusty"])
        lib.add_audio(click_loop(bpm=90, bars=1, sample_rate=LIBRARY_RATE, seed=7), LIBRARY_RATE, name="lazy",
                      source="generated", bpm=90.0, bars=1)
    return root


def export_loop(window, qtbot, key, out: Path) -> Path:
    """Export the loop `key` (once it is the current one) through File > Export into `out`, with the
    dialog's defaults, and return the one WAV written."""
    window.choose_export_options = lambda defaults, count, without: ExportOptions(folder=out)
    qtbot.waitUntil(lambda: window.current is not None and window.current.key == key, timeout=10000)
    window.export_selection()
    qtbot.waitUntil(lambda: bool(list(out.glob("*.wav"))), timeout=20000)
    (path,) = out.glob("*.wav")
    return path
