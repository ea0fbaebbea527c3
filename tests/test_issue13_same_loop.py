"""Issue 13: the app and the CLI make the same Loop of the same clip. A real recorded break that
starts mid-bar and holds about 3.3 bars: 4 bars do not fit, so the cut is fewer bars from a downbeat,
and the tray's loop (what the app shows, drags and keeps) is the loop `cratedigger slice` writes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from drum_audio import real_break
from library_helpers import parse_wav
from test_ui_tasks import RATE, Ctx, FakeCandidate

BAR_S = 1.44  # break01 is one bar


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    looped = real_break(RATE, repeats=5)
    start = int(0.37 * RATE)  # off the downbeat, so the cut must find one
    return np.ascontiguousarray(looped[start : start + int(3.3 * BAR_S * RATE)])


def test_a_fresh_loop_is_the_loop_the_cli_slices(clip, tmp_path):
    from cratedigger.loop import best_loop_from_file
    from cratedigger_ui.tasks import loop_of_entry, prepare_fresh_job

    path = tmp_path / "take.wav"
    sf.write(str(path), clip, RATE, subtype="FLOAT")  # float, so the file holds exactly the app's samples

    # the app: a candidate becomes a Fresh tray loop (what the tray shows, drags and keeps)
    (entry,) = prepare_fresh_job(Ctx(), [FakeCandidate(0, 5, clip, RATE)], 1, tmp_path / "drag", {}, None, "generated")
    app = loop_of_entry(entry)
    # the CLI: the engine call `cratedigger slice` makes
    cli = best_loop_from_file(path, bars=4)

    assert app.bars is not None and app.bars < 4  # 4 bars do not fit: the cut took fewer
    assert (app.bpm, app.bars, app.beats_per_bar) == (cli.bpm, cli.bars, cli.beats_per_bar)
    assert app.beats == cli.beats and app.downbeats == cli.downbeats
    start, end = cli.origin.provenance["start"], cli.origin.provenance["end"]
    assert start > 0 and end - start == app.frames
    edge = RATE // 100  # the cut's click-free edges are faded
    np.testing.assert_array_equal(entry.whole[start + edge : end - edge], app.audio[edge:-edge])  # the same samples...
    np.testing.assert_array_equal(app.audio, cli.audio)  # ...so the same loop
    assert app.analysis.duration == pytest.approx(app.duration) and app.analysis.bpm == pytest.approx(cli.bpm)

    # and the real command writes those samples, with the same tempo and beats in its acid chunk
    out = tmp_path / "loop.wav"
    proc = subprocess.run([sys.executable, "-m", "cratedigger", "slice", str(path), "--bars", "4", "--out", str(out),
                           "--bits", "32"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    written, rate = sf.read(str(out), dtype="float32")
    assert rate == RATE
    np.testing.assert_array_equal(written, app.audio)
    acid = parse_wav(out).acid
    assert acid["beats"] == app.bars * app.beats_per_bar and acid["tempo"] == pytest.approx(app.bpm, rel=1e-4)
    # the tray's drag file is that loop too
    np.testing.assert_allclose(sf.read(str(entry.drag_path), dtype="float32")[0], app.audio, atol=1e-4)


def test_keep_stores_the_tray_loop_with_its_analysis_and_curation_in_one_go(clip, tmp_path):
    from cratedigger.fresh_store import FreshStore
    from cratedigger_ui.tasks import LibraryHandle, keep_job, load_fresh_job, prepare_fresh_job

    store = FreshStore(tmp_path / "fresh")
    (entry,) = prepare_fresh_job(Ctx(), [FakeCandidate(0, 5, clip, RATE)], 3, tmp_path / "drag", {"ref": "starter"},
                                 None, "generated", store)
    # the tray survives a restart with the engine's analysis, so Keep after a restart stores the same thing
    (back,) = load_fresh_job(Ctx(), store, tmp_path / "drag")
    assert back.analysis.to_dict() == entry.analysis.to_dict()
    handle = LibraryHandle(tmp_path / "lib")
    kept = keep_job(Ctx(), handle, back.with_(rating=4, favourite=True, tags=("dusty",), notes="ride out"))
    lib = handle.library
    s = lib.get(kept.sample_id)
    assert (s.source, s.rating, s.favourite, s.tags, s.notes) == ("generated", 4, True, ("dusty",), "ride out")
    assert (s.bpm, s.bars, s.beats_per_bar) == (pytest.approx(entry.bpm), entry.bars, entry.beats_per_bar)
    analysis = lib.analysis(s.id)
    assert analysis["duration"] == pytest.approx(entry.duration, abs=1e-5)
    assert analysis["backend"] == entry.analysis.backend and analysis["beats"] == pytest.approx(entry.beats)
    assert s.provenance == {"model": "starter", "seed": 5}
    handle.close()


def test_a_stereo_fresh_loop_recut_on_the_producers_grid_stays_stereo_and_is_kept_with_that_grid(clip, tmp_path):
    from cratedigger.loop import Origin, loop_on_grid
    from cratedigger_ui.tasks import LibraryHandle, RecutArgs, keep_job, prepare_fresh_job, recut_entry_job

    stereo = np.stack([clip, 0.5 * clip], axis=1).astype(np.float32)
    (entry,) = prepare_fresh_job(Ctx(), [FakeCandidate(0, 5, stereo, RATE)], 1, tmp_path / "drag", {}, None, "generated")
    assert entry.audio.shape[1] == 2 and entry.whole.shape == stereo.shape
    args = RecutArgs(audio=entry.clip(), sample_rate=RATE, bpm=166.0, first_downbeat=0.2, bars=2)
    recut = recut_entry_job(Ctx(), entry, args, tmp_path / "drag")
    engine = loop_on_grid(stereo, sample_rate=RATE, bpm=166.0, first_downbeat=0.2, bars=2, origin=Origin("generated"))
    assert recut.audio.shape == engine.audio.shape and recut.audio.shape[1] == 2  # every channel kept
    np.testing.assert_array_equal(recut.audio, engine.audio)
    assert (recut.bpm, recut.bars, recut.beats) == (engine.bpm, engine.bars, engine.beats)
    handle = LibraryHandle(tmp_path / "lib")
    s = handle.library.get(keep_job(Ctx(), handle, recut).sample_id)
    assert s.channels == 2 and s.bars == 2 and s.provenance["tempo_set_by"] == "producer"
    assert handle.library.analysis(s.id)["duration"] == pytest.approx(recut.duration, abs=1e-5)
    handle.close()
