"""Issue 12 item 4 through the real CLI: `vary` names its files after the source loop, cuts them on
the source's tempo grid at the source's sample rate, and says plainly when the model's window is
shorter than one bar of the source (the tiny random fixture models: 2.97 s and 0.74 s windows)."""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from drum_audio import LMMS_BEATS
from library_helpers import parse_wav, run_cli

BAR_44K = round(4 * 60 / 139.56 * 44100)  # one bar of the break at its rate


@pytest.fixture
def exported_break(tmp_path):
    """lmms' break02 (one bar of 4/4 at 139.6 BPM, 44.1 kHz) under the name an old export gave it."""
    audio, rate = sf.read(str(LMMS_BEATS / "break02.ogg"), dtype="float32")
    path = tmp_path / "break02_140bpm_2bar.wav"
    sf.write(path, audio, rate, subtype="PCM_16")
    return path


def vary(source, model, out, *more):
    result = run_cli("vary", source, "--model", model, "--count", 2, "--strength", 0.5, "--steps", 2,
                     "--device", "cpu", "--out", out, *more)
    assert result.returncode == 0, result.stderr
    return result


def test_variations_are_named_after_the_source_and_cut_on_its_grid_at_its_rate(exported_break, wide_model_dir, tmp_path):
    out = tmp_path / "vars"
    result = vary(exported_break, wide_model_dir, out, "--seed", 3)
    # before: break02_140bpm_2bar_var_000_seed3.wav, 1.49 s... at 22.05 kHz, no chunks
    names = sorted(p.name for p in out.glob("*.wav"))
    assert names == ["break02_var_1_140bpm_1bar.wav", "break02_var_2_140bpm_1bar.wav"]
    assert result.stdout.split() == [str(out / n) for n in names]
    for name in names:
        wav = parse_wav(out / name)
        assert wav.sample_rate == 44100 and abs(len(wav.data) // 2 - BAR_44K) <= 1
        assert wav.acid["meter"] == (4, 4) and wav.acid["beats"] == 4
        assert wav.acid["tempo"] == pytest.approx(139.56, abs=0.05)
    sidecar = json.loads((out / "break02_var_1_140bpm_1bar.json").read_text())
    assert (sidecar["seed"], sidecar["name"], sidecar["bars"], sidecar["sample_rate"]) == (3, "break02 · var 1", 1, 44100)
    assert sidecar["model_sample_rate"] == 22050 and sidecar["strength"] == 0.5
    # more variations of the same loop are numbered on, never over the first ones
    vary(exported_break, wide_model_dir, out, "--seed", 9)
    assert sorted(p.name for p in out.glob("*.wav"))[2:] == ["break02_var_3_140bpm_1bar.wav",
                                                              "break02_var_4_140bpm_1bar.wav"]


def test_a_window_shorter_than_a_bar_is_said_plainly_and_named_without_a_tempo(exported_break, tiny_model_dir, tmp_path):
    out = tmp_path / "vars"
    result = vary(exported_break, tiny_model_dir, out, "--seed", 1)
    assert ("the model's window (0.74 s) is shorter than one bar of “break02” (1.72 s at 139.6 BPM), "
            "so the variation is the whole window, not a loop") in result.stderr
    assert result.stderr.count("shorter than one bar") == 1  # once, not once per file
    names = sorted(p.name for p in out.glob("*.wav"))
    assert names == ["break02_var_1.wav", "break02_var_2.wav"]  # no tempo or bars it does not have
    wav = parse_wav(out / names[0])
    assert wav.acid is None and wav.smpl is None and wav.sample_rate == 44100
    assert len(wav.data) // 2 == pytest.approx(0.743 * 44100, abs=0.01 * 44100)
    sidecar = json.loads((out / "break02_var_1.json").read_text())
    assert sidecar["bars"] is None and "shorter than one bar" in sidecar["analysis_note"]
