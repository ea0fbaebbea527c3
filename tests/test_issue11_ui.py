"""The app's project tempo field and "More like this", driven through pytest-qt on real drum loops."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt, QTimer

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


def ready_drag(window, entry):
    """The drag file, or None while it is still being written (a drag then says so and is refused)."""
    try:
        return window.drag_file_for(entry)
    except ValueError as exc:
        assert "still being written" in str(exc)
        return None


def select(window, qtbot, name, rows=6):
    qtbot.waitUntil(lambda: window.library_model.rowCount() == rows, timeout=15000)
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
    qtbot.waitUntil(lambda: "_90bpm_" in str(ready_drag(window, window.current)), timeout=10000)
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


# -- the project tempo in File > Export, fresh loops' drag files, settings, Chop to kit -----------------------


def fresh_rock(window, bpm=93.4, bars=2):
    """An unkept loop in the Fresh tray, as generation leaves one (whole bars, analysed tempo)."""
    from cratedigger_ui.entries import Entry

    audio = rock_pattern(bpm=bpm, bars=bars, sample_rate=SR)
    beats = tuple(k * 60 / bpm for k in range(bars * 4))
    entry = Entry(key="fresh:1", name="fresh rock", sample_rate=SR, duration=audio.size / SR, bpm=bpm, bars=bars,
                  beats=beats, downbeats=beats[::4], audio=audio)
    window.fresh_model.append([entry])
    return entry


def accept_export_dialog(qtbot, folder, check):
    """Answer the real File > Export dialog once it is up: check it, point it at `folder`, press Export."""
    from PySide6.QtWidgets import QApplication, QDialogButtonBox

    from cratedigger_ui.widgets.export_dialog import ExportDialog

    def answer():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, ExportDialog):
            QTimer.singleShot(50, answer)
            return
        check(dialog)
        dialog.folder_edit.setText(str(folder))
        dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()

    QTimer.singleShot(50, answer)


def test_file_export_fits_loops_to_the_project_tempo_named_and_chunked_with_it(make_window, qtbot, library_root, tmp_path):
    window = make_window(library_root=library_root)
    select(window, qtbot, "rock")
    window.project_tempo_bar.set_bpm(90.0)
    out = tmp_path / "export"
    seen = {}

    def check(dialog):
        seen["text"] = dialog.tempo_check.text()
        seen["checked"] = dialog.tempo_check.isChecked()

    accept_export_dialog(qtbot, out, check)
    window.export_action.trigger()
    qtbot.waitUntil(lambda: any(out.glob("*.wav")), timeout=20000)
    assert seen == {"text": "At project tempo 90 BPM (stretch)", "checked": True}
    (wav,) = out.glob("*.wav")
    assert wav.name == "rock_90bpm_2bar.wav"
    assert sf.info(str(wav)).frames == fitted_frames(beats=8, target_bpm=90.0, sample_rate=SR)
    chunks = parse_wav(wav)
    assert chunks.acid["tempo"] == pytest.approx(90.0) and chunks.acid["beats"] == 8
    qtbot.waitUntil(lambda: "at 90 BPM (stretch)" in window.messages.text(), timeout=5000)

    # Unticked, the same dialog exports the loop at its own tempo.
    def untick(dialog):
        dialog.tempo_check.setChecked(False)

    own = tmp_path / "own"
    accept_export_dialog(qtbot, own, untick)
    window.export_action.trigger()
    qtbot.waitUntil(lambda: any(own.glob("*.wav")), timeout=20000)
    (plain,) = own.glob("*.wav")
    assert plain.name == "rock_93bpm_2bar.wav" and parse_wav(plain).acid["tempo"] == pytest.approx(93.4)


def test_fresh_loops_export_and_drag_at_the_project_tempo(make_window, qtbot, library_root, tmp_path):
    from cratedigger_ui.tasks import ExportOptions

    window = make_window(library_root=library_root)
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 6, timeout=15000)
    entry = fresh_rock(window)
    window.project_tempo_bar.set_fit("repitch")
    window.project_tempo_bar.set_bpm(120.0)
    window.fresh_list.setFocus()
    window.fresh_list.select_key(entry.key)
    qtbot.waitUntil(lambda: window.current is not None and window.current.key == entry.key, timeout=10000)

    # Export: what the dialog hands over at project tempo 120, re-pitched.
    defaults = window.library_ctl.export_defaults()
    assert (defaults.bpm, defaults.fit) == (120.0, "repitch")
    out = tmp_path / "export"
    window.choose_export_options = lambda d, count, without: ExportOptions(folder=out, bpm=d.bpm, fit=d.fit)
    window.export_selection()
    qtbot.waitUntil(lambda: any(out.glob("*.wav")), timeout=20000)
    (wav,) = out.glob("*.wav")
    assert wav.name == "fresh_rock_120bpm_2bar.wav"
    assert sf.info(str(wav)).frames == fitted_frames(beats=8, target_bpm=120.0, sample_rate=SR)
    assert parse_wav(wav).acid["tempo"] == pytest.approx(120.0)

    # Drag: the fresh loop's file follows the project tempo, written off the GUI thread.
    qtbot.waitUntil(lambda: ready_drag(window, window.current) is not None, timeout=15000)
    dragged = window.drag_file_for(window.current)
    assert "_120bpm_" in dragged.name and sf.info(str(dragged)).frames == fitted_frames(beats=8, target_bpm=120.0,
                                                                                        sample_rate=SR)
    assert parse_wav(dragged).acid["tempo"] == pytest.approx(120.0)
    window.project_tempo_bar.set_bpm(None)  # off: the loop's own file again
    qtbot.waitUntil(lambda: "_93bpm_" in str(ready_drag(window, window.fresh_model.get(entry.key))), timeout=10000)


def test_the_project_tempo_and_fit_survive_a_restart(make_window, qtbot, library_root):
    first = make_window(library_root=library_root)
    first.project_tempo_bar.set_fit("repitch")
    first.project_tempo_bar.set_bpm(87.5)
    first.close()
    second = make_window(library_root=library_root)
    assert second.project_tempo_bar.bpm() == 87.5 and second.project_tempo_bar.fit() == "repitch"
    assert second.library_ctl.export_defaults().bpm == 87.5
    second.project_tempo_bar.set_bpm(None)
    second.close()
    assert make_window(library_root=library_root).project_tempo_bar.bpm() is None


def test_chop_to_kit_writes_hits_midi_sfz_and_dspreset_at_the_project_tempo(make_window, qtbot, library_root, tmp_path):
    import mido

    from test_issue11_chop import read_kit

    window = make_window(library_root=library_root)
    select(window, qtbot, "rock")
    window.project_tempo_bar.set_bpm(90.0)
    kits = tmp_path / "kits"
    asked = []
    window.chop.choose_folder = lambda default: asked.append(default) or kits
    window.chop_action.trigger()
    qtbot.waitUntil(lambda: "Chopped" in window.messages.text(), timeout=20000)
    kit = window.chop.last_kit
    assert kit.folder == kits / "rock_90bpm_kit" and str(kit.folder) in window.messages.text()
    keymap, midi = read_kit(kit.folder)
    assert len(keymap) == len(kit.hits) >= 8 and all(p.parent.name == "hits" for p in keymap.values())
    tempos = [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"]
    assert [round(mido.tempo2bpm(t), 3) for t in tempos] == [90.0]
    assert {n.note for n in midi.tracks[0] if n.type == "note_on"} <= set(keymap)
    # The folder is remembered for the next chop, and offered.
    assert window.settings.get_str("chop/folder") == str(kits)
    window.chop_action.trigger()
    qtbot.waitUntil(lambda: (kits / "rock_90bpm_kit-2").is_dir(), timeout=20000)
    assert asked[-1] == kits


@pytest.fixture
def odd_root(tmp_path):
    root = tmp_path / "odd"
    rng = np.random.default_rng(440)
    with Library.open(root, analyzer=None) as lib:
        lib.add_audio(np.zeros(SR * 2, np.float32), SR, name="silence", source="sliced", bpm=120.0, bars=1)
        lib.add_audio((rng.standard_normal(SR) * 0.1).astype(np.float32), SR, name="hiss", source="imported")
    return root


def test_chop_says_in_one_line_why_a_loop_without_hits_or_tempo_makes_no_kit(make_window, qtbot, odd_root, tmp_path):
    window = make_window(library_root=odd_root)
    kits = tmp_path / "kits"
    window.chop.choose_folder = lambda default: kits
    select(window, qtbot, "silence", rows=2)
    window.chop_action.trigger()
    qtbot.waitUntil(lambda: "Chop “silence”" in window.messages.text(), timeout=20000)
    assert "no hits found" in window.messages.text() and len(window.messages.text().splitlines()) == 1
    assert not kits.exists() or not any(kits.iterdir())
    select(window, qtbot, "hiss", rows=2)
    window.chop_action.trigger()
    qtbot.waitUntil(lambda: "“hiss” has no tempo" in window.messages.text(), timeout=5000)
    assert len(window.messages.text().splitlines()) == 1 and not window.chop.running()


def test_export_at_the_project_tempo_sends_a_tempo_less_loop_as_is_and_says_why_one_is_too_far(
        make_window, qtbot, odd_root, tmp_path):
    from cratedigger_ui.tasks import ExportOptions

    window = make_window(library_root=odd_root)
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 2, timeout=15000)
    window.library_list.setFocus()
    window.library_list.selectAll()
    window.project_tempo_bar.set_bpm(90.0)  # 0.75x of the silent 120 BPM loop; the hiss has no tempo
    out = tmp_path / "export"
    window.choose_export_options = lambda d, count, without: ExportOptions(folder=out, bpm=d.bpm, fit=d.fit)
    window.export_selection()
    qtbot.waitUntil(lambda: "Exported 2 loops at 90 BPM" in window.messages.text(), timeout=20000)
    assert sorted(p.name for p in out.glob("*.wav")) == ["hiss.wav", "silence_90bpm_1bar.wav"]
    assert "as is (whole clip, no tempo): hiss" in window.messages.text()

    window.project_tempo_bar.set_bpm(250.0)  # 2.08x of 120: beyond what stretching does well
    far = tmp_path / "far"
    window.choose_export_options = lambda d, count, without: ExportOptions(folder=far, bpm=d.bpm, fit=d.fit)
    window.export_selection()
    qtbot.waitUntil(lambda: "Not exported" in window.messages.text(), timeout=20000)
    assert "“silence”: 250 BPM is 2.08x the tempo" in window.messages.text()


def test_chop_can_be_cancelled_and_then_writes_nothing(make_window, qtbot, library_root, tmp_path, monkeypatch):
    import time

    import cratedigger.chop

    slow = cratedigger.chop.chop_loop
    monkeypatch.setattr(cratedigger.chop, "chop_loop", lambda *a, **k: (time.sleep(0.5), slow(*a, **k))[1])
    window = make_window(library_root=library_root)
    select(window, qtbot, "rock")
    kits = tmp_path / "kits"
    window.chop.choose_folder = lambda default: kits
    window.chop_action.trigger()
    assert window.cancel_action.isEnabled()
    window.cancel_action.trigger()
    qtbot.waitUntil(lambda: "cancelled: no kit written" in window.statusBar().currentMessage(), timeout=10000)
    assert not kits.exists() or not any(kits.iterdir())
    assert not window.cancel_action.isEnabled()
