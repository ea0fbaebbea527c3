"""Shared bits for the benchmarks: timing and real drum audio (Debian lmms-common / hydrogen-drumkits)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from drum_audio import real_break, rock_pattern  # noqa: E402,F401


def timed(fn, *args, repeat: int = 1, **kwargs):
    """(best seconds over `repeat` runs, last result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, result
