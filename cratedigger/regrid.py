"""Re-cut a loop from a tempo and beat 1 the producer corrected, and the one meter rule for loops.

    loop = recut(audio, sample_rate=sr, bpm=133.4, first_downbeat=0.21, bars=2)

The analysis can read a break at half or double speed, find no tempo at all, or put beat 1 on the
wrong hit. A producer who hears the right answer types a BPM (or presses x2, /2) and moves beat 1;
this builds the steady grid they described and cuts whole bars from it with the engine's slicer,
so the app, the CLI and the library cut corrected loops the same way.

`loop_meter` is the one answer to "how many beats in a bar" for loops: breaks are in 4, and a 2/4
reading of a 4/4 groove (a one-bar break shown as "2 bars", exported with "Meter 2/4") is the same
grid with every other downbeat; everything that counts bars goes through it.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from cratedigger.analysis import AnalysisResult
from cratedigger.errors import AnalysisError, BadParameterError
from cratedigger.bars import DEFAULT_BEATS_PER_BAR as LOOP_BEATS_PER_BAR
from cratedigger.bars import loop_beats_per_bar

MIN_BPM, MAX_BPM = 20.0, 400.0  # what extend accepts and an acid chunk carries comfortably


def check_bpm(bpm: float) -> float:
    if isinstance(bpm, bool) or not isinstance(bpm, (int, float, np.floating)) or not math.isfinite(float(bpm)):
        raise BadParameterError(f"bpm must be a number, got {bpm!r}")
    if not MIN_BPM <= float(bpm) <= MAX_BPM:
        raise BadParameterError(f"bpm must be between {MIN_BPM:.0f} and {MAX_BPM:.0f}, got {float(bpm):g}")
    return float(bpm)


def loop_meter(analysis: AnalysisResult) -> AnalysisResult:
    """The analysis as loops count it (bars.loop_beats_per_bar): a 2/4 (or 1/4) reading becomes 4/4 by
    keeping every other downbeat (every fourth for 1/4); a 3/4 reading of a clip that is whole bars of
    4/4 and not of 3/4 becomes 4/4 from its first downbeat; other meters stay as found. Beats and tempo
    never change."""
    bpb = analysis.beats_per_bar
    if bpb is None or analysis.bpm is None:
        return analysis
    target = loop_beats_per_bar(bpb, duration=analysis.duration, bpm=analysis.bpm)
    if target == bpb:
        return analysis
    period = 60.0 / analysis.bpm
    if bpb in (1, 2):
        downbeats = tuple(analysis.downbeats[::target // bpb])
        positions = analysis.beat_positions
        if analysis.beats and analysis.downbeats:
            first = analysis.downbeats[0]
            positions = tuple(int(round((t - first) / period)) % target + 1 for t in analysis.beats)
    else:  # regroup the beats in fours from the first downbeat
        if not analysis.beats:
            return analysis
        first = analysis.downbeats[0] if analysis.downbeats else analysis.beats[0]
        positions = tuple(int(round((t - first) / period)) % target + 1 for t in analysis.beats)
        downbeats = tuple(t for t, p in zip(analysis.beats, positions) if p == 1)
    return replace(analysis, beats_per_bar=target, downbeats=downbeats, beat_positions=positions)


def steady_grid(*, bpm: float, duration: float, first_downbeat: float = 0.0,
                beats_per_bar: int = LOOP_BEATS_PER_BAR) -> AnalysisResult:
    """A rigid grid over a clip of `duration` seconds: beats every 60/bpm s through `first_downbeat`
    (seconds; any value, it is folded into the first bar), a downbeat every `beats_per_bar` beats."""
    bpm = check_bpm(bpm)
    if isinstance(beats_per_bar, bool) or not isinstance(beats_per_bar, int) or not 1 <= beats_per_bar <= 16:
        raise BadParameterError(f"beats_per_bar must be a whole number from 1 to 16, got {beats_per_bar!r}")
    if not duration > 0:
        raise BadParameterError(f"duration must be positive, got {duration!r}")
    if isinstance(first_downbeat, bool) or not isinstance(first_downbeat, (int, float, np.integer, np.floating)) \
            or not math.isfinite(first_downbeat):
        raise BadParameterError(f"beat 1 must be a time in seconds, got {first_downbeat!r}")
    period = 60.0 / bpm
    bar = period * beats_per_bar
    first = float(first_downbeat) % bar
    phase = first % period  # the earliest beat in the clip
    beats = np.arange(phase, duration, period)
    index_of_first = int(round((first - phase) / period))
    positions = tuple(int((k - index_of_first) % beats_per_bar) + 1 for k in range(beats.size))
    downbeats = tuple(float(t) for t, p in zip(beats, positions) if p == 1)
    return AnalysisResult(bpm=bpm, beats=tuple(float(t) for t in beats), downbeats=downbeats,
                          beat_positions=positions, beats_per_bar=beats_per_bar, confidence=1.0,
                          backend="manual", duration=float(duration))


def shift_beat_one(first_downbeat: float, *, bpm: float, beats: int = 1,
                   beats_per_bar: int = LOOP_BEATS_PER_BAR) -> float:
    """Beat 1 moved by `beats` beats (negative: earlier), kept inside the first bar."""
    period = 60.0 / check_bpm(bpm)
    return float((first_downbeat + beats * period) % (period * beats_per_bar))


def recut(audio: np.ndarray, *, sample_rate: int, bpm: float, first_downbeat: float = 0.0,
          beats_per_bar: int = LOOP_BEATS_PER_BAR, bars: int = 8):
    """The longest whole-bar loop (1, 2, 4 or 8 bars, at most `bars`) of `audio` (float32 [n] or
    [n, ch] at sample_rate Hz) on the grid the producer set. Returns a slicing.LoopSlice.

    Raises AnalysisError, in words a producer reads, when not even one bar at that tempo fits.
    """
    from cratedigger.slicing import slice_loop

    audio = np.asarray(audio)
    if audio.ndim not in (1, 2) or audio.shape[0] == 0:
        raise BadParameterError(f"audio must be [samples] or [samples, channels], got shape {audio.shape}")
    if sample_rate <= 0:
        raise BadParameterError(f"sample_rate must be positive, got {sample_rate!r}")
    duration = audio.shape[0] / sample_rate
    grid = steady_grid(bpm=bpm, duration=duration, first_downbeat=first_downbeat, beats_per_bar=beats_per_bar)
    bar_s = beats_per_bar * 60.0 / grid.bpm
    if bar_s > duration + 0.025:
        raise AnalysisError(f"one bar at {grid.bpm:.1f} BPM lasts {bar_s:.2f} s, longer than the clip "
                            f"({duration:.2f} s): try double the tempo, or export it as is")
    try:
        return slice_loop(audio, sample_rate=sample_rate, analysis=grid, bars=bars)
    except AnalysisError as exc:
        first = grid.downbeats[0] if grid.downbeats else 0.0
        raise AnalysisError(f"from beat 1 at {first:.2f} s, less than one bar ({bar_s:.2f} s) of the clip is left: "
                            f"move beat 1 earlier") from exc
