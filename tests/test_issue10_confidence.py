"""Issue 10 item 4: a confidence that means something, said in analyze --json, the text line and the
app (a "?" beside the BPM), and one-gesture fixes whose grid and loop region follow and are kept
with the loop into its export. Real recorded drum hits (hydrogen-drumkits) on exact grids."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from fixtures.analysis.support import analysed, fixture_path
from PySide6.QtCore import Qt

from benchmarks.corpus.build_corpus import Style, _finish, load_kit, render_style
from cratedigger.analysis import AnalysisResult, analyze
from cratedigger.cli import main
from cratedigger.library import Library
from cratedigger_ui.entries import Entry
from library_helpers import click_loop, parse_wav
from ui_helpers import export_loop

RATE = 22050
# nothing in these tells the answer: quarter-note ride with no accent (which beat is 1?) and even
# eighth-note hats alone (eighths at T, or quarters at 2T?)
RIDE_ONLY = Style("ride4", 4, (100, 100), tuple(("ride", b, 0.7) for b in range(4)))
HATS_ONLY = Style("hats8", 4, (120, 120), tuple(("hat", b * 0.5, 0.6) for b in range(8)))


def rendered(style: Style, path=None) -> np.ndarray:
    bpm = style.bpm_range[0]
    audio, beats, downs = render_style(style, load_kit("GMRockKit"), bpm=bpm, n_bars=6,
                                       rng=np.random.default_rng(440), jitter_ms=0.0)
    seg, _, _ = _finish(audio, beats, downs, start=60.0 / bpm, length=8.0, sr=RATE, mono=True)
    if path is not None:
        sf.write(str(path), seg, RATE)
    return seg


def test_a_clear_groove_is_sure_and_an_ambiguous_one_says_what_is_unsure():
    sure = analysed("rock_95bpm_22k_mono")
    assert sure.unsure == () and not sure.low_confidence and sure.beat_one_confidence >= 0.35
    ride = analyze(rendered(RIDE_ONLY), sample_rate=RATE)
    assert ride.bpm == pytest.approx(100.0, rel=0.04)  # the tempo is plain ...
    assert "beat 1" in ride.unsure and "tempo" not in ride.unsure  # ... which beat is 1 is not
    hats = analyze(rendered(HATS_ONLY), sample_rate=RATE)
    assert "tempo" in hats.unsure and hats.low_confidence


def test_unsure_survives_json_and_a_manual_grid_is_never_unsure():
    r = AnalysisResult(bpm=90.0, beats=(0.0,), downbeats=(0.0,), beat_positions=(1,), beats_per_bar=4,
                       confidence=0.3, backend="madmom", duration=2.0, beat_one_confidence=0.9)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["low_confidence"] is True and d["unsure"] == ["tempo"]
    assert AnalysisResult.from_dict(d) == r
    from cratedigger.regrid import steady_grid

    assert steady_grid(bpm=90.0, duration=4.0).unsure == ()


def test_analyze_json_and_text_say_when_the_result_is_unsure(tmp_path, capsys):
    ride = tmp_path / "ride.wav"
    rendered(RIDE_ONLY, ride)
    good = fixture_path("rock_95bpm_22k_mono")
    assert main(["analyze", "--json", str(good), str(ride)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["low_confidence"] is False and out[0]["unsure"] == []
    assert out[1]["low_confidence"] is True and out[1]["unsure"] == ["beat 1"]
    assert 0.0 <= out[1]["beat_one_confidence"] < 0.35
    assert main(["analyze", str(good), str(ride)]) == 0
    good_line, ride_line = capsys.readouterr().out.strip().splitlines()
    assert "BPM ?" not in good_line and "unsure" not in good_line
    assert "BPM ?" in ride_line and "unsure of the beat 1" in ride_line


def test_the_tempo_bar_shows_a_question_mark_only_for_an_unsure_analysis(qtbot):
    from cratedigger_ui.widgets.tempo_bar import TempoBar

    bar = TempoBar()
    qtbot.addWidget(bar)
    base = dict(name="break 01", sample_rate=RATE, duration=4.0, bpm=120.0, bars=2)
    bar.set_entry(Entry(key="fresh:1", unsure=("tempo",), **base))
    assert bar.is_unsure() and "×2" in bar.unsure_label.toolTip()
    bar.set_entry(Entry(key="fresh:2", **base))
    assert not bar.is_unsure()
    # after a re-cut the grid is the producer's: no "?"
    bar.set_entry(Entry(key="fresh:3", unsure=("tempo",), provenance={"tempo_set_by": "producer"}, **base))
    assert not bar.is_unsure()
    bar.set_entry(None)
    assert not bar.is_unsure()


def test_fresh_entries_keep_what_was_unsure_across_a_restart():
    from cratedigger_ui.entries import entry_from_record

    audio = np.zeros(RATE, np.float32)
    e = Entry(key="fresh:4", name="break 04", sample_rate=RATE, duration=1.0, bpm=100.0, unsure=("beat 1",))
    back = entry_from_record(json.loads(json.dumps(e.to_record())), audio, RATE, None, None)
    assert back.unsure == ("beat 1",)


@pytest.fixture
def wrong_beat_one(tmp_path):
    """Three bars at 120 BPM stored with beat 1 one beat early (the analysis put it on beat 4)."""
    root = tmp_path / "library"
    audio = np.roll(click_loop(bpm=120.0, bars=3, sample_rate=RATE), -RATE // 2)
    with Library.open(root, analyzer=None) as lib:
        beats = tuple(np.arange(12) * 0.5)
        lib.add_audio(audio, RATE, name="early one", source="imported",
                      analysis={"bpm": 120.0, "beats": beats, "downbeats": beats[::4], "beats_per_bar": 4})
    return audio


def test_moving_beat_one_moves_the_loop_region_and_the_recut_export_starts_there(make_window, qtbot,
                                                                                  wrong_beat_one, tmp_path):
    window = make_window()
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 1, timeout=15000)
    window.library_list.setFocus()
    window.library_list.setCurrentIndex(window.library_model.index(0))
    qtbot.waitUntil(lambda: window.current_audio() is not None, timeout=60000)
    start, end = window.detail.region.getRegion()
    assert (start, end) == pytest.approx((0.0, 6.0), abs=0.01)  # all three bars
    bar = window.tempo_bar
    qtbot.mouseClick(bar.later_button, Qt.MouseButton.LeftButton)
    start, end = window.detail.region.getRegion()
    # before: the region stayed on the old bars; now the whole bars from the new beat 1 (two fit)
    assert (start, end) == pytest.approx((0.5, 4.5), abs=0.01)
    qtbot.mouseClick(bar.recut_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 2, timeout=20000)
    recut = next(e for e in window.library_model.entries() if e.name.startswith("early one ·"))
    assert recut.bpm == pytest.approx(120.0) and recut.bars == 2 and recut.downbeats[0] == pytest.approx(0.0)
    path = export_loop(window, qtbot, recut.key, tmp_path / "export")
    wav = parse_wav(path)
    assert path.name.endswith("_120bpm_2bar.wav") and wav.acid["beats"] == 8
    assert wav.acid["tempo"] == pytest.approx(120.0)
    assert wav.smpl["loops"][0]["end"] == 2 * 4 * RATE // 2 - 1
    exported, _ = sf.read(str(path), dtype="float32", always_2d=True)
    # the exported loop begins on the moved beat 1: the source from 0.5 s on
    src = wrong_beat_one[RATE // 2: RATE // 2 + 2000]
    assert np.corrcoef(exported[:2000, 0], src)[0, 1] > 0.99
