"""Evidence for where beat 1 is and how a groove repeats, read off activations and drum bands.

Everything here works on arrays at a common frame rate: activations in 0..1 (madmom's or librosa's),
the kick- and snare-band onset envelopes of backends.drum_band_envelopes, and beat positions in
fractional frames. grid.py fits a grid with it; drum_readings.py corrects a reading with it.
"""

from __future__ import annotations

import numpy as np


def sample(act: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Linear interpolation of act at fractional frame positions (outside -> 0)."""
    return np.interp(pos, np.arange(act.size), act, left=0.0, right=0.0)


def downbeat_contrasts(down: np.ndarray, beat_frames: np.ndarray, meter: int) -> np.ndarray:
    """Downbeat activation on every meter-th beat minus on the other beats, for each start j < meter."""
    if beat_frames.size < meter + 1:
        return np.zeros(meter)
    vals = sample(down, beat_frames)
    out = np.empty(meter)
    for j in range(meter):
        sel = (np.arange(vals.size) - j) % meter == 0
        out[j] = vals[sel].mean() - vals[~sel].mean()
    return out


# Where drummers put the kick and the snare in a bar, per meter: (kick, snare) weights for beats
# 1..meter. Beat 1 is where the clip's kick/snare pattern best matches one of these, rotated.
# 4: backbeat (kick 1 and a lighter 3, snare 2 and 4; four-on-the-floor's even kicks add nothing
# and its claps on 2 and 4 decide), half-time (snare on 3, trap), one-drop (kick and snare on 3,
# nothing on 1: the convention that puts the drop on 3 and not on 1).
BAR_TEMPLATES: dict[int, tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]] = {
    2: (((1, 0), (0, 1)),),
    3: (((1, 0, 0), (0, 1, 1)),),
    4: (((1, 0, 0.5, 0), (0, 1, 0, 1)), ((1, 0, 0, 0), (0, 0, 1, 0)), ((0, 0, 1, 0), (0, 0, 1, 0))),
    5: (((1, 0, 0, 0, 0), (0, 1, 0, 1, 0)),),
}


def band_profile(band: np.ndarray, beat_frames: np.ndarray, meter: int) -> np.ndarray:
    """Mean band strength on the beats at each bar position (grid beat index mod meter), scaled by
    the strongest position; a band nearly silent on the beats (below 0.1) stays small."""
    vals = sample(band, beat_frames)
    prof = np.array([vals[p::meter].mean() for p in range(meter)])
    return prof / max(0.1, float(prof.max()))


BAND_DEADZONE = 0.1  # bar positions within this of the band's mean are one level (velocity spread, not a pattern)


def shrink(profile: np.ndarray) -> np.ndarray:
    """Centre a bar profile and shrink it toward zero by BAND_DEADZONE: an even ride with a little
    velocity spread says nothing about beat 1, a backbeat still does."""
    x = profile - profile.mean()
    return np.sign(x) * np.maximum(np.abs(x) - BAND_DEADZONE, 0.0)


def band_evidence(bands: tuple[np.ndarray, np.ndarray], beat_frames: np.ndarray, meter: int) -> np.ndarray:
    """For each start j < meter: how well kick and snare on the beats fit a bar template with beat 1
    on grid beat j (the best template for that j), [meter]. Zeros where no template is known."""
    templates = BAR_TEMPLATES.get(meter)
    if not templates or beat_frames.size < meter + 1:
        return np.zeros(meter)
    kick, snare = (shrink(band_profile(b, beat_frames, meter)) for b in bands)
    out = np.full(meter, -np.inf)
    for k_t, s_t in templates:
        k_t, s_t = np.asarray(k_t, float), np.asarray(s_t, float)
        k_t, s_t = k_t - k_t.mean(), s_t - s_t.mean()
        for j in range(meter):
            # template beat q is grid beat j + q
            out[j] = max(out[j], float(k_t @ np.roll(kick, -j) + s_t @ np.roll(snare, -j)))
    return out


def downbeat_choice(down: np.ndarray, bands, beat_frames: np.ndarray, meter: int) -> tuple[np.ndarray, np.ndarray]:
    """(madmom's downbeat contrast, drum-band template evidence), each [meter]: one per start j."""
    c = downbeat_contrasts(down, beat_frames, meter)
    if bands is None:
        return c, np.zeros(meter)
    return c, band_evidence(bands, beat_frames, meter)


def repeats(env: np.ndarray, lag: float) -> float:
    """Normalised correlation of an envelope with itself `lag` frames later (0 when too short)."""
    lag = int(round(lag))
    if lag < 1 or env.size - lag < lag:
        return 0.0
    a, b = env[:-lag] - env[:-lag].mean(), env[lag:] - env[lag:].mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / den if den > 1e-12 else 0.0
