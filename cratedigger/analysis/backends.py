"""Beat and downbeat activations from audio: madmom's RNNs (main) or librosa onset envelopes (fallback).

Each backend maps mono float32 audio to (beat, downbeat) activations in 0..1 at FPS frames per
second; "beat" includes downbeats. The grid fitting that turns them into a tempo is shared.
"""

from __future__ import annotations

import numpy as np
import soxr

from cratedigger.analysis import _madmom

FPS = 100


def madmom_activations(mono: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """madmom's downbeat RNN ensemble. Its models are CC BY-NC-SA 4.0 (see _madmom)."""
    if sample_rate != _madmom.MADMOM_SR:  # the networks only know 44.1 kHz
        mono = soxr.resample(mono, sample_rate, _madmom.MADMOM_SR).astype(np.float32)
    beat_only, down = _madmom.downbeat_activations(mono)
    return np.clip(beat_only + down, 0.0, 1.0), down


def librosa_activations(mono: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Spectral-flux onset strength as beat activation; its low band (kick drum) as downbeat hint.

    No trained model here, so downbeats are a weaker guess: kicks tend to land on the one.
    """
    import librosa

    hop = max(1, int(round(sample_rate / FPS)))
    spec = np.abs(librosa.stft(y=mono, n_fft=2048, hop_length=hop))
    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=2048)
    # flux of linear magnitude, not dB: loud kicks and snares must outweigh quiet hats, or every
    # eighth note looks like a beat and the grid locks onto odd groupings of them
    flux = np.maximum(0.0, np.diff(spec, axis=1, prepend=spec[:, :1]))
    full = flux.sum(axis=0)
    low = flux[freqs < 160.0].sum(axis=0)
    # librosa frames are hop/sr apart; re-time them to exactly FPS so the grid code can trust fps
    t_src = np.arange(full.size) * hop / sample_rate
    t_dst = np.arange(int(mono.size / sample_rate * FPS)) / FPS
    beat = np.interp(t_dst, t_src, _normalise(full))
    down = np.interp(t_dst, t_src, _normalise(low)) * beat
    return beat.astype(np.float32), down.astype(np.float32)


def _normalise(env: np.ndarray) -> np.ndarray:
    """Scale an onset envelope to about 0..1, robust to one huge hit."""
    top = float(np.percentile(env, 99)) if env.size else 0.0
    if top <= 1e-9:
        return np.zeros_like(env, dtype=np.float64)
    return np.clip(env / top, 0.0, 1.0)
