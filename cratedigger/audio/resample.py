"""Explicit sample-rate conversion (soxr). Nothing in the engine resamples unless it calls this."""

from __future__ import annotations

import numpy as np

from cratedigger.errors import BadParameterError


def resample(audio: np.ndarray, *, from_rate: int, to_rate: int, quality: str = "VHQ") -> np.ndarray:
    """float32 [n] or [n, ch] at from_rate -> float32 at to_rate (a copy when the rates match)."""
    if from_rate <= 0 or to_rate <= 0:
        raise BadParameterError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    audio = np.asarray(audio, dtype=np.float32)
    if from_rate == to_rate:
        return audio.copy()
    import soxr

    return soxr.resample(audio, from_rate, to_rate, quality=quality).astype(np.float32)


def to_model_audio(audio: np.ndarray, *, sample_rate: int, model_rate: int) -> np.ndarray:
    """Any audio -> what a model hears: mono float32 [n] at the model's rate."""
    from cratedigger.audio.dsp import to_mono

    return resample(to_mono(audio), from_rate=sample_rate, to_rate=model_rate)
