"""Bar arithmetic every tool shares: how many beats a loop's bar has, when a clip already is whole
bars, and a steady beat grid. Pure functions of numbers, below the slicer, the regrid and the loop
value that all use them (so none of those imports another to count bars)."""

from __future__ import annotations

import numpy as np

DEFAULT_BEATS_PER_BAR = 4
# A clip counts as N whole bars when its length is within this fraction of a bar of N bars (the
# library's rule since its first version: an estimate a little off still finds a loop file's bars).
WHOLE_BAR_TOLERANCE = 0.03


def loop_beats_per_bar(beats_per_bar: int | None, *, duration: float | None = None, bpm: float | None = None) -> int:
    """How many beats a loop's bar has, given the analysis' meter: breaks are in 4, and a 1/4 or 2/4
    reading of a 4/4 groove is the same grid with fewer downbeats (regrid.loop_meter applies this to
    a whole analysis). A 3 stays a 3 unless the clip (`duration` s at `bpm`) is whole bars of 4 and
    not of 3: a loop file's length is the producer's own bar count. No meter counts as 4."""
    if beats_per_bar is None or beats_per_bar in (1, 2):
        return DEFAULT_BEATS_PER_BAR
    if beats_per_bar == 3 and duration and bpm:
        in_four = whole_bars(duration, 1, bpm, DEFAULT_BEATS_PER_BAR)  # (seconds at "1 Hz": the same arithmetic)
        if in_four is not None and whole_bars(duration, 1, bpm, 3) is None:
            return DEFAULT_BEATS_PER_BAR
    return int(beats_per_bar)


def whole_bars(frames: int, sample_rate: int, bpm: float, beats_per_bar: int) -> tuple[int, float] | None:
    """(bars, exact bpm) when a clip of `frames` spans a whole number of bars at about `bpm`, else None.

    The one rule for "this clip is already a loop": the library stores such a clip as that many bars,
    and slicing.plan_loop takes it whole rather than cutting fewer bars from a downbeat. The exact
    tempo comes from the length (what a DAW does with a loop), not from the estimate.
    """
    duration = frames / sample_rate
    bar_s = beats_per_bar * 60.0 / bpm
    bars = round(duration / bar_s)
    if bars < 1 or abs(duration - bars * bar_s) > WHOLE_BAR_TOLERANCE * bar_s:
        return None
    return bars, bars * beats_per_bar * 60.0 / duration


def grid_beats(*, bpm: float, n_beats: int) -> tuple[float, ...]:
    """A steady grid from the first sample: n_beats beat times at bpm (the one place that builds one)."""
    return tuple(float(t) for t in np.arange(int(n_beats)) * 60.0 / float(bpm))
