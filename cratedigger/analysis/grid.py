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

Then the drums correct the reading where the networks' usual errors are: with kick- and snare-band
onsets (backends.drum_band_envelopes), a half-time bar is counted at half the tempo (snare on 2 and
4), a four-on-the-floor read at 2/3 and a shuffle read in 3 or in its triplets go back to their tempo,
trap read at half speed goes to its fast tempo, and a bar of 2 whose halves differ becomes a bar of 4.

Finally tempo and phase are sharpened by a least-squares line through the activation peaks.
All inputs are activations in 0..1 at `fps` frames per second; all outputs are in seconds and BPM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d

MIN_BPM, MAX_BPM = 50.0, 220.0
EDGE_SLACK = 0.03  # seconds: grid points this close outside the clip still count as its beats


@dataclass(frozen=True)
class GridParams:
    """Weights of the evidence; defaults were set on the corpus built by benchmarks/corpus."""

    midpoint_weight: float = 0.3  # how much activation half-way between beats counts against a tempo
    third_weight: float = 0.3  # ...and a third of the way (T/3 errors)
    third_ratio: float = 0.7  # thirds weaker than this fraction of the beats are not penalised
    downbeat_weight: float = 1.0
    # drum-band evidence for beat 1 (kick and snare templates) beside madmom's downbeat contrast: its
    # values run ~0..1.5 against madmom's ~0..0.5, so 2 lets a clear drum pattern overrule a network
    # that hears the clap of a four-on-the-floor or a one-drop's drop as beat 1. Set on the tune split
    # of benchmarks/groove_corpus.py (54 clips, --per-kind 6) and benchmarks/corpus: 3 did as well on
    # the first and cost the second's rock and lmms loops downbeats
    band_weight: float = 2.0
    # ...and how much it counts when choosing between tempi and meters: 0.05 helped the groove corpus
    # but read a plain 88 BPM rock kit at 176 (a half-time bar), so tempo and meter stay madmom's
    band_score_weight: float = 0.0
    # kicks half-way between the 16th notes of a tempo (its 32nds; a trap kick on the "a" of 1 read
    # at half speed) stronger than this fraction of the kicks on the beats: the tempo is twice that
    kick_32nds_limit: float = 0.25  # set on the groove corpus tune split (0.2-0.3 alike)
    # a 2 is read as 4 when the kick and snare pattern repeats clearly better every 4 beats than every 2
    # (by this much normalised correlation): a bar of 4 whose halves differ is not two bars of 2
    bar_repeat_margin: float = 0.03  # tune split: 0.01-0.05 alike
    # a bar of 4 whose only snare is on 3 (a half-time bar) is a backbeat bar at half the tempo, snare
    # on 2 and 4: a producer counts a slow 16th-note groove (a ballad at 64, half-time at 74) at the
    # slow tempo. Taken when the snare on 3 stands out of the bar's other beats by this much (profile
    # scaled to its loudest beat, 0..1) and half the tempo is at least halftime_floor_bpm; trap, whose
    # kicks then sit on 32nds, goes back to the fast tempo (kick_32nds_limit). 0 turns it off.
    # These four rules were set on the groove corpus tune split (78 clips, --per-kind 6) and
    # benchmarks/corpus: 0.25-0.5 alike here, 1.0 and 0.3 below (1.5/0.75 also; 0.2 cost a tune clip)
    halftime_snare_lift: float = 0.4
    halftime_floor_bpm: float = 55.0
    # open hats on the off-beats of a four-on-the-floor pull the beat score to 2/3 of the tempo (a
    # grid on kick, hat, kick, hat...); when the reading at 3/2 has a kick on every beat and none
    # half-way between, that is the tempo. Off-beat kicks then fail the test, so shuffles stay put
    four_floor_rule: bool = True
    # the backbeat falls on a beat: a reading whose loudest snares sit half-way between its beats (a
    # 12/8 shuffle read in 3 at 3/2 its tempo: a blues at 60 read at 90) gives way to the reading at
    # 2/3 its tempo when there the snares are on the beats. 0 turns it off
    offbeat_snare_ratio: float = 1.0
    onbeat_snare_ratio: float = 0.3  # ...and at 2/3 its tempo the snare between the beats is below this
    # a groove read in 2 or 4 that repeats every 3 and 6 of its beats, not every 2 or 4, is counted in
    # its triplets (a 12/8 shuffle at 60 read at 180): the tempo is a third. 0 turns it off
    triple_repeat_margin: float = 0.2
    prior_range: tuple[float, float] = (80.0, 170.0)  # no preference inside; most breaks are here
    prior_octaves: float = 0.3  # how fast the prior falls off outside the range (std, in octaves)
    prior_weight: float = 0.2
    # breaks are overwhelmingly in 4; a 3 must be clearly heard. This also guards the x3/2 error on
    # swung and shuffled grooves, whose wrong grid (a beat every swung eighth) fits bars of three.
    # 5 (5/4) only wins when its bars are heard; 2 is kept for 6/8 read in dotted quarters, but a 4/4
    # groove read in 2 halves its downbeats, so it needs a little more evidence than before (-0.02).
    # Set on the groove corpus tune split and benchmarks/corpus (5 at -0.05 gave the latter an octave
    # error, -0.1 lost a 5/4 clip of the unseen kits); benchmarks/corpus still loses one tempo (0.92 -> 0.91)
    meter_prior: tuple[tuple[int, float], ...] = ((4, 0.04), (3, -0.1), (2, -0.04), (5, -0.07))
    length_weight: float = 0.06
    length_tolerance: float = 0.015  # fraction of a beat the clip may be off a whole number of bars
    steps_per_octave: int = 120


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


def _sample(act: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Linear interpolation of act at fractional frame positions (outside -> 0)."""
    return np.interp(pos, np.arange(act.size), act, left=0.0, right=0.0)


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
    return np.where(valid, _sample(act, pos), 0.0).sum(1) / np.maximum(valid.sum(1), 1)


def _downbeat_contrasts(down: np.ndarray, beat_frames: np.ndarray, meter: int) -> np.ndarray:
    """Downbeat activation on every meter-th beat minus on the other beats, for each start j < meter."""
    if beat_frames.size < meter + 1:
        return np.zeros(meter)
    vals = _sample(down, beat_frames)
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


def _band_profile(band: np.ndarray, beat_frames: np.ndarray, meter: int) -> np.ndarray:
    """Mean band strength on the beats at each bar position (grid beat index mod meter), scaled by
    the strongest position; a band nearly silent on the beats (below 0.1) stays small."""
    vals = _sample(band, beat_frames)
    prof = np.array([vals[p::meter].mean() for p in range(meter)])
    return prof / max(0.1, float(prof.max()))


BAND_DEADZONE = 0.1  # bar positions within this of the band's mean are one level (velocity spread, not a pattern)


def _shrink(profile: np.ndarray) -> np.ndarray:
    """Centre a bar profile and shrink it toward zero by BAND_DEADZONE: an even ride with a little
    velocity spread says nothing about beat 1, a backbeat still does."""
    x = profile - profile.mean()
    return np.sign(x) * np.maximum(np.abs(x) - BAND_DEADZONE, 0.0)


def _band_evidence(bands: tuple[np.ndarray, np.ndarray], beat_frames: np.ndarray, meter: int) -> np.ndarray:
    """For each start j < meter: how well kick and snare on the beats fit a bar template with beat 1
    on grid beat j (the best template for that j), [meter]. Zeros where no template is known."""
    templates = BAR_TEMPLATES.get(meter)
    if not templates or beat_frames.size < meter + 1:
        return np.zeros(meter)
    kick, snare = (_shrink(_band_profile(b, beat_frames, meter)) for b in bands)
    out = np.full(meter, -np.inf)
    for k_t, s_t in templates:
        k_t, s_t = np.asarray(k_t, float), np.asarray(s_t, float)
        k_t, s_t = k_t - k_t.mean(), s_t - s_t.mean()
        for j in range(meter):
            # template beat q is grid beat j + q
            out[j] = max(out[j], float(k_t @ np.roll(kick, -j) + s_t @ np.roll(snare, -j)))
    return out


def _downbeat_choice(down: np.ndarray, bands, beat_frames: np.ndarray, meter: int,
                     params: GridParams) -> tuple[np.ndarray, np.ndarray]:
    """(madmom's downbeat contrast, drum-band template evidence), each [meter]: one per start j."""
    c = _downbeat_contrasts(down, beat_frames, meter)
    if bands is None:
        return c, np.zeros(meter)
    return c, _band_evidence(bands, beat_frames, meter)


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
            c, ev = _downbeat_choice(down, bands, frames, meter, params)
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
    if bands is not None and params.four_floor_rule:
        best = _four_on_the_floor_reading(best, results, bands[0], fps)
    if bands is not None and params.triple_repeat_margin > 0 and best[3] != 3:
        best = _counted_in_triplets(best, results, down, bands, fps, params)
    if bands is not None and params.offbeat_snare_ratio > 0:
        best = _snare_on_the_beats(best, results, down, bands, fps, params)
    if bands is not None and params.halftime_snare_lift > 0 and best[3] == 4:
        best = _backbeat_octave(best, results, down, bands, fps, params)
    if bands is not None and params.kick_32nds_limit > 0:
        if _kicks_on_32nds(bands[0], best[2] * fps, 60.0 * fps / best[1]) > params.kick_32nds_limit:
            # ...but only when the kicks do sit on the 16ths of the faster grid
            faster = [r for r in results if abs(r[1] / (2.0 * best[1]) - 1.0) < 0.03
                      and _kicks_on_32nds(bands[0], r[2] * fps, 60.0 * fps / r[1]) <= params.kick_32nds_limit]
            if faster:
                best = faster[0]
    if bands is not None and params.bar_repeat_margin > 0 and best[3] == 2:
        drums = bands[0] + bands[1]
        period = 60.0 * fps / best[1]
        if _repeats(drums, 4 * period) - _repeats(drums, 2 * period) > params.bar_repeat_margin:
            fours = [r for r in results if r[3] == 4 and r[1] == best[1]]
            if fours:
                best = fours[0]
    runner = max((r[0] for r in results if abs(np.log2(r[1] / best[1])) > 0.1), default=-np.inf)
    bpm, phase = _regress(beat_act, fps, best[1], best[2])
    bpm = _snap_to_length(bpm, duration, best[3], params.length_tolerance)
    period = 60.0 * fps / bpm
    lift = float(_grid_mean(act, np.array([np.arange(phase * fps, act.size, period)]))[0] - act.mean())
    c, ev = _downbeat_choice(down, bands, np.arange(best[2] * fps, act.size, 60.0 * fps / best[1]), best[3], params)
    margin = _margin(c + params.band_weight * ev)
    return Grid(bpm=bpm, phase=phase, beats_per_bar=best[3], downbeat_index=best[4], score=best[0],
                beat_score=best[5], downbeat_score=best[6], runner_up=float(runner), lift=lift,
                downbeat_margin=margin)


def _is_four_on_the_floor(kick: np.ndarray, phase: float, period: float) -> bool:
    """A kick on every beat of the grid (phase, period in frames) and little half-way between."""
    beats = np.arange(phase, kick.size, period)
    if beats.size < 8:
        return False
    vals = _sample(kick, beats)
    on = float(vals.mean())
    mid = float(_sample(kick, beats[beats + period / 2 < kick.size] + period / 2).mean())
    # nearly every beat, not most of them (a shuffle read at 3/2 has kicks on four of six)
    return bool(np.percentile(vals, 10) > 0.5 * np.percentile(vals, 90) and mid < 0.3 * on)


def _four_on_the_floor_reading(best: tuple, results: list, kick: np.ndarray, fps: float) -> tuple:
    """The reading at 3/2 best's tempo when best is a four-on-the-floor read at 2/3; best otherwise."""
    period = 60.0 * fps / best[1]
    beats = np.arange(best[2] * fps, kick.size, period)
    prof = _band_profile(kick, beats, 2)
    if prof.min() > 0.3:  # every other beat of best must be kickless (kick, hat, kick, hat...)
        return best
    for r in results:  # best first
        if r[3] == 4 and abs(r[1] / best[1] / 1.5 - 1.0) < 0.03 \
                and _is_four_on_the_floor(kick, r[2] * fps, 60.0 * fps / r[1]):
            return r
    return best


def _on_the_drums(r: tuple, down: np.ndarray, bands, fps: float, params: GridParams) -> tuple:
    """r with its phase moved by 0, 1/3 or 2/3 of a beat, to where kick and snare land on its beats, and
    beat 1 chosen again: a slower reading's phase from the beat score alone may sit on the swung notes."""
    period = 60.0 * fps / r[1]
    drums = bands[0] + bands[1]
    phases = [(r[2] * fps + k * period / 3.0) % period for k in range(3)]
    phase = max(phases, key=lambda ph: float(_sample(drums, np.arange(ph, drums.size, period)).mean()))
    c, ev = _downbeat_choice(down, bands, np.arange(phase, drums.size, period), r[3], params)
    return (r[0], r[1], phase / fps, r[3], int(np.argmax(c + params.band_weight * ev)), r[5], float(c.max()))


def _counted_in_triplets(best: tuple, results: list, down: np.ndarray, bands, fps: float,
                         params: GridParams) -> tuple:
    """The reading at a third of best's tempo when the snare band repeats in threes of best's beats."""
    period, snare = 60.0 * fps / best[1], bands[1]
    threes = min(_repeats(snare, 3 * period), _repeats(snare, 6 * period))
    if threes - max(_repeats(snare, 2 * period), _repeats(snare, 4 * period)) < params.triple_repeat_margin:
        return best
    slower = [r for r in results if r[3] != 3 and abs(r[1] * 3.0 / best[1] - 1.0) < 0.03]
    return _on_the_drums(slower[0], down, bands, fps, params) if slower else best


def _snare_off_beats(snare: np.ndarray, phase: float, period: float) -> float:
    """Snare-band strength half-way between a grid's beats over that on them (phase, period in frames)."""
    beats = np.arange(phase, snare.size, period)
    mids = beats[beats + period / 2 < snare.size] + period / 2
    if beats.size < 4 or mids.size < 3:
        return 0.0
    # the loudest hits of each, so off-beat hats leaking into the band do not outvote a backbeat
    on, off = (float(np.percentile(_sample(snare, p), 80)) for p in (beats, mids))
    return off / max(on, 1e-3)


def _snare_on_the_beats(best: tuple, results: list, down: np.ndarray, bands, fps: float,
                        params: GridParams) -> tuple:
    """The reading at 2/3 best's tempo when best's snares sit between its beats and there they do not."""
    snare = bands[1]
    if _snare_off_beats(snare, best[2] * fps, 60.0 * fps / best[1]) <= params.offbeat_snare_ratio:
        return best
    for r in results:  # best first
        if abs(r[1] / best[1] / (2.0 / 3.0) - 1.0) < 0.03:
            r = _on_the_drums(r, down, bands, fps, params)
            if _snare_off_beats(snare, r[2] * fps, 60.0 * fps / r[1]) < params.onbeat_snare_ratio:
                return r
    return best


def _backbeat_octave(best: tuple, results: list, down: np.ndarray, bands, fps: float,
                     params: GridParams) -> tuple:
    """The reading at half best's tempo when best's bar is a half-time bar (the snare only on 3),
    so that the snare lands on 2 and 4; best itself otherwise. Results are (total, bpm, phase s, meter,
    beat-1 index, beat score, downbeat score), best first."""
    half = best[1] / 2.0
    if half < params.halftime_floor_bpm:
        return best
    period = 60.0 * fps / best[1]
    frames = np.arange(best[2] * fps, bands[1].size, period)
    if frames.size < 8:  # two bars at least, or one snare could be a fill
        return best
    # whichever beat of the bar was taken as 1: one snare beat in four is a half-time bar
    snare = _band_profile(bands[1], frames, 4)
    top = int(np.argmax(snare))
    if snare[top] - np.delete(snare, top).max() < params.halftime_snare_lift:
        return best
    # a kick on every beat is four on the floor: those beats are the beats, whatever the claps do
    if _band_profile(bands[0], frames, 4).min() > 0.6:
        return best
    # the slower beats are the snare's (and so beat 1's) every other beat, not the ones between them
    slow_period = 2.0 * period
    phase = (best[2] * fps + (top % 2) * period) % slow_period
    c, ev = _downbeat_choice(down, bands, np.arange(phase, bands[1].size, slow_period), 4, params)
    j = int(np.argmax(c + params.band_weight * ev))
    slower = [r for r in results if r[3] == 4 and abs(r[1] / half - 1.0) < 0.03]
    total, beat_score = (slower[0][0], slower[0][5]) if slower else (best[0], best[5])
    return (total, half, phase / fps, 4, j, beat_score, float(c.max()))


def _repeats(env: np.ndarray, lag: float) -> float:
    """Normalised correlation of an envelope with itself `lag` frames later (0 when too short)."""
    lag = int(round(lag))
    if lag < 1 or env.size - lag < lag:
        return 0.0
    a, b = env[:-lag] - env[:-lag].mean(), env[lag:] - env[lag:].mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / den if den > 1e-12 else 0.0


def _kicks_on_32nds(kick: np.ndarray, phase: float, period: float) -> float:
    """Mean kick-band strength at the 32nd-note points between a grid's 16ths, over that on its beats
    (phase, period in frames). Drummers place kicks on 16ths, so a high value says the grid is too slow."""
    beats = np.arange(phase, kick.size, period)
    on = float(_sample(kick, beats).mean()) if beats.size else 0.0
    between = [_sample(kick, p[p < kick.size]).mean() for p in (beats + s / 8.0 * period for s in (1, 3, 5, 7))]
    return float(np.mean(between)) / max(on, 0.05)


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
