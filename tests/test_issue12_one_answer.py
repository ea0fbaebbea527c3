"""Issue 12 item 5 and the plan_loop shortfall: one loop, one answer, in `analyze`, `slice`, the
library (import, list, export) and the engine's best_loop the app uses. Real breaks, the real CLI
(its main function), a real library on disk, the exported files read back with an independent
RIFF parser."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from cratedigger.cli import main
from drum_audio import LMMS_BEATS, rock_pattern
from library_helpers import parse_wav


@pytest.fixture(scope="module")
def one_bar_break(tmp_path_factory):
    """lmms' break02: one bar of 4/4 at 139.6 BPM, 1.72 s (the issue's break). The analysis reads
    it as 2/4 with beat 1 half-way through, which is what made the tools disagree."""
    audio, rate = sf.read(str(LMMS_BEATS / "break02.ogg"), dtype="float32")
    path = tmp_path_factory.mktemp("breaks") / "break02.wav"
    sf.write(path, audio, rate, subtype="PCM_16")
    assert rate == 44100 and audio.shape[0] / rate == pytest.approx(1.72, abs=0.005)
    return path


@pytest.fixture(scope="module")
def short_two_bars(tmp_path_factory):
    """Two bars at 133.3 BPM (3.6009 s) written as 3.60 s: a few samples short of two bars."""
    rate = 44100
    audio = rock_pattern(bpm=133.3, bars=2, sample_rate=rate)[: int(3.60 * rate)]
    path = tmp_path_factory.mktemp("breaks") / "short_two.wav"
    sf.write(path, audio, rate, subtype="PCM_16")
    return path


def run(capsys, *argv) -> str:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def answers(capsys, path, tmp_path) -> dict:
    """Bars and meter of one file as each tool gives them."""
    from cratedigger.loop import best_loop

    (report,) = json.loads(run(capsys, "analyze", path, "--json"))
    got = {"analyze": (report["loop"]["bars"], report["beats_per_bar"])}
    sliced = tmp_path / f"{path.stem}_slice.wav"
    run(capsys, "slice", path, "--bars", 4, "--out", sliced)
    acid = parse_wav(sliced).acid
    got["slice"] = (acid["beats"] // acid["meter"][0], acid["meter"][0])
    assert acid["meter"][1] == 4
    root = tmp_path / "lib"
    added = run(capsys, "library", "--root", root, "add", path)
    got["add says"] = added.split("  ")[2]  # "<id>: <name>  <bpm>  <bars>  [tags]"
    (row,) = json.loads(run(capsys, "library", "--root", root, "list", "--json"))
    got["library"] = (row["bars"], row["beats_per_bar"])
    out = tmp_path / "export"
    run(capsys, "library", "--root", root, "export", row["id"], "--to", out)
    (exported,) = out.glob("*.wav")
    acid = parse_wav(exported).acid
    got["export"] = (acid["beats"] // acid["meter"][0], acid["meter"][0])
    got["export name"] = exported.name
    audio, rate = sf.read(path, dtype="float32")
    loop = best_loop(audio, sample_rate=rate)
    got["app"] = (loop.bars, loop.beats_per_bar)
    return got


def test_a_one_bar_break_is_one_bar_of_4_4_everywhere(capsys, tmp_path, one_bar_break):
    got = answers(capsys, one_bar_break, tmp_path)
    # before: analyze (1, 2), slice (1, 2), library and export (2, 2) named ..._2bar, the app (None, 4)
    assert got.pop("export name") == "break02_140bpm_1bar.wav"
    assert got.pop("add says") == "1 bar"  # before: "1 bars"
    assert got == {tool: (1, 4) for tool in ("analyze", "slice", "library", "export", "app")}


def test_a_clip_a_few_samples_short_of_two_bars_is_two_bars_everywhere(capsys, tmp_path, short_two_bars):
    got = answers(capsys, short_two_bars, tmp_path)
    # before: the library said 2 bars and slice, analyze and the app 1
    assert got.pop("export name") == "short_two_133bpm_2bar.wav"
    assert got.pop("add says") == "2 bars"
    assert got == {tool: (2, 4) for tool in ("analyze", "slice", "library", "export", "app")}


def test_a_3_4_reading_of_a_one_bar_4_4_loop_is_4_4_everywhere(capsys, tmp_path):
    """The issue's 3/4 export: lmms' rave_kick02 (2.67 s, four beats at 90 BPM) is read as 3/4, and
    was exported as rave_kick02_90bpm_1bar.wav with acid "Meter 3/4, Beats 3"."""
    audio, rate = sf.read(str(LMMS_BEATS / "rave_kick02.ogg"), dtype="float32")
    path = tmp_path / "rave_kick02.wav"
    sf.write(path, audio, rate, subtype="PCM_16")
    got = answers(capsys, path, tmp_path)
    assert got.pop("export name") == "rave_kick02_90bpm_1bar.wav"
    got.pop("add says")
    assert got == {tool: (1, 4) for tool in ("analyze", "slice", "library", "export", "app")}


def test_plan_loop_takes_a_clip_a_few_samples_short_of_n_bars_whole():
    from cratedigger.regrid import steady_grid
    from cratedigger.slicing import plan_loop, slice_loop

    rate = 44100
    n = int(3.60 * rate)  # two bars at 133.3 BPM are 158,800 samples: 40 more than the clip
    grid = steady_grid(bpm=133.3, duration=n / rate)
    plan = plan_loop(grid, sample_rate=rate, n_samples=n, bars=4)
    assert (plan.start, plan.end, plan.bars, plan.beats) == (0, n, 2, 8)  # before: 1 bar
    assert plan.bpm == pytest.approx(8 * 60 * rate / n)  # the tempo its length gives, as a DAW reads it
    cut = slice_loop(rock_pattern(bpm=133.3, bars=2, sample_rate=rate)[:n], sample_rate=rate, analysis=grid)
    assert cut.audio.shape[0] == n and cut.bars == 2
    # the seam is still smooth: the wrap jumps no more than neighbouring samples do
    wrap = abs(float(cut.audio[-1]) - float(cut.audio[0]))
    assert wrap <= np.abs(np.diff(cut.audio)).max()


def test_a_clip_clearly_longer_than_whole_bars_is_still_cut_on_its_downbeat():
    """The whole-clip rule only takes clips that are whole bars; others are cut at the analysed tempo."""
    from cratedigger.regrid import steady_grid
    from cratedigger.slicing import plan_loop

    rate = 22050
    n = int((2 * 4 * 60 / 120 + 0.3) * rate)  # two bars at 120 BPM and 0.3 s more
    plan = plan_loop(steady_grid(bpm=120, duration=n / rate, first_downbeat=0.1), sample_rate=rate, n_samples=n)
    assert plan.bars == 2 and plan.start == round(0.1 * rate) and plan.bpm == pytest.approx(120)
