"""Issue 13: a loop the app keeps carries its origin into the library (`library list --source`),
a real analysis record (so export gives the true reason when no whole bar fits), and every channel."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from cratedigger.errors import LibraryError
from cratedigger.extend import ExtendResult
from cratedigger.library import Library
from cratedigger.library.export import loop_audio
from drum_audio import rock_pattern
from test_ui_tasks import RATE, Ctx, FakeCandidate


def listed(root, source: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-m", "cratedigger", "library", "--root", str(root), "list",
                           "--source", source, "--json"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    return [row["name"] for row in json.loads(proc.stdout)]


def test_variations_and_extended_loops_kept_in_the_app_are_listed_by_their_source(tmp_path):
    from cratedigger_ui.tasks import LibraryHandle, keep_job, load_detail_job, prepare_extended_job, prepare_fresh_job

    audio = rock_pattern(bpm=100, bars=3, sample_rate=RATE)[: int(5.94 * RATE)]
    (variation,) = prepare_fresh_job(Ctx(), [FakeCandidate(0, 3, audio, RATE)], 1, tmp_path / "drag",
                                     {"ref": "starter"}, None, "variation")
    assert variation.source == "variation"
    handle = LibraryHandle(tmp_path / "lib")
    kept = keep_job(Ctx(), handle, variation)
    stereo = np.stack([audio[: int(4.8 * RATE)]] * 2, axis=1)
    result = ExtendResult(audio=stereo, sample_rate=RATE, bpm=100.0, bars_added=1, source_samples=stereo.shape[0] // 2,
                          seeds=(7,))
    (extended,) = prepare_extended_job(Ctx(), result, 2, tmp_path / "drag", {"ref": "starter"}, kept)
    assert extended.source == "extended" and extended.audio.shape == stereo.shape  # stereo stays stereo
    kept_extended = keep_job(Ctx(), handle, extended)
    assert handle.library.get(kept_extended.sample_id).channels == 2
    detail = load_detail_job(Ctx(), handle, kept_extended)  # what audition, Extend and Variations get
    assert detail.audio.shape == stereo.shape
    np.testing.assert_allclose(detail.audio, stereo, atol=1e-4)
    handle.library.close()
    assert listed(tmp_path / "lib", "extended") == [extended.name]
    assert listed(tmp_path / "lib", "variation") == [variation.name]


def test_exporting_a_kept_loop_without_a_whole_bar_says_why(tmp_path):
    # 2 s of drums read at 60 BPM: one 4/4 bar is 4 s, so no whole bar fits; kept as the app keeps it
    audio = rock_pattern(bpm=120, bars=1, sample_rate=RATE)
    beats = (0.0, 1.0)
    with Library.open(tmp_path / "lib", analyzer=None) as lib:
        s = lib.add_audio(audio, RATE, name="short", source="generated",
                          analysis={"bpm": 60.0, "beats": beats, "downbeats": beats[:1], "beats_per_bar": 4}, bpm=60.0)
        with pytest.raises(LibraryError) as err:
            loop_audio(lib, s.id, bars=4)
    assert "0.00 s clip" not in str(err.value)
    assert "whole bar" in str(err.value)


def test_the_fresh_tray_folder_gives_a_stereo_loop_back_in_stereo(tmp_path):
    from cratedigger.fresh_store import FreshStore

    stereo = np.stack([rock_pattern(bpm=120, bars=1, sample_rate=RATE)] * 2, axis=1).astype(np.float32)
    stereo[:, 1] *= 0.5
    store = FreshStore(tmp_path / "fresh")
    store.save(1, {"key": "fresh:1", "name": "x"}, stereo, RATE, None)
    (item,) = store.load_all()
    assert item.audio.shape == stereo.shape
    np.testing.assert_allclose(item.audio, stereo, atol=1e-4)
