"""Explicit sample-rate conversion (soxr). Nothing in the engine resamples unless it calls this.

Every soxr call in the engine goes through `resample`, and its settings are stated here once:
KEEP for audio that is written or handed on (exports, extensions, tempo fits, model input),
LISTEN for audio that is only heard or measured (playback, beat tracking, training images), where
soxr's HQ is about twice as fast and its error (< -100 dB) is far below what a speaker, a beat
tracker or an 8-bit mel image can show.
"""

from __future__ import annotations

import math

import numpy as np

from cratedigger.errors import BadParameterError

KEEP = "VHQ"
LISTEN = "HQ"
QUALITIES = (KEEP, LISTEN)


def resample(audio: np.ndarray, *, from_rate: float, to_rate: float, quality: str = KEEP) -> np.ndarray:
    """float32 [n] or [n, ch] at from_rate -> float32 at to_rate (a copy when the rates match).

    Rates are Hz; fractional rates are allowed (a repitch resamples from rate * speed).
    """
    if quality not in QUALITIES:
        raise BadParameterError(f"resample quality must be one of {', '.join(QUALITIES)}, got {quality!r}")
    for rate in (from_rate, to_rate):
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
                or not math.isfinite(rate) or rate <= 0:
            raise BadParameterError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    audio = np.asarray(audio, dtype=np.float32)
    if from_rate == to_rate:
        return audio.copy()
    import soxr

    return soxr.resample(audio, from_rate, to_rate, quality=quality).astype(np.float32, copy=False)


def to_model_audio(audio: np.ndarray, *, sample_rate: int, model_rate: int) -> np.ndarray:
    """Any audio -> what a model hears: mono float32 [n] at the model's rate."""
    from cratedigger.audio.dsp import to_mono

    return resample(to_mono(audio), from_rate=sample_rate, to_rate=model_rate)
