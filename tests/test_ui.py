"""The desktop app, driven through its real widgets on the offscreen platform: browse, select,
play, keys, tags, rating, rename, trash and undo, export, drag out, drop in, settings, no audio."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from cratedigger.library import Library
from cratedigger.playback import BLOCK_FRAMES, Player
from library_helpers import click_loop, parse_wav
from ui_helpers import two_loop_library as make_two_loop_library

RATE = 22050


@pytest.fixture
def library_root(tmp_path):
    """Two whole-bar loops with tempo, one tagged: what a producer's library looks like."""
    return make_two_loop_library(tmp_path / "library")


def lib_sample(root, name):
    with Library.open(root, analyzer=None) as lib:
        return next(s for s in lib.query(limit=None) if s.name == name)


def lib_state(root, sid):
    with Library.open(root, analyzer=None) as lib:
        return lib.get(sid)


def loaded_window(make_window, qtbot, **kw):
    window = make_window(**kw)
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 2, timeout=15000)
    return window


def select(window, qtbot, name):
    row = next(i for i, e in enumerate(window.library_model.entries()) if e.name == name)
    window.library_list.setFocus()
    window.library_list.setCurrentIndex(window.library_model.index(row))
    qtbot.waitUntil(lambda: window.audition.loaded_key() == window.current.key, timeout=10000)
    return window.current


def pull(window, blocks=4):
    player = window.audition.player
    out = np.zeros((BLOCK_FRAMES, 2), np.float32)
    chunks = []
    for _ in range(blocks):
        player._callback(out, BLOCK_FRAMES, None, None)
        chunks.append(out.copy())
    return np.concatenate(chunks)


def test_opens_on_the_library_with_the_generate_panel_ready(make_window, qtbot, library_root):
    window = loaded_window(make_window, qtbot)
    names = {e.name for e in window.library_model.entries()}
    assert names == {"amen-ish", "lazy"}
    entry = window.library_model.get(f"lib:{lib_sample(library_root, 'amen-ish').id}")
    assert entry.bpm == 120.0 and entry.bars == 2 and entry.tags == ("dusty",)
    assert entry.overview is not None and entry.overview.shape[1] == 2  # thumbnail ready
    assert window.panel.generate_button.isEnabled() and not window.panel.cancel_button.isEnabled()
    from cratedigger.model import default_model_reference

    assert window.panel.model_ref() == default_model_reference()  # the built-in starter, or breaks-256 when cached
    assert window.filters.count_label.text() == "2 loops"


def test_search_filters_by_text_tag_and_bpm(make_window, qtbot, library_root):
    window = loaded_window(make_window, qtbot)
    qtbot.keyClicks(window.filters.tag_filter, "dusty")
    qtbot.waitUntil(lambda: [e.name for e in window.library_model.entries()] == ["amen-ish"], timeout=5000)
    window.filters.tag_filter.clear()
    window.filters.bpm_max.setValue(100)
    qtbot.waitUntil(lambda: [e.name for e in window.library_model.entries()] == ["lazy"], timeout=5000)


def test_selecting_plays_the_loop_and_the_detail_view_shows_it(make_window, qtbot, library_root):
    window = loaded_window(make_window, qtbot)
    entry = select(window, qtbot, "amen-ish")
    assert window.audition.is_playing()  # auto-play is on by default
    audio = click_loop(bpm=120, bars=2, sample_rate=RATE)
    out = pull(window, 6)
    fade = int(RATE * 0.008) + 1
    np.testing.assert_allclose(out[fade:, 0], audio[fade : out.shape[0]], atol=2e-4)  # the loop itself, both channels
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    # detail view: waveform, beat grid (8 beats), downbeats (2 bars), spectrogram on the same time axis
    x, y = window.detail.wave.getData()
    assert x[-1] == pytest.approx(4.0, abs=1e-3)
    qtbot.waitUntil(lambda: window.detail.spec_image.image is not None, timeout=10000)
    assert window.detail.spec_image.mapRectToParent(window.detail.spec_image.boundingRect()).width() == pytest.approx(4.0)
    assert window.detail.loop_region() == pytest.approx((0.0, 4.0))
    assert entry.key == window.audition.loaded_key()
    # the playhead follows the callback's frame counter
    qtbot.waitUntil(lambda: window.detail.playhead.isVisible() and window.detail.playhead.value() > 0.1, timeout=5000)


def test_loop_region_snaps_to_bars_and_audition_follows(make_window, qtbot, library_root):
    window = loaded_window(make_window, qtbot)
    select(window, qtbot, "amen-ish")
    with qtbot.waitSignal(window.detail.region_changed, timeout=2000) as sig:
        window.detail.set_region(0.3, 2.2)
    assert sig.args == [0.0, 2.0]  # 2 s bars at 120 BPM
    assert window.audition.region() == pytest.approx((0.0, 2.0))
    window.detail.region.setRegion((2.6, 2.9))  # inside one bar: snaps to a whole bar
    window.detail.region.sigRegionChangeFinished.emit(window.detail.region)
    assert window.detail.loop_region() == pytest.approx((2.0, 4.0))
    out = pull(window, 400)[:, 0]
    clip = window.audition.clip
    assert clip.region == (2 * RATE, 4 * RATE) and 2 * RATE <= clip.position < 4 * RATE


def test_keys_space_up_down_and_loop(make_window, qtbot, library_root):
    window = loaded_window(make_window, qtbot)
    window.library_list.setFocus()
    qtbot.keyClick(window.library_list, Qt.Key.Key_Down)
    first = window.current
    assert first is not None
    qtbot.waitUntil(lambda: window.audition.is_playing(), timeout=10000)
    qtbot.keyClick(window.library_list, Qt.Key.Key_Space)
    assert not window.audition.is_playing()
    qtbot.keyClick(window.library_list, Qt.Key.Key_Space)
    assert window.audition.is_playing()
    qtbot.keyClick(window.library_list, Qt.Key.Key_Up)
    assert window.current.key != first.key
    assert window.library_list.currentIndex().row() == 0
    qtbot.keyClick(window.library_list, Qt.Key.Key_Down)
    assert window.current.key == first.key
    qtbot.keyClick(window.library_list, Qt.Key.Key_L)
    assert not window.transport.loop_button.isChecked() and not window.audition.looping
    qtbot.keyClick(window.library_list, Qt.Key.Key_L)
    assert window.audition.looping


def test_autoplay_toggle_off_selects_without_playing(make_window, qtbot, library_root):
    window = loaded_window(make_window, qtbot)
    window.transport.autoplay_button.click()
    assert not window.autoplay
    select(window, qtbot, "lazy")
    assert not window.audition.is_playing()


def test_rating_keys_favourite_and_rename(make_window, qtbot, library_root):
    window = loaded_window(make_window, qtbot)
    sid = lib_sample(library_root, "lazy").id
    select(window, qtbot, "lazy")
    qtbot.keyClick(window.library_list, Qt.Key.Key_4)
    qtbot.waitUntil(lambda: lib_state(library_root, sid).rating == 4, timeout=5000)
    assert window.rating_label.text() == "★★★★☆"
    qtbot.keyClick(window.library_list, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: lib_state(library_root, sid).favourite, timeout=5000)
    qtbot.keyClick(window.library_list, Qt.Key.Key_0)
    qtbot.waitUntil(lambda: lib_state(library_root, sid).rating == 0, timeout=5000)
    qtbot.keyClick(window.library_list, Qt.Key.Key_F2)
    assert window.name_edit.hasFocus()
    qtbot.keyClicks(window.name_edit, "slow roll")
    qtbot.keyClick(window.name_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: lib_state(library_root, sid).name == "slow roll", timeout=5000)
    qtbot.waitUntil(lambda: window.library_model.get(f"lib:{sid}").name == "slow roll", timeout=5000)


def test_tags_complete_from_existing_ones_and_are_stored(make_window, qtbot, library_root):
    window = loaded_window(make_window, qtbot)
    sid = lib_sample(library_root, "lazy").id
    select(window, qtbot, "lazy")
    editor = window.tag_editor
    assert "dusty" in editor.known_tags()
    qtbot.keyClicks(editor.edit, "dus")
    completer = editor.completer
    completer.setCompletionPrefix("dus")
    assert completer.currentCompletion() == "dusty"
    editor.edit.setText("dusty, half-time")
    qtbot.keyClick(editor.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: set(lib_state(library_root, sid).tags) == {"dusty", "half-time"}, timeout=5000)
    assert "half-time" in editor.known_tags()
    # the chip removes the tag again
    chip = next(editor._chips.itemAt(i).widget() for i in range(editor._chips.count())
                if editor._chips.itemAt(i).widget().text().startswith("half-time"))
    chip.click()
    qtbot.waitUntil(lambda: lib_state(library_root, sid).tags == ("dusty",), timeout=5000)


def test_trash_with_undo(make_window, qtbot, library_root):
    window = loaded_window(make_window, qtbot)
    sid = lib_sample(library_root, "lazy").id
    select(window, qtbot, "lazy")
    qtbot.keyClick(window.library_list, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: lib_state(library_root, sid).trashed, timeout=5000)
    assert window.library_model.get(f"lib:{sid}") is None
    qtbot.waitUntil(lambda: "trash" in window.messages.text(), timeout=5000)
    assert window.undo_button.isEnabled()
    qtbot.keyClick(window.library_list, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not lib_state(library_root, sid).trashed, timeout=5000)
    qtbot.waitUntil(lambda: window.library_model.get(f"lib:{sid}") is not None, timeout=5000)


def test_export_selection_writes_daw_ready_wavs(make_window, qtbot, library_root, tmp_path):
    window = loaded_window(make_window, qtbot)
    out = tmp_path / "export"
    from cratedigger_ui.tasks import ExportOptions

    window.choose_export_options = lambda defaults, count, without: ExportOptions(folder=out)
    window.library_list.setFocus()
    window.library_list.selectAll()
    qtbot.keyClick(window.library_list, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(list(out.glob("*.wav"))) == 2 and "Exported 2" in window.messages.text(), timeout=10000)
    names = sorted(p.name for p in out.glob("*.wav"))
    assert names == ["amen-ish_120bpm_2bar.wav", "lazy_90bpm_1bar.wav"]
    wav = parse_wav(out / "amen-ish_120bpm_2bar.wav")
    assert wav.acid["tempo"] == pytest.approx(120.0) and wav.acid["beats"] == 8
    assert wav.smpl["loops"][0]["end"] == 4 * RATE - 1


def test_drag_carries_the_file_url_of_a_wav_with_loop_chunks(make_window, qtbot, library_root, tmp_path):
    window = loaded_window(make_window, qtbot)
    entry = select(window, qtbot, "amen-ish")
    row = window.library_model.row_of(entry.key)
    qtbot.waitUntil(lambda: entry.sample_id in window.library_ctl._drag_files, timeout=10000)  # prepared off the GUI thread
    # QListView.startDrag asks the model for the mime data of the dragged rows: this is that call.
    mime = window.library_model.mimeData([window.library_model.index(row)])
    assert window.library_model.mimeTypes() == ["text/uri-list"]
    urls = mime.urls()
    assert len(urls) == 1 and urls[0].isLocalFile()
    path = urls[0].toLocalFile()
    assert path.startswith(str(tmp_path / "drag")) and path.endswith("amen-ish_120bpm_2bar.wav")
    wav = parse_wav(path)
    assert wav.acid["tempo"] == pytest.approx(120.0) and not wav.acid["one_shot"]
    assert wav.smpl["loops"][0]["start"] == 0 and wav.smpl["loops"][0]["end"] == 4 * RATE - 1
    assert window.library_model.flags(window.library_model.index(row)) & Qt.ItemFlag.ItemIsDragEnabled


def test_a_drag_before_its_file_is_ready_says_so_and_the_file_follows_off_the_gui_thread(make_window, qtbot, library_root):
    window = loaded_window(make_window, qtbot)
    entry = select(window, qtbot, "amen-ish")
    qtbot.waitUntil(lambda: entry.sample_id in window.library_ctl._drag_files, timeout=10000)
    window.library_ctl._drag_files[entry.sample_id].unlink()  # as if the drag beat its preparation
    errors = []
    window.library_model.drag_error = errors.append
    index = window.library_model.index(window.library_model.row_of(entry.key))
    assert window.library_model.mimeData([index]).urls() == []  # before: a full export ran right here
    assert len(errors) == 1 and "still being written" in errors[0]
    qtbot.waitUntil(lambda: (p := window.library_ctl._drag_files.get(entry.sample_id)) is not None and p.is_file(), timeout=10000)
    (url,) = window.library_model.mimeData([index]).urls()
    assert url.toLocalFile().endswith("amen-ish_120bpm_2bar.wav")


def drop(window, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(window.width() / 2, window.height() / 2)
    action = Qt.DropAction.CopyAction
    from PySide6.QtGui import QDragEnterEvent

    enter = QDragEnterEvent(pos.toPoint(), action, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    event = QDropEvent(pos, action, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    return enter.isAccepted(), event.isAccepted()


def test_dropping_audio_files_imports_them(make_window, qtbot, library_root, tmp_path):
    import soundfile as sf

    window = loaded_window(make_window, qtbot)
    path = tmp_path / "my break.wav"
    sf.write(path, click_loop(bpm=100, bars=2, sample_rate=44100, channels=2), 44100)
    (tmp_path / "notes.txt").write_text("not audio")
    entered, dropped = drop(window, [path, tmp_path / "notes.txt"])
    assert entered and dropped
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 3, timeout=60000)
    assert "my break" in {e.name for e in window.library_model.entries()}
    entered, _ = drop(window, [tmp_path / "notes.txt"])
    assert not entered  # nothing importable: the drop is refused


def test_a_broken_audio_file_is_a_readable_message(make_window, qtbot, library_root, tmp_path):
    window = loaded_window(make_window, qtbot)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    drop(window, [bad])
    qtbot.waitUntil(lambda: "broken.wav" in window.messages.text(), timeout=10000)
    assert window.messages.kind == "error" and "Traceback" not in window.messages.text()
    assert window.library_model.rowCount() == 2


def test_without_an_audio_device_the_app_works_and_says_why(make_window, qtbot, library_root):
    def no_device(**kwargs):
        raise RuntimeError("Error querying device -1")

    window = loaded_window(make_window, qtbot, player_factory=lambda: Player(stream_factory=no_device))
    select(window, qtbot, "amen-ish")
    qtbot.waitUntil(lambda: "Cannot play audio" in window.transport.audio_label.text(), timeout=5000)
    assert "Error querying device" in window.messages.text()
    assert not window.audition.is_playing()
    qtbot.keyClick(window.library_list, Qt.Key.Key_3)  # curation still works
    sid = window.current.sample_id
    qtbot.waitUntil(lambda: lib_state(library_root, sid).rating == 3, timeout=5000)


def test_settings_are_kept_between_runs(make_window, qtbot, library_root):
    window = loaded_window(make_window, qtbot)
    window.panel.count_spin.setValue(12)
    window.panel.steps_spin.setValue(30)
    window.panel.scheduler_box.setCurrentText("dpm++")
    window.panel.remember_model("/models/my-breaks")
    window.transport.autoplay_button.click()
    window.resize(760, 640)  # fits the offscreen screen (800x800), so restoring needs no clamping
    QApplication.processEvents()
    size = window.size()
    window.close()
    again = make_window()
    assert again.panel.count_spin.value() == 12 and again.panel.steps_spin.value() == 30
    assert again.panel.scheduler_box.currentText() == "dpm++"
    assert again.panel.model_ref() == "/models/my-breaks"
    assert "teticio/audio-diffusion-breaks-256" in again.panel.recent_models()
    assert not again.autoplay
    # the width may be clamped to the minimum the content needs; the height comes back exactly
    assert again.height() == size.height() == 640 and again.width() < 1280
    assert again.settings.get_str("library/root") == str(library_root)


def test_readable_at_1280x800(make_window, qtbot, library_root):
    window = loaded_window(make_window, qtbot)
    window.resize(1280, 800)
    QApplication.processEvents()
    assert window.minimumSizeHint().width() <= 1280 and window.minimumSizeHint().height() <= 800
    # every control of the generate panel is on screen and not squeezed below its size hint
    for w in (window.panel.generate_button, window.panel.cancel_button, window.panel.model_box, window.panel.progress):
        assert w.isVisible() and w.width() >= w.minimumSizeHint().width()
    assert window.detail.height() > 200


def test_launch_warms_the_engine_up_in_the_background(make_window, qtbot, library_root):
    window = make_window(warm_up=True)
    # the library shows while the heavy imports and the first beat analysis run on a pool
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 2, timeout=15000)
    qtbot.waitUntil(lambda: window.warmed_up and not window.jobs.busy, timeout=120000)
    assert window.statusBar().currentMessage() in ("Ready", "")


def test_a_refused_edit_says_why_and_shows_what_is_stored(make_window, qtbot, library_root):
    from cratedigger.library.naming import MAX_NAME_CHARS

    window = loaded_window(make_window, qtbot)
    sid = lib_sample(library_root, "lazy").id
    select(window, qtbot, "lazy")
    window.name_edit.setText("x" * (MAX_NAME_CHARS + 5))
    window.name_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: window.messages.text().startswith("Could not rename"), timeout=5000)
    assert "longer than" in window.messages.text() and window.messages.kind == "error"
    qtbot.waitUntil(lambda: window.library_model.get(f"lib:{sid}").name == "lazy", timeout=5000)
    assert lib_state(library_root, sid).name == "lazy"


def test_typing_in_fields_is_not_taken_as_shortcuts(make_window, qtbot, library_root):
    window = loaded_window(make_window, qtbot)
    sid = lib_sample(library_root, "lazy").id
    select(window, qtbot, "lazy")
    spin = window.panel.count_spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "12")
    assert spin.value() == 12
    window.filters.search.setFocus()
    qtbot.keyClicks(window.filters.search, "5 f k l")
    assert window.filters.search.text() == "5 f k l"
    assert window.current.rating == 0 and not window.current.favourite and window.transport.loop_button.isChecked()
    assert lib_state(library_root, sid).rating == 0
