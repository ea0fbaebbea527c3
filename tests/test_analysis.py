"""Tempo, beats, downbeats: known-tempo fixtures (synthetic and real recorded drums), bad input."""

from __future__ import annotations

import importlib.metadata
import json

import mir_eval
import numpy as np
import pytest
from fixtures.analysis.support import FIXTURE_NAMES, analysed, load_fixture, synth_drums

from cratedigger.analysis import AnalysisResult, Analyzer, analyze
from cratedigger.analysis._madmom import import_madmom
from cratedigger.errors import AnalysisError, BadParameterError

SR = 22050


def within(est: float | None, ref: float, tol: float = 0.04) -> bool:
    return est is not None and abs(est - ref) / ref <= tol


def test_madmom_imports_through_the_shim_and_leaves_importlib_alone():
    before = importlib.metadata.distribution
    madmom = import_madmom()
    assert madmom.__version__.startswith("0.17")
    assert importlib.metadata.distribution is before


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_real_drum_fixtures_give_known_tempo_beats_and_downbeats(name):
    audio, sr, truth = load_fixture(name)
    result = analysed(name)
    assert result.backend == "madmom"
    assert within(result.bpm, truth["bpm"]), (result.bpm, truth["bpm"])
    assert result.beats_per_bar == truth["beats_per_bar"]
    assert mir_eval.beat.f_measure(np.array(truth["beats"]), np.array(result.beats)) >= 0.9
    assert mir_eval.beat.f_measure(np.array(truth["downbeats"]), np.array(result.downbeats)) >= 0.8
    assert result.duration == pytest.approx(audio.shape[0] / sr)
    assert 0.5 <= result.confidence <= 1.0


def test_whole_bar_loop_gets_the_exact_tempo_its_length_implies():
    truth = load_fixture("amen_160bpm_44k_stereo_2bars")[2]
    result = analysed("amen_160bpm_44k_stereo_2bars")
    assert result.bpm == pytest.approx(truth["bpm"], rel=1e-4)
    assert result.downbeats[0] == pytest.approx(0.0, abs=0.02)


def test_beats_and_positions_agree():
    result = analysed("waltz_120bpm_22k_mono")
    assert len(result.beat_positions) == len(result.beats)
    assert set(result.beat_positions) == {1, 2, 3}
    downs = [b for b, p in zip(result.beats, result.beat_positions) if p == 1]
    assert tuple(downs) == result.downbeats
    assert all(0.0 <= t < result.duration for t in result.beats)
    assert np.all(np.diff(result.beats) > 0)


@pytest.mark.parametrize("bpm", [88.0, 146.0])
def test_synthetic_kit_at_known_tempo(bpm):
    audio, beats = synth_drums(bpm)
    result = analyze(audio, sample_rate=SR)
    assert within(result.bpm, bpm, 0.02), result.bpm
    assert mir_eval.beat.f_measure(np.array(beats), np.array(result.beats)) >= 0.9


def test_librosa_backend_can_be_chosen_and_finds_a_plain_beat():
    audio, beats = synth_drums(120.0)
    result = analyze(audio, sample_rate=SR, backend="librosa")
    assert result.backend == "librosa"
    assert within(result.bpm, 120.0), result.bpm
    assert mir_eval.beat.f_measure(np.array(beats), np.array(result.beats)) >= 0.8


def test_stereo_any_rate_is_downmixed_for_analysis():
    audio, sr, truth = load_fixture("amen_160bpm_44k_stereo_2bars")
    assert audio.ndim == 2 and sr == 44100
    mono = analyze(audio.mean(axis=1), sample_rate=sr)
    assert mono.bpm == pytest.approx(analysed("amen_160bpm_44k_stereo_2bars").bpm, rel=1e-3)


def test_result_is_frozen_and_json_ready():
    result = analysed("rock_95bpm_22k_mono")
    with pytest.raises(AttributeError):
        result.bpm = 1.0  # type: ignore[misc]
    d = json.loads(json.dumps(result.to_dict()))
    assert set(d) >= {"bpm", "beats", "downbeats", "beat_positions", "beats_per_bar", "confidence", "backend", "duration"}
    back = AnalysisResult.from_dict(d)
    assert back.bpm == pytest.approx(result.bpm, abs=1e-3)
    assert len(back.beats) == len(result.beats) and back.backend == result.backend


# --- bad input: a clear error or an explicit "no tempo", never a made-up tempo ------------------

def test_silence_is_an_error_not_a_tempo():
    with pytest.raises(AnalysisError, match="silent"):
        analyze(np.zeros(SR * 3, np.float32), sample_rate=SR)


def test_too_short_is_an_error():
    with pytest.raises(AnalysisError, match="too short"):
        analyze(synth_drums(120.0)[0][: SR // 2], sample_rate=SR)


def test_nan_is_an_error():
    audio = synth_drums(120.0)[0]
    audio[1000] = np.nan
    with pytest.raises(AnalysisError, match="NaN"):
        analyze(audio, sample_rate=SR)


@pytest.mark.parametrize("kind", ["white", "tone"])
def test_noise_and_drones_have_no_tempo(kind):
    rng = np.random.default_rng(440)
    n = SR * 6
    if kind == "white":
        audio = rng.standard_normal(n).astype(np.float32) * 0.3
    else:
        audio = (0.5 * np.sin(2 * np.pi * 220.0 * np.arange(n) / SR)).astype(np.float32)
    result = analyze(audio, sample_rate=SR)
    assert result.bpm is None and result.beats == () and result.downbeats == ()
    assert result.beats_per_bar is None and result.confidence == 0.0 and not result.found


@pytest.mark.parametrize("audio, sr, error, match", [
    (np.zeros((10, 2, 2), np.float32), SR, AnalysisError, "shape"),
    (np.zeros(0, np.float32), SR, AnalysisError, "shape"),
    (np.ones(SR * 2, np.float32), 0, BadParameterError, "sample_rate"),
    (np.array(["a"] * SR * 2), SR, AnalysisError, "numeric"),
])
def test_malformed_input_names_the_problem(audio, sr, error, match):
    with pytest.raises(error, match=match):
        analyze(audio, sample_rate=sr)


def test_unknown_backend_is_a_bad_parameter():
    with pytest.raises(BadParameterError, match="backend"):
        Analyzer(backend="aubio")


def test_a_long_take_that_drifts_keeps_its_beats():
    # 40 s speeding up from 94 to 100 BPM: one rigid grid would fall off the beat; windows do not
    audio, beats = synth_drums(94.0, end_bpm=100.0, seconds=40.0)
    result = analyze(audio, sample_rate=SR)
    assert 94.0 <= result.bpm <= 100.0
    assert mir_eval.beat.f_measure(np.array(beats), np.array(result.beats)) >= 0.95
    assert result.beats_per_bar == 4 and len(result.beat_positions) == len(result.beats)
