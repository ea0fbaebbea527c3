"""Issue 13, the detail view: the spectrogram strip is normalised over the whole clip (no brightness
jump every 256 columns) and covers all of it; stereo audio is drawn (as its mono mix)."""

from __future__ import annotations

import numpy as np
import pytest

from cratedigger.library import Library

RATE = 22050
HOP = 256


def fading_noise(seconds: float = 6.0) -> np.ndarray:
    """Noise whose level falls smoothly from 1 to 0.1: the strip must darken smoothly too."""
    n = int(seconds * RATE)
    rng = np.random.default_rng(440)
    return (0.3 * rng.standard_normal(n) * np.linspace(1.0, 0.1, n)).astype(np.float32)


def column_means(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64).mean(axis=0)


def test_the_strip_is_normalised_over_the_whole_clip_and_covers_it():
    from cratedigger_ui.widgets.detail_view import display_spectrogram

    audio = fading_noise()
    image = display_spectrogram(audio, RATE)
    assert image.dtype == np.uint8 and image.shape == (96, -(-audio.size // HOP))  # 517 columns, not 512
    m = column_means(image)
    # Per-256-column normalisation lifted the second image back to full brightness: a jump of ~12.
    assert abs(m[256:262].mean() - m[250:256].mean()) < 2.0
    # One reference for the clip: 20 dB quieter at the end is ~64 bytes darker, not re-brightened.
    assert m[:20].mean() - m[-20:].mean() > 40
    assert image.max() == 255  # the loudest bin of the clip is the top of the scale


def test_stereo_is_shown_as_its_mix(qtbot):
    from cratedigger_ui.widgets.detail_view import DetailView, display_spectrogram

    view = DetailView()
    qtbot.addWidget(view)
    left = fading_noise(1.0)
    short = np.stack([left[:4000], -left[:4000]], axis=1)  # short: drawn sample by sample
    view.set_audio(short, RATE)
    x, y = view.wave.getData()
    assert x.shape == y.shape == (4000,) and np.allclose(y, 0.0)
    long = np.stack([left, left * 0.5], axis=1)
    view.set_audio(long, RATE)
    x, y = view.wave.getData()
    assert y.ndim == 1 and y.max() == pytest.approx(float((left * 0.75).max()), rel=1e-5)
    np.testing.assert_array_equal(display_spectrogram(long, RATE), display_spectrogram(left * 0.75, RATE))


@pytest.fixture
def long_library(tmp_path):
    root = tmp_path / "library"
    audio = fading_noise()
    with Library.open(root, analyzer=None) as lib:
        lib.add_audio(np.stack([audio, audio * 0.9], axis=1), RATE, name="fade", source="generated",
                      bpm=120.0, bars=3)
    return root, audio


def test_the_app_shows_the_whole_clip_without_a_jump(make_window, qtbot, long_library):
    root, audio = long_library
    window = make_window(library_root=root)
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 1, timeout=15000)
    window.library_list.setFocus()
    window.library_list.setCurrentIndex(window.library_model.index(0))
    qtbot.waitUntil(lambda: window.detail.spec_image.image is not None, timeout=10000)
    image = window.detail.spec_image.image
    assert image.shape == (96, -(-audio.size // HOP))
    m = column_means(image)
    assert abs(m[256:262].mean() - m[250:256].mean()) < 2.0
    width = window.detail.spec_image.mapRectToParent(window.detail.spec_image.boundingRect()).width()
    assert width == pytest.approx(audio.size / RATE, abs=1e-3)
