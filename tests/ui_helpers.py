"""Helpers for tests that drive the real window offscreen."""

from __future__ import annotations

from pathlib import Path

from cratedigger_ui.tasks import ExportOptions


def export_loop(window, qtbot, key, out: Path) -> Path:
    """Export the loop `key` (once it is the current one) through File > Export into `out`, with the
    dialog's defaults, and return the one WAV written."""
    window.choose_export_options = lambda defaults, count, without: ExportOptions(folder=out)
    qtbot.waitUntil(lambda: window.current is not None and window.current.key == key, timeout=10000)
    window.export_selection()
    qtbot.waitUntil(lambda: bool(list(out.glob("*.wav"))), timeout=20000)
    (path,) = out.glob("*.wav")
    return path
