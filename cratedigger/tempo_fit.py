"""Fit a whole-bar loop to the project's tempo: stretch (pitch kept) or re-pitch (like a sampler).

    out = fit_to_tempo(audio, sample_rate=sr, bpm=93.4, target_bpm=90, beats=8, mode="stretch")

stretch:  Rubber Band through `pedalboard.time_stretch` (transients kept crisp, pitch unchanged).
repitch:  soxr resampling: the loop plays faster or slower and its pitch moves with it, exactly as a
          sampler or a turntable's pitch fader does (+1 semitone per 5.9% faster).

The result always lasts exactly `beats` beats at `target_bpm` (rounded to the nearest frame), so a
DAW reading its length reads the new tempo. Both modes work on the loop with a wrapped copy of its
end before it and of its start after it, then keep the middle: the stretcher and the resampler then
see the loop as the loop it is, and the seam stays as clean as it was (no fade, no smeared first hit).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from cratedigger.audio.io import validate_audio
from cratedigger.errors import BadParameterError

FIT_MODES = ("stretch", "repitch")
# Beyond these the stretcher smears drums audibly and re-pitching turns a break into a chipmunk
# or a drone; DAWs' warp defaults stay inside the same range.
MIN_RATIO, MAX_RATIO = 0.5, 2.0
CONTEXT_S = 0.25  # wrapped audio on each side of the loop while fitting


def check_fit(*, bpm: float | None, target_bpm: float, mode: str, what: str = "the loop") -> float:
    """Validate a fit and return its speed ratio target/bpm. Raises BadParameterError naming the problem."""
    if mode not in FIT_MODES:
        raise BadParameterError(f"fit mode must be one of {', '.join(FIT_MODES)}, got {mode!r}")
    if isinstance(target_bpm, bool) or not isinstance(target_bpm, (int, float)) or not math.isfinite(target_bpm) \
            or not 1.0 <= target_bpm <= 999.0:
        raise BadParameterError(f"target tempo must be 1-999 BPM, got {target_bpm!r}")
    if bpm is None or not math.isfinite(bpm) or bpm <= 0:
        verb = "stretched" if mode == "stretch" else "re-pitched"
        raise BadParameterError(f"{what} has no tempo, so it cannot be {verb} to {target_bpm:g} BPM")
    ratio = float(target_bpm) / float(bpm)
    if not MIN_RATIO <= ratio <= MAX_RATIO:
        raise BadParameterError(
            f"{target_bpm:g} BPM is {ratio:.2f}x the tempo of {what} ({bpm:.1f} BPM); "
            f"{mode} works from {MIN_RATIO:g}x to {MAX_RATIO:g}x ({bpm * MIN_RATIO:.1f}-{bpm * MAX_RATIO:.1f} BPM)"
        )
    return ratio


def fitted_frames(*, beats: int, target_bpm: float, sample_rate: int) -> int:
    """Frames in `beats` beats at `target_bpm`: the exact length every fitted loop gets."""
    return int(round(beats * 60.0 / float(target_bpm) * sample_rate))


def fit_to_tempo(
    audio: np.ndarray, *, sample_rate: int, bpm: float, target_bpm: float, beats: int, mode: str = "stretch"
) -> np.ndarray:
    """A whole-bar loop (float32 [n] or [n, ch] at `sample_rate` Hz, `beats` beats at `bpm`) played
    at `target_bpm`: float32 [fitted_frames(...)] or [.., ch], same rate and channels."""
    audio = validate_audio(audio, sample_rate=sample_rate, what="loop audio")
    check_fit(bpm=bpm, target_bpm=target_bpm, mode=mode)
    if isinstance(beats, bool) or not isinstance(beats, (int, np.integer)) or beats < 1:
        raise BadParameterError(f"beats must be a whole number >= 1, got {beats!r}")
    n_out = fitted_frames(beats=int(beats), target_bpm=target_bpm, sample_rate=sample_rate)
    n_in = audio.shape[0]
    frames = audio if audio.ndim == 2 else audio[:, None]
    ctx = min(int(CONTEXT_S * sample_rate), n_in)
    padded = np.concatenate([frames[n_in - ctx:], frames, frames[:ctx]], axis=0)
    # The exact ratio comes from the lengths, not from the two tempos: the output must be n_out frames.
    speed = n_in / n_out
    if mode == "stretch":
        out = _stretch(padded, sample_rate=sample_rate, speed=speed)
    else:
        out = _repitch(padded, sample_rate=sample_rate, speed=speed)
    start = int(round(ctx / speed))
    out = out[start:start + n_out]
    if out.shape[0] < n_out:  # rounding can leave the stretcher a frame short; the wrap continues the loop
        out = np.concatenate([out, np.zeros((n_out - out.shape[0], out.shape[1]), np.float32)], axis=0)
    out = np.ascontiguousarray(out, dtype=np.float32)
    return out if audio.ndim == 2 else out[:, 0]


def _stretch(frames: np.ndarray, *, sample_rate: int, speed: float) -> np.ndarray:
    """Rubber Band, offline and high quality: [n, ch] -> [~n / speed, ch]."""
    try:
        import pedalboard
    except ImportError as exc:  # a dependency, but say what is missing rather than crash
        raise BadParameterError(f"stretching needs the pedalboard package ({exc}); use --fit repitch") from exc
    # pedalboard wants [channels, samples]; transient_mode "crisp" keeps drum attacks sharp.
    out = pedalboard.time_stretch(
        np.ascontiguousarray(frames.T), float(sample_rate), stretch_factor=float(speed), high_quality=True,
        transient_mode="crisp",
    )
    return np.asarray(out, dtype=np.float32).T


def _repitch(frames: np.ndarray, *, sample_rate: int, speed: float) -> np.ndarray:
    """Play `speed` times faster: resample from sample_rate * speed to sample_rate (soxr, VHQ)."""
    import soxr

    return soxr.resample(frames, float(sample_rate) * speed, float(sample_rate), quality="VHQ").astype(np.float32)


def fit_loop(loop: Any, *, bpm: float, mode: str = "stretch", what: str = "the loop") -> Any:
    """A `LoopAudio` (cratedigger.library.export) played at `bpm`: same bars, the new tempo."""
    check_fit(bpm=loop.bpm, target_bpm=bpm, mode=mode, what=what)
    audio = fit_to_tempo(loop.audio, sample_rate=loop.sample_rate, bpm=loop.bpm, target_bpm=bpm, beats=loop.beats, mode=mode)
    return dataclasses.replace(loop, audio=audio, bpm=float(bpm))


def check_sample_fit(sample: Any, *, bpm: float, mode: str) -> None:
    """Fail before anything is written when a library `Sample` cannot be fitted to `bpm`."""
    check_fit(bpm=sample.bpm, target_bpm=bpm, mode=mode, what=f"sample {sample.id} ({sample.name})")


def semitones(ratio: float) -> float:
    """How far re-pitching by a speed ratio moves the pitch, in semitones."""
    return 12.0 * math.log2(ratio)


__all__ = [
    "FIT_MODES", "MAX_RATIO", "MIN_RATIO", "check_fit", "check_sample_fit", "fit_loop", "fit_to_tempo", "fitted_frames",
    "semitones",
]
