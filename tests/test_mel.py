"""cratedigger.mel against the models' conventions (diffusers' Mel) on real drum audio."""

from __future__ import annotations

import json
import warnings

import librosa
import numpy as np
import pytest
import torch

from cratedigger.errors import BadParameterError, ModelError
from cratedigger.mel import MelParams, audio_to_image, audio_to_images, image_to_audio, spectral_convergence
from drum_audio import real_break

BREAKS = MelParams()  # breaks-256's numbers
SMALL = MelParams(x_res=128, y_res=64, sample_rate=22050, n_fft=1024, hop_length=256, top_db=80, n_iter=16)


@pytest.fixture(scope="module")
def drums():
    return real_break(22050, repeats=5)  # 7.2 s: more than one 5.9 s slice


def reference_mel():
    from diffusers import Mel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Mel(**BREAKS.to_dict())


def test_params_from_config_file(tmp_path):
    path = tmp_path / "mel_config.json"
    path.write_text(json.dumps({"_class_name": "Mel", **SMALL.to_dict()}))
    assert MelParams.from_config_file(path) == SMALL
    assert SMALL.slice_samples == 128 * 256


@pytest.mark.parametrize(
    "content, match",
    [("{not json", "not valid JSON"), ('{"x_res": 64}', "lacks"), ('{"x_res": "a", "y_res": 1, "sample_rate": 1, "n_fft": 1, "hop_length": 1, "top_db": 1, "n_iter": 1}', "x_res must be a whole number")],
)
def test_params_bad_config(tmp_path, content, match):
    path = tmp_path / "mel_config.json"
    path.write_text(content)
    with pytest.raises(ModelError, match=match):
        MelParams.from_config_file(path)


def test_params_reject_nonpositive():
    with pytest.raises(BadParameterError, match="hop_length"):
        MelParams(hop_length=0)


def test_audio_to_image_matches_reference_mel(drums):
    """Same bytes as diffusers' Mel.audio_slice_to_image (the models were trained on those)."""
    ref = reference_mel()
    ref.load_audio(raw_audio=drums)
    expected = np.asarray(ref.audio_slice_to_image(0))
    got = audio_to_image(drums[: BREAKS.slice_samples], BREAKS)
    assert got.dtype == np.uint8 and got.shape == (256, 256)
    # float32 STFTs from two libraries: allow one byte of rounding on a few pixels.
    diff = np.abs(got.astype(int) - expected.astype(int))
    assert diff.max() <= 1
    assert (diff > 0).mean() < 0.01


def test_audio_to_images_slices_and_pads(drums):
    images = audio_to_images(drums, SMALL)
    assert images.shape == (drums.size // SMALL.slice_samples, 64, 128)
    short = audio_to_image(drums[:1000], SMALL)
    assert short.shape == (64, 128)
    assert short[:, -10:].max() == 0  # zero padding is the floor: -top_db


@pytest.mark.parametrize("bad", [np.zeros(0, np.float32), np.full(100, np.nan, np.float32), np.zeros((10, 2, 2))])
def test_audio_to_image_rejects_bad_audio(bad):
    with pytest.raises(BadParameterError):
        audio_to_image(bad, SMALL)


def test_image_to_audio_shapes_and_batching(drums):
    images = audio_to_images(drums, SMALL)[:3]
    batch = image_to_audio(images, SMALL)
    assert batch.shape == (3, SMALL.slice_samples) and batch.dtype == np.float32
    single = image_to_audio(images[1], SMALL)
    assert single.shape == (1, SMALL.slice_samples)
    np.testing.assert_allclose(single[0], batch[1], atol=1e-4)
    np.testing.assert_array_equal(image_to_audio(images[1], SMALL), single)  # deterministic


def test_image_to_audio_rejects_wrong_shape_and_dtype():
    with pytest.raises(BadParameterError, match="expects"):
        image_to_audio(np.zeros((3, 10, 10), np.uint8), SMALL)
    with pytest.raises(BadParameterError, match="uint8"):
        image_to_audio(np.zeros((64, 128), np.float32), SMALL)


def test_round_trip_on_real_drums_is_as_good_as_librosa(drums):
    """Our batched inversion reproduces the image at least as faithfully as librosa's mel_to_audio."""
    image = audio_to_image(drums[: BREAKS.slice_samples], BREAKS)
    ours = image_to_audio(image, BREAKS)[0]
    power = librosa.db_to_power(image.astype(np.float32) * BREAKS.top_db / 255 - BREAKS.top_db)
    theirs = librosa.feature.inverse.mel_to_audio(
        power, sr=BREAKS.sample_rate, n_fft=BREAKS.n_fft, hop_length=BREAKS.hop_length, n_iter=BREAKS.n_iter
    )
    ours_sc = spectral_convergence(ours, image, BREAKS)
    theirs_sc = spectral_convergence(theirs, image, BREAKS)
    assert ours_sc <= theirs_sc * 1.02
    assert ours_sc < 0.5
    # And it still sounds like the break: onsets line up with the original's.
    env_orig = librosa.onset.onset_strength(y=drums[: ours.size], sr=BREAKS.sample_rate)
    env_ours = librosa.onset.onset_strength(y=ours, sr=BREAKS.sample_rate)
    n = min(env_orig.size, env_ours.size)
    assert np.corrcoef(env_orig[:n], env_ours[:n])[0, 1] > 0.7


def test_image_to_audio_runs_on_the_given_device(drums):
    image = torch.from_numpy(audio_to_image(drums, SMALL))
    out = image_to_audio(image, SMALL, device="cpu", n_iter=0)
    assert out.shape == (1, SMALL.slice_samples) and np.isfinite(out).all()
