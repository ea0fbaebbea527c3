"""Beat and downbeat activations from audio: madmom's RNNs (main) or librosa onset envelopes (fallback).

Each backend maps mono float32 audio to (beat, downbeat) activations in 0..1 at FPS frames per
second; "beat" includes downbeats. The grid fitting that turns them into a tempo is shared.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import soxr

from cratedigger.analysis import _madmom

FPS = 100


def madmom_activations(mono: np.ndarray, sample_rate: int, *, networks: int = _madmom.ENSEMBLE
                       ) -> tuple[np.ndarray, np.ndarray]:
    """madmom's downbeat RNN ensemble (its first `networks`). Its models are CC BY-NC-SA 4.0 (see _madmom)."""
    if sample_rate != _madmom.MADMOM_SR:  # the networks only know 44.1 kHz
        mono = soxr.resample(mono, sample_rate, _madmom.MADMOM_SR).astype(np.float32)
    beat_only, down = _madmom.downbeat_activations(mono, networks)
    return np.clip(beat_only + down, 0.0, 1.0), down


def librosa_activations(mono: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Spectral-flux onset strength as beat activation; its low band (kick drum) as downbeat hint.

    No trained model here, so downbeats are a weaker guess: kicks tend to land on the one.
    """
    full, low = librosa_envelopes(mono, sample_rate)
    return activations_from_envelopes(full, low)


def activations_from_envelopes(full: np.ndarray, low: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw flux envelopes (whole clip, FPS) -> (beat, downbeat) activations in 0..1."""
    beat = _normalise(full)
    down = _normalise(low) * beat
    return beat.astype(np.float32), down.astype(np.float32)


def librosa_envelopes(mono: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Unnormalised spectral flux of all bands and of the low band, float64 [frames] at FPS."""
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
    return np.interp(t_dst, t_src, full), np.interp(t_dst, t_src, low)


# Drum bands for beat-1 evidence: the kick lives below KICK_HZ, the snare's body and crack between
# SNARE_HZ (above the kick, below most of the hats' energy)
KICK_HZ = 150.0
SNARE_HZ = (180.0, 2500.0)


def drum_band_envelopes(mono: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Kick-band and snare-band onset strength, float64 [frames] at FPS, on one common 0..1 scale.

    mono float32 [n] at sample_rate Hz. Linear-magnitude spectral flux per band (a ~46 ms STFT), so
    loud drums outweigh ghost notes; cheap next to the networks (a few ms per second of audio).
    """
    import librosa

    n_fft = 1 << int(np.ceil(np.log2(0.046 * sample_rate)))
    hop = max(1, int(round(sample_rate / FPS)))
    spec = np.abs(librosa.stft(y=mono, n_fft=n_fft, hop_length=hop))
    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=n_fft)
    flux = np.maximum(0.0, np.diff(spec, axis=1, prepend=spec[:, :1]))
    kick = flux[(freqs > 30.0) & (freqs < KICK_HZ)].sum(axis=0)
    snare = flux[(freqs >= SNARE_HZ[0]) & (freqs < SNARE_HZ[1])].sum(axis=0)
    t_src = np.arange(kick.size) * hop / sample_rate
    t_dst = np.arange(int(mono.size / sample_rate * FPS)) / FPS
    kick, snare = np.interp(t_dst, t_src, kick), np.interp(t_dst, t_src, snare)
    # one scale for both: a band the drums hardly touch (no kick under a ride) stays near zero
    # instead of being blown up into a pattern
    top = float(np.percentile(kick + snare, 99)) if kick.size else 0.0
    if top <= 1e-9:
        return np.zeros_like(kick), np.zeros_like(snare)
    return np.clip(kick / top, 0.0, 1.0), np.clip(snare / top, 0.0, 1.0)


# Long recordings are analysed CHUNK_S at a time, each chunk heard with CONTEXT_S of audio on either
# side (the networks are bidirectional: a beat needs what comes before and after it), so memory
# stays that of one chunk (~250 MB for madmom) however long the record is.
CHUNK_S = 60.0
CONTEXT_S = 4.0
# A long recording is heard by LONG_NETWORKS of madmom's eight: each network costs about 2/3 of all
# the feature extraction, so three halve the time. One network alone is 4x faster but reads slow
# shuffles and cajon grooves in 3 (75 s records from benchmarks/groove_corpus.py); three held them.
LONG_NETWORKS = 3


def chunked_activations(
    read: Callable[[int, int], np.ndarray], *, n_samples: int, sample_rate: int, backend: str
) -> tuple[np.ndarray, np.ndarray]:
    """(beat, downbeat) activations at FPS for a recording read piece by piece.

    read(a, b) -> mono float32 [b - a] of samples a..b (already levelled). Each chunk's activations
    are computed with its context and trimmed to the chunk, then the pieces are joined.
    """
    chunk = int(CHUNK_S * sample_rate)
    context = int(CONTEXT_S * sample_rate)
    beats, downs = [], []
    for c0 in range(0, n_samples, chunk):
        c1 = min(n_samples, c0 + chunk)
        a, b = max(0, c0 - context), min(n_samples, c1 + context)
        piece = read(a, b)
        if backend == "madmom":
            beat, down = madmom_activations(piece, sample_rate, networks=LONG_NETWORKS)
        else:
            beat, down = librosa_envelopes(piece, sample_rate)  # normalised over the whole record below
        f0 = int(round((c0 - a) / sample_rate * FPS))
        n = int(round(c1 / sample_rate * FPS)) - int(round(c0 / sample_rate * FPS))
        beats.append(_fit_frames(beat[f0 : f0 + n], n))
        downs.append(_fit_frames(down[f0 : f0 + n], n))
    beat, down = np.concatenate(beats), np.concatenate(downs)
    if backend != "madmom":
        return activations_from_envelopes(beat, down)
    return beat.astype(np.float32), down.astype(np.float32)


def _fit_frames(x: np.ndarray, n: int) -> np.ndarray:
    return x[:n] if x.size >= n else np.pad(x, (0, n - x.size))


def _normalise(env: np.ndarray) -> np.ndarray:
    """Scale an onset envelope to about 0..1, robust to one huge hit."""
    top = float(np.percentile(env, 99)) if env.size else 0.0
    if top <= 1e-9:
        return np.zeros_like(env, dtype=np.float64)
    return np.clip(env / top, 0.0, 1.0)
