"""The app's project tempo field and "More like this", driven through pytest-qt on real drum loops."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt

from cratedigger.library import Library
from cratedigger.tempo_fit import fitted_frames
from drum_audio import LMMS_BEATS, load_mono, rock_pattern
from library_helpers import parse_wav

SR = 22050


@pytest.fixture
def library_root(tmp_path):
    root = tmp_path / "library"
    jungle = np.tile(load_mono(LMMS_BEATS / "jungle01.ogg", SR), 2)  # 4 bars at 172.6 BPM
    bpm = 16 * 60 / (jungle.size / SR)
    with Library.open(root, analyzer=None) as lib:
        lib.add_audio(rock_pattern(bpm=93.4, bars=2, sample_rate=SR), SR, name="rock", source="sliced", bpm=93.4, bars=2)
        lib.add_audio(jungle, SR, name="jungle", source="imported", bpm=bpm, bars=4)
        lib.add_audio(jungle[: jungle.size // 2], SR, name="jungle slice", source="sliced", bpm=bpm, bars=2)
        for name in ("break02.ogg", "house_loop01.ogg", "electro_beat01.ogg"):
            audio = load_mono(LMMS_BEATS / name, SR)
            lib.add_audio(audio, SR, name=name, source="imported", bpm=4 * 60 / (audio.size / SR) * 2, bars=2)
    return root


def select(window, qtbot, name):
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 6, timeout=15000)
    row = next(i for i, e in enumerate(window.library_model.entries()) if e.name == name)
    window.library_list.setFocus()
    window.library_list.setCurrentIndex(window.library_model.index(row))
    qtbot.waitUntil(lambda: window.current is not None and window.current.name == name, timeout=10000)
    return window.current


def test_project_tempo_plays_the_loop_fitted_and_switches_without_restarting(make_window, qtbot, library_root):
    window = make_window(library_root=library_root)
    select(window, qtbot, "rock")
    qtbot.waitUntil(lambda: window.audition.is_playing(), timeout=10000)
    own = window.audition.clip.frames.shape[0]

    bar = window.project_tempo_bar
    bar.bpm_spin.setFocus()
    bar.bpm_spin.selectAll()
    qtbot.keyClicks(bar.bpm_spin, "90")
    qtbot.keyClick(bar.bpm_spin, Qt.Key.Key_Return)
    frames_at = lambda bpm: fitted_frames(beats=8, target_bpm=bpm, sample_rate=SR)  # noqa: E731
    qtbot.waitUntil(lambda: window.audition.clip.frames.shape[0] == frames_at(90.0), timeout=10000)
    assert window.audition.is_playing() and own == round(8 * 60 / 93.4 * SR)
    # Drag-out carries the loop at the project tempo: name, length and acid chunk.
    qtbot.waitUntil(lambda: "_90bpm_" in str(window.drag_file_for(window.current)), timeout=10000)
    dragged = window.drag_file_for(window.current)
    assert sf.info(str(dragged)).frames == frames_at(90.0) and parse_wav(dragged).acid["tempo"] == pytest.approx(90.0)

    # Halfway through the loop, a new tempo takes over at the same place in the bar, crossfaded.
    clip = window.audition.clip
    clip.position = clip.frames.shape[0] // 2
    bar.set_fit("repitch")
    bar.set_bpm(120.0)
    qtbot.waitUntil(lambda: window.audition.clip.frames.shape[0] == frames_at(120.0), timeout=10000)
    new = window.audition.clip
    assert window.audition.is_playing() and window.audition.player.current is new
    assert abs(new.position / new.frames.shape[0] - 0.5) < 0.05  # not back at the start: no restart gap

    # Off again: the loop's own tempo.
    bar.set_bpm(None)
    qtbot.waitUntil(lambda: window.audition.clip.frames.shape[0] == own, timeout=10000)

    # Another loop is fitted as it is selected; one the target is beyond 2x of plays as it is, and says why.
    bar.set_bpm(200.0)
    select(window, qtbot, "jungle")
    qtbot.waitUntil(lambda: window.audition.clip.frames.shape[0] == fitted_frames(beats=16, target_bpm=200.0,
                                                                                  sample_rate=SR), timeout=10000)
    select(window, qtbot, "rock")
    qtbot.waitUntil(lambda: window.audition.loaded_key() == window.current.key, timeout=10000)
    assert window.audition.clip.frames.shape[0] == own
    assert "200 BPM is beyond 0.5x-2x of this loop's 93.4" in window.statusBar().currentMessage()


def test_more_like_this_lists_the_nearest_loops_first(make_window, qtbot, library_root):
    window = make_window(library_root=library_root)
    select(window, qtbot, "jungle")
    window.similar_action.trigger()
    qtbot.waitUntil(lambda: "most like" in window.statusBar().currentMessage(), timeout=20000)
    names = [e.name for e in window.library_model.entries()]
    assert "jungle" not in names and len(names) == 5
    assert names[0] == "jungle slice"
