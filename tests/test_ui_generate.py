"""Generating from the app with a tiny model: candidates stream into the Fresh tray batch by batch,
progress and cancel, quitting mid-generation, keep/discard, model errors, Extend and Variations."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from cratedigger.library import Library
from cratedigger.playback import BLOCK_FRAMES
from library_helpers import click_loop, parse_wav

RATE = 22050
pytestmark = pytest.mark.slow  # every test here runs a model


def set_up_panel(window, model_dir, *, count, steps=2):
    panel = window.panel
    panel.remember_model(str(model_dir))
    panel.device_box.setCurrentText("cpu")
    panel.count_spin.setValue(count)
    panel.steps_spin.setValue(steps)
    panel.random_seed.setChecked(False)
    panel.seed_spin.setValue(1234)


def generate(window, qtbot, model_dir, *, count, timeout=90000):
    set_up_panel(window, model_dir, count=count)
    batches = []
    window.fresh_model.rowsInserted.connect(lambda _p, first, last: batches.append(last - first + 1))
    qtbot.mouseClick(window.panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.fresh_model.rowCount() == count and window.panel.generate_button.isEnabled(), timeout=timeout)
    return batches


def test_candidates_arrive_batch_by_batch_analysed_and_auditioned(make_window, qtbot, tiny_model_dir):
    window = make_window()
    progress = []
    window.jobs._relay.progress.connect(lambda _job, done, total: progress.append((done, total)))
    batches = generate(window, qtbot, tiny_model_dir, count=5)
    assert sum(batches) == 5 and len(batches) > 1  # batches show while the rest are cooking
    assert progress[-1] == (10, 10)  # 5 candidates x 2 steps
    assert window.panel.status.text().startswith("Running on cpu")
    assert window.panel.progress.format() == "5 generated"
    entries = window.fresh_model.entries()
    assert [e.provenance["seed"] for e in entries] == [1234, 1235, 1236, 1237, 1238]
    for e in entries:
        assert e.overview is not None and e.audio.dtype == np.float32 and e.is_fresh and not e.kept
        # 0.74 s of tiny-model audio is too short for beat tracking: it says so instead of guessing
        assert e.bpm is None and "analysis_note" in e.provenance
    # the first one was selected and plays through the real callback
    assert window.current.key == entries[0].key and window.audition.is_playing()
    out = np.zeros((BLOCK_FRAMES, 2), np.float32)
    window.audition.player._callback(out, BLOCK_FRAMES, None, None)
    window.audition.player._callback(out, BLOCK_FRAMES, None, None)  # past the 8 ms fade-in
    np.testing.assert_allclose(out[:, 0], entries[0].audio[BLOCK_FRAMES : 2 * BLOCK_FRAMES], atol=1e-6)
    # moving down the tray switches audition to the next candidate
    qtbot.keyClick(window.fresh_list, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: window.audition.loaded_key() == entries[1].key, timeout=5000)  # prepared off the GUI thread


def test_keep_discard_and_curate_fresh_loops(make_window, qtbot, tiny_model_dir, tmp_path):
    window = make_window()
    generate(window, qtbot, tiny_model_dir, count=3)
    entries = window.fresh_model.entries()
    window.fresh_list.setFocus()
    window.fresh_list.setCurrentIndex(window.fresh_model.index(0))
    qtbot.keyClick(window.fresh_list, Qt.Key.Key_5)
    window.tag_editor.edit.setText("dusty")
    qtbot.keyClick(window.tag_editor.edit, Qt.Key.Key_Return)
    window.fresh_list.setFocus()
    qtbot.keyClick(window.fresh_list, Qt.Key.Key_K)
    qtbot.waitUntil(lambda: window.fresh_model.get(entries[0].key).kept, timeout=10000)
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 1, timeout=10000)
    assert not window.keep_button.isEnabled()
    with Library.open(tmp_path / "library", analyzer=None) as lib:
        (sample,) = lib.query(limit=None)
        assert sample.rating == 5 and sample.tags == ("dusty",)
        assert sample.provenance["seed"] == 1234 and sample.provenance["model"] == str(tiny_model_dir)
        audio, rate = lib.read_audio(sample)
        np.testing.assert_allclose(audio, entries[0].audio, atol=1e-4)
    # discard the second (Delete in the tray removes it; nothing reaches the library)
    window.fresh_list.setFocus()
    window.fresh_list.setCurrentIndex(window.fresh_model.index(1))
    qtbot.keyClick(window.fresh_list, Qt.Key.Key_Delete)
    assert [e.key for e in window.fresh_model.entries()] == [entries[0].key, entries[2].key]
    assert window.library_model.rowCount() == 1
    # a fresh loop without a tempo is dragged as is: the whole clip, no tempo chunks
    (url,) = window.fresh_model.mimeData([window.fresh_model.index(1)]).urls()
    assert parse_wav(url.toLocalFile()).acid is None


def test_cancel_stops_generation_and_the_app_stays_usable(make_window, qtbot, tiny_model_dir):
    window = make_window()
    set_up_panel(window, tiny_model_dir, count=64, steps=400)
    started = []
    window.jobs._relay.progress.connect(lambda *_: started.append(1))
    window.panel.generate_button.click()
    qtbot.waitUntil(lambda: bool(started), timeout=60000)
    assert window.panel.cancel_button.isEnabled() and not window.panel.generate_button.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.panel.generate_button.isEnabled(), timeout=10000)
    assert window.panel.progress.format() == "cancelled"
    assert window.fresh_model.rowCount() < 64


def test_quitting_mid_generation_cancels_cleanly(make_window, qtbot, tiny_model_dir):
    window = make_window()
    set_up_panel(window, tiny_model_dir, count=64, steps=400)
    started = []
    window.jobs._relay.progress.connect(lambda *_: started.append(1))
    window.panel.generate_button.click()
    qtbot.waitUntil(lambda: bool(started), timeout=60000)
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 5.0
    assert all(pool.activeThreadCount() == 0 for pool in window.jobs.pools.values())


def test_a_missing_model_is_a_readable_message(make_window, qtbot, tmp_path):
    window = make_window()
    set_up_panel(window, tmp_path / "no-such-model", count=2)
    window.panel.generate_button.click()
    qtbot.waitUntil(lambda: window.panel.generate_button.isEnabled() and bool(window.messages.text()), timeout=30000)
    text = window.messages.text()
    assert text.startswith("Generation failed:") and "no-such-model" in text and "Traceback" not in text
    assert window.messages.kind == "error"


@pytest.fixture
def fast_loop_library(tmp_path):
    """A 2-bar loop at 400 BPM: short enough that the tiny model's 0.74 s slice holds a bar."""
    with Library.open(tmp_path / "library", analyzer=None) as lib:
        return lib.add_audio(click_loop(bpm=400, bars=2, sample_rate=RATE), RATE, name="fast", source="generated",
                             bpm=400.0, bars=2).id


def select_library_loop(window, qtbot):
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 1, timeout=15000)
    window.library_list.setFocus()
    window.library_list.setCurrentIndex(window.library_model.index(0))
    qtbot.waitUntil(lambda: window.current_audio() is not None, timeout=10000)


def test_extend_puts_a_longer_loop_with_its_lineage_in_the_tray(make_window, qtbot, tiny_model_dir, fast_loop_library, tmp_path):
    window = make_window()
    set_up_panel(window, tiny_model_dir, count=1)
    select_library_loop(window, qtbot)
    window.panel.extend_bars.setValue(2)
    window.panel.extend_button.click()
    qtbot.waitUntil(lambda: window.fresh_model.rowCount() == 1, timeout=60000)
    (entry,) = window.fresh_model.entries()
    assert entry.parent_id == fast_loop_library and entry.bars == 4 and entry.bpm == pytest.approx(400.0)
    assert entry.duration == pytest.approx(4 * 4 * 60 / 400, abs=256 / RATE)
    assert entry.name == "fast +2 bars" and entry.source == "extended"
    source = click_loop(bpm=400, bars=2, sample_rate=RATE)
    np.testing.assert_allclose(entry.audio[: RATE // 2], source[: RATE // 2], atol=1e-4)  # the original is untouched
    # it can be dragged straight out: whole bars with tempo chunks
    wav = parse_wav(window.fresh_model.mimeData([window.fresh_model.index(0)]).urls()[0].toLocalFile())
    assert wav.acid["beats"] == 16 and wav.acid["tempo"] == pytest.approx(400.0)
    # keeping it records the parent in the library
    window.fresh_list.setFocus()
    window.fresh_list.setCurrentIndex(window.fresh_model.index(0))
    window.keep_button.click()
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 2, timeout=10000)
    with Library.open(tmp_path / "library", analyzer=None) as lib:
        child = next(s for s in lib.query(limit=None) if s.id != fast_loop_library)
        assert child.parent_id == fast_loop_library and child.bars == 4


def test_variations_stream_in_with_their_parent(make_window, qtbot, tiny_model_dir, fast_loop_library):
    window = make_window()
    set_up_panel(window, tiny_model_dir, count=1)
    select_library_loop(window, qtbot)
    window.panel.variation_count.setValue(3)
    window.panel.strength.setValue(0.5)
    window.variations_action.trigger()
    qtbot.waitUntil(lambda: window.fresh_model.rowCount() == 3 and window.panel.generate_button.isEnabled(), timeout=60000)
    entries = window.fresh_model.entries()
    assert {e.parent_id for e in entries} == {fast_loop_library}
    assert all(e.source == "variation" for e in entries)
    assert len({e.provenance["seed"] for e in entries}) == 3
    assert window.panel.progress.format() == "3 variations"


def test_extend_without_a_tempo_or_a_selection_says_why(make_window, qtbot, tiny_model_dir, tmp_path):
    window = make_window()
    set_up_panel(window, tiny_model_dir, count=1)
    assert not window.panel.extend_button.isEnabled() and not window.extend_action.isEnabled()  # nothing selected
    with Library.open(tmp_path / "library", analyzer=None) as lib:
        lib.add_audio(click_loop(bpm=120, bars=1, sample_rate=RATE), RATE, name="slow", source="imported")
    window.refresh_library()
    select_library_loop(window, qtbot)
    window.panel.extend_button.click()
    assert "has no tempo" in window.messages.text()
