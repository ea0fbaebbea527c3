"""Small pure DSP helpers: downmix, normalise, fades, crossfades, zero crossings, peak overviews."""

from __future__ import annotations

import numpy as np

from cratedigger.errors import BadParameterError


def to_mono(audio: np.ndarray) -> np.ndarray:
    """float32 [n] or [n, ch] -> float32 [n] (mean of channels)."""
    audio = np.asarray(audio, dtype=np.float32)
    return audio if audio.ndim == 1 else audio.mean(axis=1, dtype=np.float32)


def peak_normalise(audio: np.ndarray, *, peak: float = 0.98) -> np.ndarray:
    """Scale so the largest absolute sample is `peak`; silence is returned unchanged."""
    audio = np.asarray(audio, dtype=np.float32)
    top = float(np.max(np.abs(audio))) if audio.size else 0.0
    if top <= 1e-9:
        return audio.copy()
    return (audio * (peak / top)).astype(np.float32)


def fade_edges(audio: np.ndarray, *, sample_rate: int, fade_ms: float = 3.0) -> np.ndarray:
    """Short raised-cosine fade in and out so a loop wraps without a click. Works on [n] or [n, ch]."""
    if fade_ms < 0:
        raise BadParameterError(f"fade_ms must be >= 0, got {fade_ms}")
    out = np.array(audio, dtype=np.float32, copy=True)
    n = min(int(round(sample_rate * fade_ms / 1000.0)), out.shape[0] // 2)
    if n < 1:
        return out
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n, dtype=np.float64))).astype(np.float32)
    if out.ndim == 2:
        ramp = ramp[:, None]
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return out


def equal_power_crossfade(head: np.ndarray, tail: np.ndarray, *, overlap: int) -> np.ndarray:
    """Join `head` and `tail`, overlapping the last `overlap` samples of head with tail's first.

    Equal-power (sin/cos) gains keep loudness steady across the join for uncorrelated material.
    head's samples before the overlap are copied unchanged.
    """
    head = np.asarray(head, dtype=np.float32)
    tail = np.asarray(tail, dtype=np.float32)
    overlap = int(overlap)
    if overlap < 0 or overlap > min(head.shape[0], tail.shape[0]):
        raise BadParameterError(f"overlap {overlap} does not fit head {head.shape[0]} / tail {tail.shape[0]}")
    if overlap == 0:
        return np.concatenate([head, tail], axis=0)
    t = np.linspace(0.0, np.pi / 2, overlap, dtype=np.float64)
    fade_out = np.cos(t).astype(np.float32)
    fade_in = np.sin(t).astype(np.float32)
    if head.ndim == 2:
        fade_out, fade_in = fade_out[:, None], fade_in[:, None]
    mixed = head[-overlap:] * fade_out + tail[:overlap] * fade_in
    return np.concatenate([head[:-overlap], mixed, tail[overlap:]], axis=0)


def nearest_zero_crossing(signal: np.ndarray, index: int, *, max_distance: int) -> int:
    """Index of the rising-or-falling zero crossing nearest `index` within `max_distance` samples.

    Returns `index` unchanged when none is that close. `signal` is mono float [n].
    """
    n = signal.shape[0]
    lo, hi = max(1, index - max_distance), min(n - 1, index + max_distance)
    if hi <= lo:
        return int(np.clip(index, 0, n))
    window = signal[lo - 1 : hi + 1]
    sign = np.signbit(window)
    crossings = np.nonzero(sign[1:] != sign[:-1])[0] + lo
    if crossings.size == 0:
        return int(index)
    return int(crossings[np.argmin(np.abs(crossings - index))])


def peak_overview(audio: np.ndarray, *, n_bins: int) -> np.ndarray:
    """Min/max envelope for thumbnails: float32 [n_bins, 2] over the mono downmix."""
    if n_bins < 1:
        raise BadParameterError(f"n_bins must be >= 1, got {n_bins}")
    mono = to_mono(audio)
    if mono.size == 0:
        return np.zeros((n_bins, 2), dtype=np.float32)
    edges = np.linspace(0, mono.size, n_bins + 1).astype(np.int64)
    edges[1:] = np.maximum(edges[1:], edges[:-1] + 1)
    edges = np.minimum(edges, mono.size)
    out = np.zeros((n_bins, 2), dtype=np.float32)
    starts = np.minimum(edges[:-1], mono.size - 1)
    out[:, 0] = np.minimum.reduceat(mono, starts)
    out[:, 1] = np.maximum.reduceat(mono, starts)
    return out
