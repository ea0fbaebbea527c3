"""Corrections of a grid reading from the drums: the networks' usual wrong readings, told by where
the kick and the snare fall (a producer's count: the backbeat on 2 and 4, trap at its fast tempo).

A reading is a tuple (total score, bpm, phase in seconds, meter, beat-1 index, beat score, downbeat
score), as fit_grid ranks them, best first. Each rule takes the best one and the ranked list and
returns the best one or a better-placed candidate; `correct` applies them in order.
"""

from __future__ import annotations

import numpy as np

from cratedigger.analysis.bar_evidence import band_profile, downbeat_choice, repeats, sample
from cratedigger.analysis.grid_params import GridParams


def correct(best: tuple, results: list, down: np.ndarray, bands, fps: float, params: GridParams) -> tuple:
    """best, or the reading the drum bands say it should be (bands: kick and snare envelopes)."""
    if params.four_floor_rule:
        best = four_on_the_floor_reading(best, results, bands[0], fps)
    if params.triple_repeat_margin > 0 and best[3] != 3:
        best = counted_in_triplets(best, results, down, bands, fps, params)
    if params.offbeat_snare_ratio > 0:
        best = snare_on_the_beats(best, results, down, bands, fps, params)
    if params.halftime_snare_lift > 0 and best[3] == 4:
        best = backbeat_octave(best, results, down, bands, fps, params)
    if params.kick_32nds_limit > 0:
        best = trap_at_its_tempo(best, results, bands[0], fps, params.kick_32nds_limit)
    if params.bar_repeat_margin > 0 and best[3] == 2:
        best = four_for_two(best, results, bands, fps, params.bar_repeat_margin)
    return best


def at_ratio(r: tuple, best: tuple, ratio: float) -> bool:
    """r's tempo is `ratio` times best's (within 3 %)."""
    return abs(r[1] / (ratio * best[1]) - 1.0) < 0.03


def reading_on(total: float, bpm: float, phase: float, meter: int, beat_score: float, down: np.ndarray,
               bands, fps: float, params: GridParams) -> tuple:
    """A reading of a grid the rules placed themselves (phase in frames), its beat 1 chosen again."""
    c, ev = downbeat_choice(down, bands, np.arange(phase, bands[1].size, 60.0 * fps / bpm), meter)
    return (total, bpm, phase / fps, meter, int(np.argmax(c + params.band_weight * ev)), beat_score, float(c.max()))


def trap_at_its_tempo(best: tuple, results: list, kick: np.ndarray, fps: float, limit: float) -> tuple:
    """The reading at twice best's tempo when best's kicks sit on its 32nd notes and there on 16ths."""
    if kicks_on_32nds(kick, best[2] * fps, 60.0 * fps / best[1]) <= limit:
        return best
    faster = [r for r in results if at_ratio(r, best, 2.0)
              and kicks_on_32nds(kick, r[2] * fps, 60.0 * fps / r[1]) <= limit]
    return faster[0] if faster else best


def four_for_two(best: tuple, results: list, bands, fps: float, margin: float) -> tuple:
    """A bar of 4 for a bar of 2 when the kick and snare pattern repeats clearly better every 4 beats."""
    drums = bands[0] + bands[1]
    period = 60.0 * fps / best[1]
    if repeats(drums, 4 * period) - repeats(drums, 2 * period) <= margin:
        return best
    fours = [r for r in results if r[3] == 4 and r[1] == best[1]]
    return fours[0] if fours else best


def is_four_on_the_floor(kick: np.ndarray, phase: float, period: float) -> bool:
    """A kick on every beat of the grid (phase, period in frames) and little half-way between."""
    beats = np.arange(phase, kick.size, period)
    if beats.size < 8:
        return False
    vals = sample(kick, beats)
    on = float(vals.mean())
    mid = float(sample(kick, beats[beats + period / 2 < kick.size] + period / 2).mean())
    # nearly every beat, not most of them (a shuffle read at 3/2 has kicks on four of six)
    return bool(np.percentile(vals, 10) > 0.5 * np.percentile(vals, 90) and mid < 0.3 * on)


def four_on_the_floor_reading(best: tuple, results: list, kick: np.ndarray, fps: float) -> tuple:
    """The reading at 3/2 best's tempo when best is a four-on-the-floor read at 2/3; best otherwise."""
    period = 60.0 * fps / best[1]
    beats = np.arange(best[2] * fps, kick.size, period)
    prof = band_profile(kick, beats, 2)
    if prof.min() > 0.3:  # every other beat of best must be kickless (kick, hat, kick, hat...)
        return best
    for r in results:  # best first
        if r[3] == 4 and at_ratio(r, best, 1.5) and is_four_on_the_floor(kick, r[2] * fps, 60.0 * fps / r[1]):
            return r
    return best


def on_the_drums(r: tuple, down: np.ndarray, bands, fps: float, params: GridParams) -> tuple:
    """r with its phase moved by 0, 1/3 or 2/3 of a beat, to where kick and snare land on its beats, and
    beat 1 chosen again: a slower reading's phase from the beat score alone may sit on the swung notes."""
    period = 60.0 * fps / r[1]
    drums = bands[0] + bands[1]
    phases = [(r[2] * fps + k * period / 3.0) % period for k in range(3)]
    phase = max(phases, key=lambda ph: float(sample(drums, np.arange(ph, drums.size, period)).mean()))
    return reading_on(r[0], r[1], phase, r[3], r[5], down, bands, fps, params)


def counted_in_triplets(best: tuple, results: list, down: np.ndarray, bands, fps: float,
                        params: GridParams) -> tuple:
    """The reading at a third of best's tempo when the snare band repeats in threes of best's beats."""
    period, snare = 60.0 * fps / best[1], bands[1]
    threes = min(repeats(snare, 3 * period), repeats(snare, 6 * period))
    if threes - max(repeats(snare, 2 * period), repeats(snare, 4 * period)) < params.triple_repeat_margin:
        return best
    slower = [r for r in results if r[3] != 3 and at_ratio(r, best, 1.0 / 3.0)]
    return on_the_drums(slower[0], down, bands, fps, params) if slower else best


def snare_off_beats(snare: np.ndarray, phase: float, period: float) -> float:
    """Snare-band strength half-way between a grid's beats over that on them (phase, period in frames)."""
    beats = np.arange(phase, snare.size, period)
    mids = beats[beats + period / 2 < snare.size] + period / 2
    if beats.size < 4 or mids.size < 3:
        return 0.0
    # the loudest hits of each, so off-beat hats leaking into the band do not outvote a backbeat
    on, off = (float(np.percentile(sample(snare, p), 80)) for p in (beats, mids))
    return off / max(on, 1e-3)


def snare_on_the_beats(best: tuple, results: list, down: np.ndarray, bands, fps: float,
                       params: GridParams) -> tuple:
    """The reading at 2/3 best's tempo when best's snares sit between its beats and there they do not."""
    snare = bands[1]
    if snare_off_beats(snare, best[2] * fps, 60.0 * fps / best[1]) <= params.offbeat_snare_ratio:
        return best
    for r in results:  # best first
        if at_ratio(r, best, 2.0 / 3.0):
            r = on_the_drums(r, down, bands, fps, params)
            if snare_off_beats(snare, r[2] * fps, 60.0 * fps / r[1]) < params.onbeat_snare_ratio:
                return r
    return best


def backbeat_octave(best: tuple, results: list, down: np.ndarray, bands, fps: float,
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
    snare = band_profile(bands[1], frames, 4)
    top = int(np.argmax(snare))
    if snare[top] - np.delete(snare, top).max() < params.halftime_snare_lift:
        return best
    # a kick on every beat is four on the floor: those beats are the beats, whatever the claps do
    if band_profile(bands[0], frames, 4).min() > 0.6:
        return best
    # the slower beats are the snare's (and so beat 1's) every other beat, not the ones between them
    slow_period = 2.0 * period
    phase = (best[2] * fps + (top % 2) * period) % slow_period
    slower = [r for r in results if r[3] == 4 and at_ratio(r, best, 0.5)]
    total, beat_score = (slower[0][0], slower[0][5]) if slower else (best[0], best[5])
    return reading_on(total, half, phase, 4, beat_score, down, bands, fps, params)


def kicks_on_32nds(kick: np.ndarray, phase: float, period: float) -> float:
    """Mean kick-band strength at the 32nd-note points between a grid's 16ths, over that on its beats
    (phase, period in frames). Drummers place kicks on 16ths, so a high value says the grid is too slow."""
    beats = np.arange(phase, kick.size, period)
    on = float(sample(kick, beats).mean()) if beats.size else 0.0
    between = [sample(kick, p[p < kick.size]).mean() for p in (beats + s / 8.0 * period for s in (1, 3, 5, 7))]
    return float(np.mean(between)) / max(on, 0.05)
