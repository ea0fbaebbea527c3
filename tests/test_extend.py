"""Extending loops by outpainting, with tiny random models and recorded drums."""

from __future__ import annotations

import numpy as np
import pytest

from cratedigger.cancel import CancelToken
from cratedigger.errors import BadParameterError, CancelledError
from cratedigger.extend import CROSSFADE_SECONDS, extend_loop, plan_extension
from drum_audio import rock_pattern

BPM = 170.0


@pytest.fixture(scope="module")
def loop_44k():
    return rock_pattern(bpm=BPM, bars=2, sample_rate=44100)


def expected_length(source_samples, bars, rate, bpm=BPM, beats=4):
    return source_samples + round(bars * beats * 60.0 / bpm * rate)


@pytest.mark.parametrize("bars", [1, 4])
def test_source_kept_sample_exact_and_length_is_whole_bars(wide_model, loop_44k, bars):
    result = extend_loop(wide_model, loop_44k, sample_rate=44100, bpm=BPM, bars_to_add=bars, seed=3, steps=3)
    crossfade = round(CROSSFADE_SECONDS * 44100)
    assert result.audio.shape == (expected_length(loop_44k.size, bars, 44100),)
    np.testing.assert_array_equal(result.audio[: loop_44k.size - crossfade], loop_44k[: loop_44k.size - crossfade])
    assert result.sample_rate == 44100 and result.bars_added == bars
    assert np.isfinite(result.audio).all()
    tail = result.audio[loop_44k.size :]
    assert np.abs(tail).max() > 0.01  # something new was made, not silence


def test_stereo_source_at_any_rate(wide_model):
    mono = rock_pattern(bpm=BPM, bars=1, sample_rate=48000)
    stereo = np.stack([mono, 0.5 * mono], axis=1)
    result = extend_loop(wide_model, stereo, sample_rate=48000, bpm=BPM, bars_to_add=2, seed=1, steps=2)
    assert result.audio.shape == (expected_length(mono.size, 2, 48000), 2)
    crossfade = round(CROSSFADE_SECONDS * 48000)
    np.testing.assert_array_equal(result.audio[: mono.size - crossfade], stereo[: mono.size - crossfade])


def test_join_is_smooth(wide_model, loop_44k):
    """No jump across the crossfade bigger than the material on either side has on its own."""
    result = extend_loop(wide_model, loop_44k, sample_rate=44100, bpm=BPM, bars_to_add=1, seed=2, steps=3)
    join, crossfade = loop_44k.size, round(CROSSFADE_SECONDS * 44100)
    at_join = np.abs(np.diff(result.audio[join - crossfade - 1 : join + 1])).max()
    own = max(np.abs(np.diff(loop_44k)).max(), np.abs(np.diff(result.audio[join:])).max())
    assert at_join <= own


def test_same_seed_same_extension_and_seeds_recorded(wide_model, loop_44k):
    a = extend_loop(wide_model, loop_44k, sample_rate=44100, bpm=BPM, bars_to_add=3, seed=9, steps=2)
    b = extend_loop(wide_model, loop_44k, sample_rate=44100, bpm=BPM, bars_to_add=3, seed=9, steps=2)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert a.seeds == (9, 10, 11)  # one round per new bar at this slice length
    assert a.params["seeds"] == [9, 10, 11] and a.params["bars_added"] == 3


def test_latent_model_extends(wide_latent_model, loop_44k):
    result = extend_loop(wide_latent_model, loop_44k, sample_rate=44100, bpm=BPM, bars_to_add=2, seed=1, steps=2)
    assert result.audio.shape == (expected_length(loop_44k.size, 2, 44100),)


def test_progress_counts_every_round_and_cancel_stops(wide_model, loop_44k):
    seen = []
    extend_loop(wide_model, loop_44k, sample_rate=44100, bpm=BPM, bars_to_add=2, seed=1, steps=3, on_step=lambda d, t: seen.append((d, t)))
    assert seen == [(d, 6) for d in range(1, 7)]
    token = CancelToken()

    def stop_after_four(done, total):
        if done == 4:
            token.cancel()

    with pytest.raises(CancelledError):
        extend_loop(wide_model, loop_44k, sample_rate=44100, bpm=BPM, bars_to_add=2, seed=1, steps=3, on_step=stop_after_four, cancel=token)


def test_plan_keeps_whole_bars_up_to_half_a_slice():
    plan = plan_extension(slice_samples=131072, bar_samples=4 * 60 / 170 * 22050, bars_to_add=8, existing=10**6)
    assert plan.keep == int(2 * plan.bar)  # two 1.41 s bars fit in half of 5.94 s
    assert plan.bars_per_round == 2 and plan.rounds == 4
    slow = plan_extension(slice_samples=131072, bar_samples=4 * 60 / 75 * 22050, bars_to_add=2, existing=10**6)
    assert slow.keep == int(131072 - slow.bar) and slow.bars_per_round == 1  # a bar is more than half a slice


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(bpm=0), "bpm"), (dict(bars_to_add=0), "bars_to_add"), (dict(bpm=30), "one bar of this loop lasts 8.00 s, but this model.s window is 2.97 s"), (dict(beats_per_bar=0), "beats_per_bar")],
)
def test_bad_parameters(wide_model, loop_44k, kwargs, match):
    args = dict(sample_rate=44100, bpm=BPM, bars_to_add=1, steps=2) | kwargs
    with pytest.raises(BadParameterError, match=match):
        extend_loop(wide_model, loop_44k, **args)
