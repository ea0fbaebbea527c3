"""Whole-bar loops: lengths, the tempo they imply, seams without clicks, what does not fit."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.analysis.support import FIXTURE_NAMES, analysed, load_fixture

from cratedigger.analysis import AnalysisResult, analyze
from cratedigger.errors import AnalysisError, BadParameterError
from cratedigger.slicing import plan_loop, slice_loop, suggest_loop

SR = 22050


def grid_result(bpm: float, duration: float, *, first: float = 0.0, per_bar: int = 4) -> AnalysisResult:
    """A hand-made analysis (no model needed) for a steady grid starting at `first` seconds."""
    beats = np.arange(first, duration, 60.0 / bpm)
    pos = (np.arange(beats.size) % per_bar) + 1
    return AnalysisResult(bpm=bpm, beats=tuple(beats), downbeats=tuple(beats[pos == 1]),
                          beat_positions=tuple(int(p) for p in pos), beats_per_bar=per_bar, confidence=1.0,
                          backend="madmom", duration=duration)


def seam_jump(loop: np.ndarray) -> float:
    return float(np.max(np.abs(loop[-1] - loop[0])))


def typical_step(loop: np.ndarray) -> float:
    """99th percentile of sample-to-sample steps inside the loop: what "no click" is measured against."""
    return float(np.percentile(np.abs(np.diff(loop, axis=0)), 99))


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_real_fixture_slices_are_whole_bars_on_a_downbeat_without_a_click(name):
    audio, sr, truth = load_fixture(name)
    analysis = analysed(name)
    loop = slice_loop(audio, sample_rate=sr, analysis=analysis, bars=8)
    per_bar = analysis.beats_per_bar
    assert loop.beats == loop.bars * per_bar
    # exactly whole bars at the analysed tempo, to the sample
    assert loop.end - loop.start == round(loop.beats * 60.0 * sr / analysis.bpm)
    # the tempo from the loop's exact length agrees with the analysis and with the truth
    assert loop.bpm == pytest.approx(analysis.bpm, rel=1e-3)
    assert loop.bpm == pytest.approx(truth["bpm"], rel=0.02)
    # it starts on a true downbeat (within the zero-crossing allowance)
    assert min(abs(loop.start / sr - d) for d in truth["downbeats"]) < 0.025
    assert loop.audio.shape[1:] == audio.shape[1:] and loop.audio.dtype == np.float32
    assert seam_jump(loop.audio) <= max(0.02, typical_step(loop.audio))


def test_loop_is_cut_from_the_original_audio_untouched_between_the_seams():
    audio, sr, _ = load_fixture("amen_160bpm_44k_stereo_2bars")
    loop = slice_loop(audio, sample_rate=sr, analysis=analysed("amen_160bpm_44k_stereo_2bars"), bars=2)
    assert loop.bars == 2 and loop.audio.ndim == 2
    edge = int(0.006 * sr)
    np.testing.assert_array_equal(loop.audio[edge:-edge], audio[loop.start + edge : loop.end - edge])


def test_tempo_of_the_sliced_loop_agrees_when_analysed_again():
    audio, sr, _ = load_fixture("rock_95bpm_22k_mono")
    first = analysed("rock_95bpm_22k_mono")
    loop = slice_loop(audio, sample_rate=sr, analysis=first, bars=2)
    again = analyze(loop.audio, sample_rate=sr, loop=True)
    assert again.bpm == pytest.approx(loop.bpm, rel=0.01)
    assert again.downbeats[0] == pytest.approx(0.0, abs=0.03)


@pytest.mark.parametrize("first", [0.0, 0.3])  # no pre-roll (zero crossing + fade) / crossfade into pre-roll
@pytest.mark.parametrize("channels", [1, 2])
def test_seam_of_a_sustained_tone_has_no_click(first, channels):
    # a 997 Hz tone never lines up with a bar: a raw cut would jump by up to twice its amplitude
    t = np.arange(int(SR * 6.0)) / SR
    tone = (0.8 * np.sin(2 * np.pi * 997.0 * t + 0.4)).astype(np.float32)
    audio = tone if channels == 1 else np.stack([tone, -tone * 0.5], axis=1)
    loop = slice_loop(audio, sample_rate=SR, analysis=grid_result(123.0, 6.0, first=first), bars=2)
    raw_jump = float(np.max(np.abs(audio[loop.end - 1] - audio[loop.start])))
    assert raw_jump > 0.3  # a plain cut here would click...
    assert seam_jump(loop.audio) <= typical_step(loop.audio)  # ...the loop steps no more than the tone does


def test_asks_for_more_bars_than_fit_gets_the_longest_that_does():
    # a generated clip: 5.94 s at 22.05 kHz, 140 BPM -> a bar is 1.714 s; 2 bars fit, 4 do not
    analysis = grid_result(140.0, 5.944, first=0.2)
    audio = np.random.default_rng(440).standard_normal(int(5.944 * SR)).astype(np.float32) * 0.1
    loop = slice_loop(audio, sample_rate=SR, analysis=analysis, bars=8)
    assert (loop.bars, loop.beats) == (2, 8)
    plan = suggest_loop(analysis, sample_rate=SR, n_samples=audio.shape[0])
    assert plan is not None and plan.bars == 2


def test_not_even_one_bar_is_a_clear_error():
    analysis = grid_result(60.0, 3.0)  # a 4/4 bar at 60 BPM is 4 s
    audio = np.zeros(3 * SR, np.float32)
    with pytest.raises(AnalysisError, match="not even one whole bar"):
        slice_loop(audio, sample_rate=SR, analysis=analysis, bars=1)
    assert suggest_loop(analysis, sample_rate=SR, n_samples=audio.shape[0]) is None


def test_no_tempo_cannot_be_sliced():
    none = AnalysisResult(bpm=None, beats=(), downbeats=(), beat_positions=(), beats_per_bar=None,
                          confidence=0.0, backend="madmom", duration=3.0)
    with pytest.raises(AnalysisError, match="no tempo"):
        slice_loop(np.zeros(3 * SR, np.float32), sample_rate=SR, analysis=none)


@pytest.mark.parametrize("bars", [0, 3, 16])
def test_bar_counts_other_than_1_2_4_8_are_refused(bars):
    with pytest.raises(BadParameterError, match="bars"):
        plan_loop(grid_result(120.0, 6.0), sample_rate=SR, n_samples=6 * SR, bars=bars)


def test_analysis_of_another_clip_is_refused():
    with pytest.raises(BadParameterError, match="analysis is of"):
        slice_loop(np.zeros(3 * SR, np.float32), sample_rate=SR, analysis=grid_result(120.0, 6.0))
