"""Fit a steady beat grid (tempo, phase, meter, downbeat) to beat and downbeat activations.

Breaks are played to a steady tempo and loops are cut from them, so instead of tracking a tempo that
may wander (madmom's DBN), we fit one rigid grid to the whole clip. Candidates are the strongest
peaks of a beat-score curve over 50-220 BPM; they include the usual wrong readings of a tempo T
(2T, T/2, 3T/2, 2T/3, T/3), and we choose between them with all the evidence at once:

- beat evidence: activation on the grid minus activation half-way between grid points (what tells
  T from T/2: at T/2 the half-way points are real beats), minus activation on both thirds when they
  are nearly as strong as the beats (T/3); a compound meter's weaker thirds are not penalised;
- downbeat evidence: downbeat activation on the chosen bar positions minus on the other beats;
- a tempo prior suited to breaks: flat over 80-170 BPM, falling off outside;
- a meter prior: 4 over 3 over 2;
- the clip's length, when it is a whole number of bars at that tempo (and then the exact tempo).

Then the drums correct the reading where the networks' usual errors are (drum_readings.py): with
kick- and snare-band onsets (backends.drum_band_envelopes), a half-time bar is counted at half the
tempo (snare on 2 and 4), a four-on-the-floor read at 2/3 and a shuffle read in 3 or in its triplets
go back to their tempo, trap read at half speed goes to its fast tempo, and a bar of 2 whose halves
differ becomes a bar of 4. Beat-1 evidence itself is in bar_evidence.py.

Finally tempo and phase are sharpened by a least-squares line through the activation peaks.
All inputs are activations in 0..1 at `fps` frames per second; all outputs are in seconds and BPM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d

from cratedigger.analysis import drum_readings
from cratedigger.analysis.bar_evidence import downbeat_choice, sample
from cratedigger.analysis.grid_params import GridParams

MIN_BPM, MAX_BPM = 50.0, 220.0
EDGE_SLACK = 0.03  # seconds: grid points this close outside the clip still count as its beats


@dataclass(frozen=True)
class Grid:
    bpm: float
    phase: float  # seconds of grid beat 0 (near the clip's start; may be a few ms negative)
    beats_per_bar: int
    downbeat_index: int  # which beat of the grid (0..beats_per_bar-1) is the first downbeat
    score: float
    beat_score: float
    downbeat_score: float
    runner_up: float  # best score of a candidate at a clearly different tempo
    lift: float  # mean activation on the grid minus the clip's mean activation: is there a beat at all
    # downbeat contrast of the chosen bar position minus that of the next-best one in the same meter:
    # near 0, beat 1 is a coin toss between two beats of the bar even when the tempo is sure
    downbeat_margin: float = 0.0


def _beat_scores(act: np.ndarray, period: float, params: GridParams) -> tuple[float, float]:
    """Best (score, phase in frames) of a grid with `period` frames over all phases."""
    n = act.size
    phases = np.arange(0.0, period, 1.0)
    k = np.arange(int(np.ceil(n / period)) + 1)
    on = phases[:, None] + k[None, :] * period  # [phases, beats]
    s_on = _grid_mean(act, on)
    s_half = _grid_mean(act, on + period / 2.0)
    # both thirds active = the T/3 error (its half-way points fall between beats, its thirds on
    # beats); only the 2/3 point active is just swing, which must not count against T
    s_third = np.minimum(_grid_mean(act, on + period / 3.0), _grid_mean(act, on + 2.0 * period / 3.0))
    # ...but thirds clearly weaker than the beats are a compound meter's subdivision (6/8, 12/8)
    s_third = np.maximum(0.0, s_third - params.third_ratio * s_on)
    score = s_on - params.midpoint_weight * s_half - params.third_weight * s_third
    best = int(np.argmax(s_on + 0.25 * score))  # phase: mostly where the grid sits on activation
    return float(score[best]), float(phases[best])


def _grid_mean(act: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Mean activation over the grid points inside the clip, per row (phase) of pos."""
    valid = pos < act.size
    return np.where(valid, sample(act, pos), 0.0).sum(1) / np.maximum(valid.sum(1), 1)


def _margin(contrasts: np.ndarray) -> float:
    """Best minus second-best contrast; a meter of one position has nothing to confuse."""
    if contrasts.size < 2:
        return 1.0
    top = np.sort(contrasts)[::-1]
    return float(top[0] - top[1])


def _length_bonus(duration: float, bpm: float, meter: int, tol: float) -> float:
    """1 when the clip is a whole number of bars at this tempo (within tol of a beat), else 0."""
    beats = duration * bpm / 60.0
    bars = beats / meter
    whole = round(bars)
    if whole < 1:
        return 0.0
    return 1.0 if abs(bars - whole) * meter < tol * 4 else 0.0


def fit_grid(beat_act: np.ndarray, down_act: np.ndarray, *, fps: float, duration: float,
             params: GridParams = GridParams(),
             bands: tuple[np.ndarray, np.ndarray] | None = None) -> Grid | None:
    """Fit the best steady grid. beat_act: activation of any beat (downbeats included), [frames].

    bands: optional (kick, snare) onset envelopes, [frames] at fps in 0..1 (backends.drum_band_envelopes),
    evidence for where beat 1 is beside the downbeat activation.
    """
    if beat_act.size < 2 * fps * 60.0 / MAX_BPM:
        return None
    # a little tolerance for hits a few ms off the grid (live playing, swing, the RNN's own jitter)
    act = maximum_filter1d(beat_act.astype(np.float64), size=3, mode="constant")
    down = maximum_filter1d(down_act.astype(np.float64), size=3, mode="constant")
    if bands is not None:  # flux peaks may sit a frame or two either side of the network's beat
        bands = tuple(maximum_filter1d(np.asarray(b, np.float64)[: act.size], size=5, mode="constant")
                      for b in bands)
    n_steps = int(np.log2(MAX_BPM / MIN_BPM) * params.steps_per_octave) + 1
    tempi = MIN_BPM * 2.0 ** (np.arange(n_steps) / params.steps_per_octave)
    curve = np.array([_beat_scores(act, 60.0 * fps / t, params)[0] for t in tempi])
    # candidates: local maxima of the beat-score curve, best first
    peaks = [i for i in range(n_steps) if curve[i] >= curve[max(0, i - 1)] and curve[i] >= curve[min(n_steps - 1, i + 1)]]
    peaks = sorted(peaks, key=lambda i: -curve[i])[:8]
    results = []
    for i in peaks:
        bpm = _refine(act, tempi[i], fps, params)
        bscore, phase = _beat_scores(act, 60.0 * fps / bpm, params)
        period = 60.0 * fps / bpm
        frames = np.arange(phase, act.size, period)
        prior = tempo_log_prior(bpm, params)
        for meter, mprior in params.meter_prior:
            c, ev = downbeat_choice(down, bands, frames, meter)
            j = int(np.argmax(c + params.band_weight * ev))
            # the tempo and meter are chosen on how clear madmom's bar is, whichever beat is 1
            dscore = float(c.max() + params.band_score_weight * ev[j])
            lbonus = _length_bonus(duration, bpm, meter, params.length_tolerance)
            total = (bscore + params.downbeat_weight * dscore + params.prior_weight * prior + mprior
                     + params.length_weight * lbonus)
            results.append((total, bpm, phase / fps, meter, j, bscore, dscore))
    if not results:
        return None
    results.sort(key=lambda r: -r[0])
    best = results[0]
    if bands is not None:
        best = drum_readings.correct(best, results, down, bands, fps, params)
    runner = max((r[0] for r in results if abs(np.log2(r[1] / best[1])) > 0.1), default=-np.inf)
    bpm, phase = _regress(beat_act, fps, best[1], best[2])
    bpm = _snap_to_length(bpm, duration, best[3], params.length_tolerance)
    period = 60.0 * fps / bpm
    lift = float(_grid_mean(act, np.array([np.arange(phase * fps, act.size, period)]))[0] - act.mean())
    c, ev = downbeat_choice(down, bands, np.arange(best[2] * fps, act.size, 60.0 * fps / best[1]), best[3])
    margin = _margin(c + params.band_weight * ev)
    return Grid(bpm=bpm, phase=phase, beats_per_bar=best[3], downbeat_index=best[4], score=best[0],
                beat_score=best[5], downbeat_score=best[6], runner_up=float(runner), lift=lift,
                downbeat_margin=margin)


def _regress(beat_act: np.ndarray, fps: float, bpm: float, phase: float) -> tuple[float, float]:
    """Sharpen tempo and phase past the 10 ms frame grid: least squares through the activation peaks.

    Each grid beat takes the parabola-interpolated peak of the raw activation within ±50 ms; weak or
    far peaks are left out. Returns the input unchanged when too few beats are clear.
    """
    period = 60.0 * fps / bpm
    centres = np.arange(phase * fps, beat_act.size, period)
    ks, ts = [], []
    floor = 0.3 * float(beat_act.max())
    for k, c in enumerate(centres):
        lo, hi = max(1, int(c) - 5), min(beat_act.size - 1, int(c) + 6)
        if hi - lo < 3:
            continue
        i = lo + int(np.argmax(beat_act[lo:hi]))
        if beat_act[i] < floor or i in (lo, hi - 1):
            continue
        a, b, c2 = beat_act[i - 1], beat_act[i], beat_act[i + 1]
        den = a - 2 * b + c2
        ks.append(k)
        ts.append(i + (0.5 * (a - c2) / den if den < 0 else 0.0))
    if len(ks) < 3:
        return bpm, phase
    k, t = np.array(ks, float), np.array(ts, float)
    for _ in range(2):  # one robust pass: drop beats far off the first fit
        slope, icept = np.polyfit(k, t, 1)
        keep = np.abs(t - (icept + slope * k)) < 2.5
        if keep.sum() < 3:
            break
        k, t = k[keep], t[keep]
    slope, icept = np.polyfit(k, t, 1)
    if abs(slope / period - 1.0) > 0.02:
        return bpm, phase
    return 60.0 * fps / slope, icept / fps


def tempo_log_prior(bpm: float, params: GridParams) -> float:
    """Flat over the usual breaks range, falling off (log-normal in octaves) outside it."""
    lo, hi = params.prior_range
    octaves = np.log2(lo / bpm) if bpm < lo else (np.log2(bpm / hi) if bpm > hi else 0.0)
    return float(-0.5 * (octaves / params.prior_octaves) ** 2)


def _refine(act: np.ndarray, bpm: float, fps: float, params: GridParams) -> float:
    """A fine scan of +-1 coarse step around bpm (the coarse curve is 1/120 octave apart)."""
    step = 2.0 ** (1.0 / params.steps_per_octave)
    fine = bpm * step ** np.linspace(-1.0, 1.0, 9)
    scores = [_beat_scores(act, 60.0 * fps / t, params)[0] for t in fine]
    return float(fine[int(np.argmax(scores))])


def _snap_to_length(bpm: float, duration: float, meter: int, tol: float) -> float:
    """When the clip is a whole number of bars at about bpm, take the exact tempo that makes it so."""
    bars = duration * bpm / 60.0 / meter
    whole = round(bars)
    if whole >= 1 and abs(bars - whole) * meter < tol * 4:
        return whole * meter * 60.0 / duration
    return bpm


def grid_times(grid: Grid, duration: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beat times, downbeat times (seconds) and 1-based bar positions of a fitted grid.

    Beat k of the grid sits at phase + k * period (k may be negative); beat k = downbeat_index is a
    downbeat. A grid point a hair outside the clip (within EDGE_SLACK) is clamped in: the grid is
    fitted at 10 ms resolution and a loop's first beat is its sample 0. The end is exclusive.
    """
    period = 60.0 / grid.bpm
    k_first = int(np.ceil((-EDGE_SLACK - grid.phase) / period))
    k_last = int(np.floor((duration - 1e-9 - grid.phase) / period))
    k = np.arange(k_first, k_last + 1)
    beats = np.clip(grid.phase + k * period, 0.0, max(0.0, duration - 1e-6))
    if beats.size >= 2 and beats[-1] - beats[-2] < 0.5 * period:  # both clamped onto the end
        beats, k = beats[:-1], k[:-1]
    positions = ((k - grid.downbeat_index) % grid.beats_per_bar) + 1
    return beats, beats[positions == 1], positions.astype(int)
