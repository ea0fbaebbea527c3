"""The one audio check: every engine entry point that takes audio in memory calls `validate_audio`.

It raises errors.BadAudioError, one line that names what is wrong ("loop audio: contains NaN or
infinite samples"), whichever module asked.
"""

from __future__ import annotations

import numpy as np

from cratedigger.errors import BadAudioError


def check_sample_rate(sample_rate: object, *, what: str = "audio") -> int:
    """A positive whole number of Hz (an int, or a float such as 44100.0) -> int."""
    ok = not isinstance(sample_rate, bool) and isinstance(sample_rate, (int, float, np.integer, np.floating))
    if not ok or not np.isfinite(sample_rate) or int(sample_rate) != sample_rate or int(sample_rate) <= 0:
        raise BadAudioError(f"{what}: sample rate must be a positive integer, got {sample_rate!r}")
    return int(sample_rate)


def validate_audio(audio: object, *, sample_rate: object = None, what: str = "audio", mono: bool = False) -> np.ndarray:
    """Return `audio` as float32 [n] or [n, ch] (mono=True: only [n]); n > 0, every sample finite.

    sample_rate, when given, must be a positive integer. No copy when audio is float32 already.
    """
    if sample_rate is not None:
        check_sample_rate(sample_rate, what=what)
    arr = np.asarray(audio)
    if mono and arr.ndim != 1:
        raise BadAudioError(f"{what}: expected mono audio [samples], got shape {arr.shape}")
    if arr.ndim not in (1, 2):
        raise BadAudioError(f"{what}: expected [samples] or [samples, channels], got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.size == 0:
        raise BadAudioError(f"{what}: holds no samples")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise BadAudioError(f"{what}: samples must be numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if not np.all(np.isfinite(arr)):
        raise BadAudioError(f"{what}: contains NaN or infinite samples")
    return arr
