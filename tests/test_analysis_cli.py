"""`cratedigger analyze` and `cratedigger slice`: JSON shape, one bad file among many, written loops."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from fixtures.analysis.support import fixture_path, load_fixture

from cratedigger.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("analyze-cli")
    bad = folder / "not_audio.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    silent = folder / "silent.wav"
    sf.write(str(silent), np.zeros(22050 * 2, np.float32), 22050)
    noise = folder / "noise.wav"
    sf.write(str(noise), np.random.default_rng(440).standard_normal(22050 * 4).astype(np.float32) * 0.3, 22050)
    return {"good": fixture_path("rock_95bpm_22k_mono"), "bad": bad, "missing": folder / "missing.wav",
            "silent": silent, "noise": noise}


def test_analyze_json_reports_every_file_and_one_bad_file_does_not_stop_the_others(files, capsys):
    paths = [files["bad"], files["good"], files["missing"], files["noise"]]
    code = main(["analyze", "--json", *map(str, paths)])
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # some files could not be analysed; the rest were
    assert [o["file"] for o in out] == [str(p) for p in paths]
    assert "error" in out[0] and "not a readable audio file" in out[0]["error"]
    assert "error" in out[2] and "no such file" in out[2]["error"]
    good = out[1]
    assert abs(good["bpm"] - 95.0) / 95.0 < 0.04
    assert good["beats"] and good["downbeats"] and set(good["downbeats"]) <= set(good["beats"])
    # 5.94 s whose first downbeat is at 1.66 s: at 95 BPM (2.53 s a bar) only one whole bar fits
    assert good["loop"]["bars"] == 1 and good["loop"]["beats"] == 4
    assert good["loop"]["start_s"] == pytest.approx(good["downbeats"][0], abs=0.03)
    noise = out[3]
    assert noise["bpm"] is None and noise["beats"] == [] and noise["loop"] is None and "error" not in noise


def test_analyze_exits_2_when_no_file_could_be_analysed(files, capsys):
    code = main(["analyze", str(files["bad"]), str(files["silent"])])
    err = capsys.readouterr().err
    assert code == 2
    assert "not_audio.wav: error" in err and "silent" in err


def test_analyze_text_mode_prints_one_line_per_file(files, capsys):
    code = main(["analyze", str(files["good"])])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(out) == 1 and "BPM" in out[0] and "loop 1 bar from" in out[0]


def test_slice_writes_whole_bars_at_the_source_rate_and_channels(tmp_path, capsys):
    src = fixture_path("amen_160bpm_44k_stereo_2bars")
    out = tmp_path / "loops" / "amen.wav"
    code = main(["slice", str(src), "--bars", "8", "--out", str(out)])
    assert code == 0 and "only 2 fit" in capsys.readouterr().out
    audio, sr = sf.read(str(out), dtype="float32")
    source, source_sr, truth = load_fixture("amen_160bpm_44k_stereo_2bars")
    assert sr == source_sr and audio.shape[1] == source.shape[1]
    assert audio.shape[0] == round(2 * 4 * 60.0 * sr / 160.0)  # exactly two bars at 160 BPM
    assert not list(out.parent.glob(".tmp-*"))  # written atomically, no temp file left


def test_slice_of_a_silent_file_is_a_clear_error(files, tmp_path, capsys):
    code = main(["slice", str(files["silent"]), "--out", str(tmp_path / "x.wav")])
    assert code == 2 and "silent" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()
