"""The app's pool work on real drums: a generated break is analysed, cut to whole bars and made
ready to drag (what the Fresh tray shows), with the real analysis and slicing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from cratedigger.cancel import CancelToken
from drum_audio import rock_pattern
from library_helpers import parse_wav

RATE = 22050


@dataclass(frozen=True)
class FakeCandidate:
    """Shaped like cratedigger.generate.Candidate; the audio is a real drum pattern."""

    index: int
    seed: int
    audio: np.ndarray
    sample_rate: int
    params: dict = field(default_factory=dict)


class Ctx:
    cancel = CancelToken()

    def check(self):
        self.cancel.raise_if_cancelled()

    def progress(self, done, total):
        pass

    def partial(self, value):
        pass


def test_a_fresh_break_is_analysed_sliced_and_ready_to_drag(tmp_path):
    from cratedigger_ui.tasks import prepare_fresh_job

    # 5.9 s, like breaks-256: the longest whole-bar loop that fits is cut (4, 2 or 1 bars of
    # whatever meter the analysis finds).
    audio = rock_pattern(bpm=100, bars=3, sample_rate=RATE)[: int(5.94 * RATE)]
    cand = FakeCandidate(0, 99, audio, RATE, {"steps": 50, "scheduler": "ddim"})
    (entry,) = prepare_fresh_job(Ctx(), [cand], 7, tmp_path, {"ref": "some/model", "device": "cpu"}, None, "generated")
    assert entry.key == "fresh:7" and entry.name == "break 07" and entry.provenance["seed"] == 99
    assert entry.bpm == pytest.approx(100, rel=0.02)
    bars, bpb = entry.bars, entry.beats_per_bar
    assert bars in (1, 2, 4) and bpb in (3, 4)
    assert entry.duration == pytest.approx(bars * bpb * 60 / entry.bpm, abs=1e-3) and entry.duration <= 5.94
    assert len(entry.beats) == bars * bpb and entry.downbeats == entry.beats[::bpb]
    assert entry.provenance == {"model": "some/model", "device": "cpu", "seed": 99, "steps": 50, "scheduler": "ddim"}
    wav = parse_wav(Path(entry.drag_path))
    assert Path(entry.drag_path).name.endswith(f"bpm_{bars}bar.wav")
    assert wav.acid["beats"] == bars * bpb and wav.acid["tempo"] == pytest.approx(entry.bpm, rel=1e-4)


def test_display_spectrogram_covers_the_audio_on_the_time_axis():
    from cratedigger_ui.tasks import display_spectrogram

    audio = rock_pattern(bpm=100, bars=1, sample_rate=RATE)
    image = display_spectrogram(audio, RATE)
    assert image.dtype == np.uint8 and image.shape == (96, int(np.ceil(audio.size / 256)))
    # row 0 is the lowest band: the kick's energy sits low, the hats high
    assert image[:10].mean() > image[-10:].mean()


def test_the_detail_waveform_is_an_envelope_that_keeps_every_peak():
    from cratedigger_ui.widgets.detail_view import ENVELOPE_BINS, waveform_points

    audio = np.zeros(RATE * 6, np.float32)
    audio[12345] = 0.9  # a single-sample click must survive the reduction
    audio[-1] = -0.7
    t, y = waveform_points(audio, RATE)
    assert y.size == 2 * ENVELOPE_BINS and y.max() == pytest.approx(0.9) and y.min() == pytest.approx(-0.7)
    assert t[0] == 0 and 5.99 < t[-1] < 6.0 and np.all(np.diff(t) > 0)
    short = np.ones(100, np.float32)
    t, y = waveform_points(short, RATE)
    assert y is short and t[-1] == pytest.approx(99 / RATE)
