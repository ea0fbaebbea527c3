"""Cut loops of whole bars that wrap without a click.

    loop = slice_loop(audio, sample_rate=sr, analysis=analyze(audio, sample_rate=sr), bars=4)

A loop starts on a downbeat and lasts exactly bars * beats_per_bar beats at the analysed tempo, so a
DAW that reads its length reads the tempo back. It is cut from the original audio (same rate and
channels; analysis may have downmixed). The seam is made smooth without touching the downbeat's
attack: the loop's last few ms are crossfaded into the audio that precedes its start, so playing
end -> start continues the way the recording did.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from cratedigger.analysis import AnalysisResult
from cratedigger.audio.dsp import nearest_zero_crossing, to_mono
from cratedigger.errors import AnalysisError, BadParameterError
from cratedigger.bars import whole_bars

BAR_CHOICES = (1, 2, 4, 8)
SEAM_MS = 5.0  # crossfade (or fade) length at the wrap; short enough not to smear a hit
ZERO_CROSSING_MS = 2.0  # how far a start without pre-roll may move to find a zero crossing
# a loop may start this much before its detected downbeat to fit the clip: the networks place a
# downbeat a few ms after the onset, so an exact whole-bar clip would otherwise lose a bar
END_SLACK_S = 0.025


@dataclass(frozen=True, eq=False)
class LoopSlice:
    """A whole-bar loop. audio: float32 [n] or [n, ch] like the source, at sample_rate Hz."""

    audio: np.ndarray
    sample_rate: int
    start: int  # sample index in the source
    end: int  # exclusive
    bars: int
    beats: int
    bpm: float  # from the exact length and beat count
    beats_per_bar: int = 4  # the meter the loop was cut in (beats // bars)

    @property
    def duration(self) -> float:
        return (self.end - self.start) / self.sample_rate


@dataclass(frozen=True)
class LoopPlan:
    """Where a loop would be cut, without the audio: what `analyze --json` suggests."""

    start: int
    end: int
    bars: int
    beats: int
    bpm: float

    @property
    def beats_per_bar(self) -> int:
        return self.beats // self.bars

    def to_dict(self, sample_rate: int) -> dict:
        return {"start": self.start, "end": self.end, "start_s": round(self.start / sample_rate, 6),
                "end_s": round(self.end / sample_rate, 6), "bars": self.bars, "beats": self.beats,
                "bpm": round(self.bpm, 3)}


def plan_loop(analysis: AnalysisResult, *, sample_rate: int, n_samples: int, bars: int = 4) -> LoopPlan:
    """The longest loop of 1/2/4/8 bars (at most `bars`) that starts on a downbeat and fits the clip,
    or the whole clip when it spans whole bars (bars.whole_bars) and no as long a cut fits."""
    if bars not in BAR_CHOICES:
        raise BadParameterError(f"bars must be one of {BAR_CHOICES}, got {bars!r}")
    if sample_rate <= 0:
        raise BadParameterError(f"sample_rate must be positive, got {sample_rate!r}")
    if analysis.bpm is None or not analysis.downbeats:
        raise AnalysisError("no tempo or downbeat found, so there are no whole bars to cut")
    if abs(analysis.duration - n_samples / sample_rate) > 0.05:
        raise BadParameterError(
            f"the analysis is of a {analysis.duration:.2f} s clip but the audio lasts {n_samples / sample_rate:.2f} s")
    per_bar = analysis.beats_per_bar or 4
    beat_samples = 60.0 * sample_rate / analysis.bpm
    slack = int(END_SLACK_S * sample_rate)
    # A clip that already is whole bars (bars.whole_bars, the library's rule) is that loop as it is,
    # at the tempo its length gives: in its place among the cuts when it is a few samples short of
    # N bars from a downbeat at its start (no N-bar cut fits it, so N bars were skipped), and as the
    # last resort when no bar fits from any downbeat (a loop file whose beat 1 the analysis heard
    # mid-clip). A clip longer than its bars (a model's window) is cut as before.
    whole = whole_bars(n_samples, sample_rate, analysis.bpm, per_bar)
    if whole is not None and whole[0] > bars:
        whole = None
    bar_samples = per_bar * beat_samples
    phase = (analysis.downbeats[0] * sample_rate) % bar_samples
    starts_on_one = min(phase, bar_samples - phase) <= slack
    for n_bars in (b for b in reversed(BAR_CHOICES) if b <= bars):
        length = int(round(n_bars * bar_samples))
        beats = n_bars * per_bar
        for t in analysis.downbeats:  # earliest downbeat whose loop fits
            start = int(round(t * sample_rate))
            if start + length <= n_samples + slack and n_samples >= length:
                start = min(start, n_samples - length)
                return LoopPlan(start=start, end=start + length, bars=n_bars, beats=beats,
                                bpm=beats * 60.0 * sample_rate / length)
        if whole is not None and whole[0] == n_bars and starts_on_one and n_samples < length:
            return LoopPlan(start=0, end=n_samples, bars=n_bars, beats=beats, bpm=whole[1])
    if whole is not None:
        return LoopPlan(start=0, end=n_samples, bars=whole[0], beats=whole[0] * per_bar, bpm=whole[1])
    bar_s = per_bar * 60.0 / analysis.bpm
    raise AnalysisError(
        f"not even one whole bar fits: a bar at {analysis.bpm:.1f} BPM lasts {bar_s:.2f} s and the clip "
        f"is {n_samples / sample_rate:.2f} s long with {len(analysis.downbeats)} downbeat(s)")


def suggest_loop(analysis: AnalysisResult, *, sample_rate: int, n_samples: int, bars: int = 8) -> LoopPlan | None:
    """plan_loop, or None when no whole bar fits (for listings, where that is not an error)."""
    try:
        return plan_loop(analysis, sample_rate=sample_rate, n_samples=n_samples, bars=bars)
    except AnalysisError:
        return None


def slice_loop(audio: np.ndarray, *, sample_rate: int, analysis: AnalysisResult, bars: int = 4) -> LoopSlice:
    """Cut the loop plan_loop chooses from `audio` (float32 [n] or [n, ch]) and smooth its seam."""
    audio = np.asarray(audio)
    if audio.ndim not in (1, 2) or audio.shape[0] == 0:
        raise BadParameterError(f"audio must be [samples] or [samples, channels], got shape {audio.shape}")
    audio = audio.astype(np.float32, copy=False)
    if not np.all(np.isfinite(audio)):
        raise AnalysisError("audio contains NaN or infinite samples")
    plan = plan_loop(analysis, sample_rate=sample_rate, n_samples=audio.shape[0], bars=bars)
    return _cut(plan, lambda a, b: audio[a:b], n_samples=audio.shape[0], sample_rate=sample_rate)


def slice_file(path: str | os.PathLike, *, analysis: AnalysisResult, bars: int = 4) -> LoopSlice:
    """slice_loop for a file of any length: reads only the loop and a few ms around it."""
    from cratedigger.audio.io import audio_info, read_audio

    info = audio_info(path)
    plan = plan_loop(analysis, sample_rate=info.sample_rate, n_samples=info.frames, bars=bars)
    margin = int((SEAM_MS + ZERO_CROSSING_MS) * info.sample_rate / 1000.0) + 2
    lo, hi = max(0, plan.start - margin), min(info.frames, plan.end + margin)
    region, _ = read_audio(path, start=lo, frames=hi - lo)
    if not np.all(np.isfinite(region)):
        raise AnalysisError("audio contains NaN or infinite samples")

    def read(a: int, b: int) -> np.ndarray:
        return region[max(0, a - lo) : max(0, b - lo)]

    return _cut(plan, read, n_samples=info.frames, sample_rate=info.sample_rate)


def _cut(plan: LoopPlan, read, *, n_samples: int, sample_rate: int) -> LoopSlice:
    """Cut plan's loop through read(a, b) -> source samples a..b, and smooth its seam."""
    length = plan.end - plan.start
    seam = max(1, int(round(SEAM_MS * sample_rate / 1000.0)))
    start = plan.start
    if start < seam:
        # no audio before the start to crossfade with: begin at a zero crossing instead, keeping
        # the exact length (the loop moves by at most ZERO_CROSSING_MS)
        reach = int(ZERO_CROSSING_MS * sample_rate / 1000.0)
        head = read(0, min(n_samples, start + reach + 2))
        zc = nearest_zero_crossing(to_mono(head), start, max_distance=reach)
        if 0 <= zc and zc + length <= n_samples:
            start = zc
    end = start + length
    loop = np.array(read(start, end), dtype=np.float32, copy=True)
    _smooth_seam(loop, pre_roll=read(max(0, start - seam), start), seam=seam)
    return LoopSlice(audio=loop, sample_rate=int(sample_rate), start=int(start), end=int(end),
                     bars=plan.bars, beats=plan.beats, bpm=float(plan.bpm), beats_per_bar=plan.beats_per_bar)


def _smooth_seam(loop: np.ndarray, *, pre_roll: np.ndarray, seam: int) -> None:
    """In place: make loop[-1] -> loop[0] continuous.

    With `seam` samples of pre-roll, the tail crossfades into them (equal-gain: the two are the same
    recording, so they are correlated), so the last sample leads into the first as in the source.
    Without, the tail fades out to meet a start that sits on a zero crossing.
    """
    seam = min(seam, loop.shape[0] // 4)
    if seam < 1:
        return
    fade_in = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, seam, dtype=np.float64))).astype(np.float32)
    fade_out = 1.0 - fade_in
    if loop.ndim == 2:
        fade_in, fade_out = fade_in[:, None], fade_out[:, None]
    if pre_roll.shape[0] == seam:
        loop[-seam:] = loop[-seam:] * fade_out + pre_roll * fade_in
    else:
        loop[-seam:] *= fade_out
        # the start is at (or within ZERO_CROSSING_MS of) a zero crossing; a 0.5 ms ramp makes sure
        ramp = max(1, seam // 10)
        ramp_in = np.linspace(0.0, 1.0, ramp + 1, dtype=np.float32)[1:]
        loop[:ramp] *= ramp_in[:, None] if loop.ndim == 2 else ramp_in
