"""Issue 12, the producer's first hour: each test drives the real widgets offscreen and fails on the
code before the fix (no way out for a loop without tempo, lost Fresh work, dead keyboard after a
button, derived loops without identity, bar counts, counts and messages, controls, layout)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from cratedigger.library import Library
from cratedigger_ui.entries import Entry
from cratedigger_ui.tasks import ExportOptions
from library_helpers import click_loop, parse_wav
from ui_helpers import export_loop

RATE = 22050


@pytest.fixture
def tempo_less_library(tmp_path):
    """A half-speed reading (66.7 BPM: "a bar lasts 3.60 s") and a one-shot with no tempo at all."""
    root = tmp_path / "library"
    with Library.open(root, analyzer=None) as lib:
        lib.add_audio(click_loop(bpm=133.4, bars=2, sample_rate=RATE), RATE, name="half speed", source="imported",
                      analysis={"bpm": 66.7, "beats": (), "downbeats": (), "beats_per_bar": 4})
        kick = np.zeros(RATE // 2, np.float32)
        kick[:2000] = np.sin(np.arange(2000) * 0.05) * np.exp(-np.arange(2000) / 400)
        lib.add_audio(kick, RATE, name="kick", source="imported")
    return root


def loaded(make_window, qtbot, n):
    window = make_window()
    qtbot.waitUntil(lambda: window.library_model.rowCount() == n, timeout=15000)
    return window


def select(window, qtbot, name):
    row = next(i for i, e in enumerate(window.library_model.entries()) if e.name == name)
    window.library_list.setFocus()
    window.library_list.setCurrentIndex(window.library_model.index(row))
    qtbot.waitUntil(lambda: window.current_audio() is not None and window.current.name == name, timeout=60000)
    return window.current


# -- 1: no dead end without a tempo -----------------------------------------------------------------


def test_a_loop_without_whole_bars_exports_and_drags_as_is(make_window, qtbot, tempo_less_library, tmp_path):
    window = loaded(make_window, qtbot, 2)
    entry = select(window, qtbot, "kick")
    qtbot.waitUntil(lambda: entry.sample_id in window.library_ctl._drag_files, timeout=10000)  # prepared off the GUI thread
    mime = window.library_model.mimeData([window.library_model.index(window.library_model.row_of(entry.key))])
    (url,) = mime.urls()  # before: the drag started but carried no URL
    wav = parse_wav(url.toLocalFile())
    assert url.toLocalFile().endswith("kick.wav") and wav.acid is None and wav.smpl is None
    out = tmp_path / "export"
    window.choose_export_options = lambda defaults, count, without: ExportOptions(folder=out)
    window.library_list.selectAll()
    window.export_button.click()
    qtbot.waitUntil(lambda: "Exported 2 loops" in window.messages.text(), timeout=20000)
    assert sorted(p.name for p in out.glob("*.wav")) == ["half_speed_67bpm_1bar.wav", "kick.wav"]
    assert "as is (whole clip, no tempo): kick" in window.messages.text() and window.messages.kind == "info"
    assert len(parse_wav(out / "kick.wav").data) == 2 * (RATE // 2)


def test_a_half_speed_reading_is_fixed_with_x2_and_recut(make_window, qtbot, tempo_less_library, tmp_path):
    window = loaded(make_window, qtbot, 2)
    select(window, qtbot, "half speed")
    bar = window.tempo_bar
    bar.bpm_spin.setValue(66.7)
    qtbot.mouseClick(bar.double_button, Qt.MouseButton.LeftButton)
    assert bar.bpm() == pytest.approx(133.4)
    qtbot.mouseClick(bar.recut_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 3, timeout=20000)
    recut = next(e for e in window.library_model.entries() if e.name.startswith("half speed ·"))
    assert recut.bars == 2 and recut.bpm == pytest.approx(133.4, abs=0.05)
    path = export_loop(window, qtbot, recut.key, tmp_path / "export")
    wav = parse_wav(path)
    assert path.name.endswith("_133bpm_2bar.wav") and wav.acid["beats"] == 8
    assert wav.acid["tempo"] == pytest.approx(133.4, abs=0.05)


def test_shifting_beat_one_moves_the_grid(make_window, qtbot, tempo_less_library):
    window = loaded(make_window, qtbot, 2)
    select(window, qtbot, "half speed")
    bar = window.tempo_bar
    bar.bpm_spin.setValue(120.0)
    qtbot.mouseClick(bar.later_button, Qt.MouseButton.LeftButton)
    assert bar.first_downbeat() == pytest.approx(0.5)
    xs = window.detail.downbeat_lines.getData()[0]
    assert xs[0] == pytest.approx(0.5)
    qtbot.mouseClick(bar.earlier_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(bar.earlier_button, Qt.MouseButton.LeftButton)
    assert bar.first_downbeat() == pytest.approx(1.5)  # wraps inside the bar


# -- 2: unkept Fresh loops survive a quit -------------------------------------------------------------


def fresh_entry(n, **kw):
    audio = click_loop(bpm=120, bars=1, sample_rate=RATE)
    return Entry(key=f"fresh:{n}", name=f"break {n:02d}", sample_rate=RATE, duration=audio.size / RATE, bpm=120.0,
                 bars=1, audio=audio, **kw)


def test_the_fresh_tray_comes_back_after_a_restart(make_window, qtbot, tmp_path):
    from cratedigger_ui import tasks

    window = make_window()
    entries = [fresh_entry(1), fresh_entry(2)]
    for e in entries:
        tasks.store_entry(window.fresh_store, e)
    window.generation.fresh_ready(entries)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    window.fresh_list.setFocus()
    window.fresh_list.setCurrentIndex(window.fresh_model.index(1))
    qtbot.keyClick(window.fresh_list, Qt.Key.Key_4)
    window.close()
    again = make_window()
    qtbot.waitUntil(lambda: again.fresh_model.rowCount() == 2, timeout=15000)
    back = again.fresh_model.entries()
    assert [e.name for e in back] == ["break 01", "break 02"] and back[1].rating == 4
    np.testing.assert_allclose(back[0].audio, entries[0].audio, atol=1e-6)
    # discarding it there removes it from disk too
    again.fresh_list.setFocus()
    again.fresh_list.setCurrentIndex(again.fresh_model.index(0))
    qtbot.keyClick(again.fresh_list, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: again.fresh_store.numbers() == [2], timeout=5000)


def test_candidates_still_waiting_for_analysis_are_kept_on_quit(make_window, qtbot):
    from types import SimpleNamespace

    window = make_window()
    cand = SimpleNamespace(audio=click_loop(bpm=120, bars=1, sample_rate=RATE), sample_rate=RATE, seed=7, params={})
    window.generation._pending_batches[5] = ([cand], "generated", None, 1)
    window.close()
    assert window.fresh_store.numbers() == [5]


# -- 3: keys keep working after a button ---------------------------------------------------------------


def test_keys_work_after_pressing_generate(make_window, qtbot, tmp_path):
    window = make_window()
    window.panel.remember_model(str(tmp_path / "no-such-model"))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    window.generation.fresh_ready([fresh_entry(1)])
    window.fresh_list.setFocus()
    window.fresh_list.setCurrentIndex(window.fresh_model.index(0))
    qtbot.mouseClick(window.panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.fresh_list, timeout=5000)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_3)
    assert window.current.rating == 3
    qtbot.waitUntil(lambda: window.panel.generate_button.isEnabled(), timeout=30000)
    # a model that did not load is not remembered as a recent one
    assert str(tmp_path / "no-such-model") not in window.panel.recent_models()


# -- 4, 5: derived loops keep identity; one bar count ---------------------------------------------------


def test_variations_are_named_after_and_cut_on_their_source(make_window, qtbot, tmp_path):
    from types import SimpleNamespace

    from cratedigger_ui import tasks

    parent = tasks.ParentGrid("Dusty Amen", 3, 139.6, 4, 0.0)
    one_bar = 4 * 60 / 139.6
    cands = [SimpleNamespace(audio=click_loop(bpm=139.6, bars=2, sample_rate=RATE, seed=s)[: int(1.2 * one_bar * RATE)],
                             sample_rate=RATE, seed=s, params={}) for s in (1, 2)]
    window = make_window()
    entries = tasks.prepare_fresh_job(_Ctx(), cands, 6, tmp_path / "drag", {}, parent, "variation", None, 1)
    assert [e.name for e in entries] == ["Dusty Amen · var 1", "Dusty Amen · var 2"]
    assert all(e.bpm == pytest.approx(139.6, abs=0.1) and e.bars == 1 for e in entries)
    short = tasks.prepare_fresh_job(_Ctx(), [SimpleNamespace(audio=cands[0].audio[: int(1.49 * RATE)], sample_rate=RATE,
                                                             seed=3, params={})], 8, tmp_path / "drag", {}, parent,
                                    "variation", None, 3)
    assert short[0].bpm is None and "window (1.49 s) is shorter than one bar" in short[0].provenance["analysis_note"]
    window.generation.fresh_ready(entries)
    assert window.fresh_model.entries()[0].name == "Dusty Amen · var 1"


class _Ctx:
    def check(self):
        pass


def test_a_2_4_reading_of_a_one_bar_break_is_one_bar_of_4(qtbot):
    from cratedigger.analysis import AnalysisResult
    from cratedigger.regrid import loop_meter

    beat = 60 / 139.6
    beats = tuple(i * beat for i in range(4))
    reading = AnalysisResult(bpm=139.6, beats=beats, downbeats=beats[::2], beat_positions=(1, 2, 1, 2),
                             beats_per_bar=2, confidence=0.8, backend="test", duration=4 * beat)
    fixed = loop_meter(reading)
    assert fixed.beats_per_bar == 4 and fixed.downbeats == (0.0,) and fixed.beat_positions == (1, 2, 3, 4)


# -- 6, 7, 22: counts, messages, controls -----------------------------------------------------------------


def drop(window, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    QApplication.sendEvent(window, QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                              Qt.KeyboardModifier.NoModifier))


def test_counts_after_trash_and_an_honest_import_report(make_window, qtbot, tempo_less_library, tmp_path):
    import soundfile as sf

    window = loaded(make_window, qtbot, 2)
    assert window.filters.count_label.text() == "2 loops"
    select(window, qtbot, "kick")
    qtbot.keyClick(window.library_list, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: window.filters.count_label.text() == "1 loop", timeout=10000)
    new, dup = tmp_path / "new.wav", tmp_path / "dup.wav"
    sf.write(new, click_loop(bpm=100, bars=1, sample_rate=RATE), RATE)
    sf.write(dup, click_loop(bpm=133.4, bars=2, sample_rate=RATE), RATE, subtype="FLOAT")
    (tmp_path / "notes.txt").write_text("x")
    drop(window, [new, dup, tmp_path / "notes.txt"])
    qtbot.waitUntil(lambda: window.messages.text().startswith("Imported"), timeout=60000)
    text = window.messages.text()
    assert text.startswith("Imported 1 file;") and "already in the library (dup.wav)" in text and "notes.txt" in text


def test_controls_are_off_with_nothing_selected_and_trash_says_trash(make_window, qtbot, tempo_less_library):
    window = loaded(make_window, qtbot, 2)
    for w in (window.keep_button, window.discard_button, window.export_button, window.panel.extend_button,
              window.panel.variations_button, window.keep_action, window.delete_action, window.cancel_action,
              window.extend_action, window.variations_action):
        assert not w.isEnabled(), w
    assert window.panel.extend_button.text() == "Extend" and window.extend_action.text() == "Extend"
    select(window, qtbot, "kick")
    assert window.discard_button.isEnabled() and window.discard_button.text() == "Trash"
    assert window.export_button.isEnabled() and not window.keep_button.isEnabled()


def test_the_banner_moves_nothing_and_the_audio_problem_is_said_once(make_window, qtbot, tempo_less_library):
    from cratedigger.playback import Player

    def no_device(**kwargs):
        raise RuntimeError("Error querying device -1")

    window = make_window(player_factory=lambda: Player(stream_factory=no_device))
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 2, timeout=15000)
    top = window.main_split.mapTo(window, window.main_split.rect().topLeft()).y()
    select(window, qtbot, "kick")
    qtbot.waitUntil(lambda: "Error querying device" in window.messages.text(), timeout=5000)
    assert window.main_split.mapTo(window, window.main_split.rect().topLeft()).y() == top
    window.show_error("Could not move “kick” to the trash: read-only")
    select(window, qtbot, "half speed")
    assert window.messages.text().startswith("Could not move")  # not replaced by the audio banner
    assert "Cannot play audio" in window.transport.audio_label.text()


def test_messages_name_loops_not_ids(make_window, qtbot):
    window = make_window()
    window.show_error("Export failed: sample 12 (Dusty Amen): no tempo found")
    assert window.messages.text() == "Export failed: “Dusty Amen”: no tempo found"


# -- 9, 10: empty states, small windows, polish -------------------------------------------------------------


def test_empty_states_say_what_to_do(make_window, qtbot, tempo_less_library):
    window = make_window(library_root=tempo_less_library.parent / "empty-lib")
    qtbot.waitUntil(lambda: window.filters.count_label.text() == "0 loops", timeout=15000)
    assert "drop audio" in window.library_list.empty_text()
    assert window.detail.hint.isVisible()
    window.filters.search.setText("zzz")
    qtbot.waitUntil(lambda: "No matches" in window.library_list.empty_text(), timeout=5000)


def test_at_1024x640_nothing_is_squeezed_and_lists_do_not_scroll_sideways(make_window, qtbot, tempo_less_library):
    window = loaded(make_window, qtbot, 2)
    window.resize(1024, 640)
    QApplication.processEvents()
    f = window.filters
    for w in (f.search, f.tag_filter, f.rating, f.favourites, f.count_label):
        assert w.isVisible() and w.width() >= w.minimumSizeHint().width(), w
        right = w.mapTo(window, w.rect().topRight()).x()
        assert right <= window.width(), w
    for lst in (window.library_list, window.fresh_list):
        assert lst.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        assert lst.sizeHintForColumn(0) <= lst.viewport().width()


def test_spectrogram_axis_is_in_hz_and_favourite_is_a_heart(make_window, qtbot, tempo_less_library):
    window = loaded(make_window, qtbot, 2)
    select(window, qtbot, "half speed")
    qtbot.waitUntil(lambda: window.detail.spec_image.image is not None, timeout=10000)
    labels = [t[1] for t in window.detail.spec_plot.getAxis("left")._tickLevels[0]]
    assert "1k" in labels and "5k" in labels
    assert window.favourite_button.text() == "♡"
    window.favourite_button.click()
    qtbot.waitUntil(lambda: window.favourite_button.text() == "♥", timeout=5000)


def test_partial_tag_finds_the_tag(make_window, qtbot, tmp_path):
    root = tmp_path / "library"
    with Library.open(root, analyzer=None) as lib:
        lib.add_audio(click_loop(bpm=120, bars=1, sample_rate=RATE), RATE, name="a", source="generated", tags=["dusty"])
        lib.add_audio(click_loop(bpm=90, bars=1, sample_rate=RATE, seed=3), RATE, name="b", source="generated")
    window = loaded(make_window, qtbot, 2)
    window.filters.tag_filter.setText("dus")
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 1, timeout=5000)
    assert window.library_model.entries()[0].name == "a"


def test_notes_are_written_and_searchable(make_window, qtbot, tempo_less_library):
    window = loaded(make_window, qtbot, 2)
    select(window, qtbot, "kick")
    window.notes_edit.setText("from the blue record")
    window.notes_edit.editingFinished.emit()
    window.filters.search.setText("blue")
    qtbot.waitUntil(lambda: [e.name for e in window.library_model.entries()] == ["kick"], timeout=10000)


# -- 11: export choices --------------------------------------------------------------------------------------


def test_export_dialog_offers_depth_rate_and_as_is_and_remembers_the_folder(make_window, qtbot, tempo_less_library, tmp_path):
    from cratedigger_ui.widgets.export_dialog import ExportDialog

    window = loaded(make_window, qtbot, 2)
    dialog = ExportDialog(window.library_ctl.export_defaults(), count=1, without_bars=1)
    qtbot.addWidget(dialog)
    dialog.folder_edit.setText(str(tmp_path / "out"))
    dialog.bits_box.setCurrentIndex(1)
    dialog.rate_box.setCurrentIndex(2)
    dialog.as_is_radio.setChecked(True)
    chosen = dialog.options()
    assert chosen.bits == 24 and chosen.rate == 48000 and chosen.as_is
    window.choose_export_options = lambda defaults, count, without: chosen
    select(window, qtbot, "kick")
    window.export_selection()
    qtbot.waitUntil(lambda: (tmp_path / "out" / "kick.wav").exists(), timeout=20000)
    wav = parse_wav(tmp_path / "out" / "kick.wav")
    assert wav.bits == 24 and wav.sample_rate == 48000
    assert window.library_ctl.export_defaults().folder == tmp_path / "out" and window.library_ctl.export_defaults().bits == 24


def test_extend_says_in_seconds_when_a_bar_does_not_fit_the_model_window():
    from types import SimpleNamespace

    from cratedigger.errors import BadParameterError
    from cratedigger_ui.tasks import check_bar_fits_window

    model = SimpleNamespace(mel=SimpleNamespace(x_res=64, hop_length=512, sample_rate=22050))  # a 1.49 s window
    with pytest.raises(BadParameterError, match=r"one bar of this loop \(1\.72 s at 139\.6 BPM\) does not fit this "
                                                r"model's window \(1\.49 s\)"):
        check_bar_fits_window(model, bpm=139.6, beats_per_bar=4)
    check_bar_fits_window(model, bpm=400.0, beats_per_bar=4)  # 0.6 s bars fit


def test_the_model_box_starts_on_the_engine_default_and_offers_the_hub_model(make_window, qtbot, monkeypatch, tmp_path):
    monkeypatch.delenv("CRATEDIGGER_MODEL", raising=False)
    import cratedigger.model.starter as starter

    monkeypatch.setattr(starter, "hub_model_cached", lambda *a, **k: False)  # breaks-256 not downloaded yet
    window = make_window()
    assert window.panel.model_ref() == "starter"
    assert "teticio/audio-diffusion-breaks-256" in window.panel.recent_models()
    assert "455 MB" in window.panel.status.text()


def test_the_device_list_offers_only_what_this_machine_has(make_window, qtbot):
    import torch

    window = make_window()
    window.generation.check_devices()
    expected = ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (
        ["mps"] if torch.backends.mps.is_available() else [])
    box = window.panel.device_box
    qtbot.waitUntil(lambda: [box.itemText(i) for i in range(box.count())] == expected, timeout=60000)
