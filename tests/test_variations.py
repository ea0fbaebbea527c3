"""Variations of a loop: each item starts from the source, each with its own seed."""

from __future__ import annotations

import numpy as np
import pytest

from cratedigger.errors import AudioFileError, BadParameterError
from cratedigger.mel import audio_to_image
from cratedigger.variations import make_variations, start_step_for
from drum_audio import real_break, rock_pattern


@pytest.fixture(scope="module")
def sources(wide_model):
    rate = wide_model.mel.sample_rate
    return real_break(rate, repeats=3), rock_pattern(bpm=96, bars=2, sample_rate=rate)


def test_every_variation_depends_on_the_source(wide_model, sources):
    a, b = sources
    seeds = (1, 2, 3)
    from_a = make_variations(wide_model, a, sample_rate=22050, count=3, strength=0.6, seeds=seeds, steps=10)
    from_b = make_variations(wide_model, b, sample_rate=22050, count=3, strength=0.6, seeds=seeds, steps=10)
    for va, vb in zip(from_a, from_b):  # same seed, other source: every item changes, not only the first
        assert not np.array_equal(va.image, vb.image)
    # ...and each stays closer to its own source than to the other one
    image_a = audio_to_image(a, wide_model.mel).astype(float)
    image_b = audio_to_image(b, wide_model.mel).astype(float)
    for va in from_a:
        assert np.abs(va.image - image_a).mean() < np.abs(va.image - image_b).mean()


def test_variations_have_their_own_seeds_and_params(wide_model, sources):
    out = make_variations(wide_model, sources[0], sample_rate=22050, count=2, strength=0.5, seeds=(4, 5), steps=10)
    assert [v.seed for v in out] == [4, 5]
    assert not np.array_equal(out[0].image, out[1].image)
    assert out[0].params["kind"] == "variation" and out[0].params["strength"] == 0.5 and out[0].params["start_step"] == 5
    again = make_variations(wide_model, sources[0], sample_rate=22050, count=1, strength=0.5, seeds=(4,), steps=10)
    np.testing.assert_array_equal(again[0].audio, out[0].audio)


def test_lower_strength_stays_closer(wide_model, sources):
    source_image = audio_to_image(sources[0], wide_model.mel).astype(float)
    distance = {}
    for strength in (0.2, 1.0):
        v = make_variations(wide_model, sources[0], sample_rate=22050, count=1, strength=strength, seeds=(7,), steps=10)
        distance[strength] = np.abs(v[0].image - source_image).mean()
    assert distance[0.2] < distance[1.0]


def test_imported_stereo_audio_at_another_rate(wide_model, sources):
    stereo = np.stack([sources[1], sources[1]], axis=1)
    import soxr

    stereo_48k = soxr.resample(stereo, 22050, 48000).astype(np.float32)
    out = make_variations(wide_model, stereo_48k, sample_rate=48000, count=1, strength=0.5, seeds=(1,), steps=4)
    assert out[0].sample_rate == 22050 and out[0].audio.ndim == 1


def test_progress_counts_only_the_steps_run(wide_model, sources):
    seen = []
    make_variations(wide_model, sources[0], sample_rate=22050, count=2, strength=0.3, seeds=(1, 2), steps=10, batch_size=1, on_step=lambda d, t: seen.append((d, t)))
    assert seen == [(d, 6) for d in range(1, 7)]  # 3 steps each


def test_strength_bounds_and_bad_audio(wide_model):
    assert start_step_for(1.0, 50) == 0 and start_step_for(0.1, 50) == 45
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(BadParameterError, match="strength"):
            start_step_for(bad, 50)
    with pytest.raises(AudioFileError, match="NaN"):
        make_variations(wide_model, np.full(1000, np.nan, np.float32), sample_rate=22050, count=1, strength=0.5)
