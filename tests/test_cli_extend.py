"""`cratedigger extend` and `cratedigger vary` end to end on WAV files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import soundfile as sf

from cratedigger.extend import CROSSFADE_SECONDS
from drum_audio import rock_pattern


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "cratedigger", *map(str, args)], capture_output=True, text=True)


def test_extend_with_given_bpm_keeps_the_source(wide_model_dir, tmp_path):
    loop = rock_pattern(bpm=170, bars=2, sample_rate=44100)
    src = tmp_path / "loop.wav"
    sf.write(src, loop, 44100, subtype="PCM_16")
    out = tmp_path / "longer.wav"
    result = run_cli("extend", src, "--model", wide_model_dir, "--bars", 2, "--bpm", 170, "--steps", 2, "--seed", 1, "--device", "cpu", "--out", out)
    assert result.returncode == 0, result.stderr
    original, _ = sf.read(src, dtype="int16")
    longer, rate = sf.read(out, dtype="int16")
    assert rate == 44100 and sf.info(str(out)).subtype == "PCM_16"
    assert longer.shape[0] == original.shape[0] + round(2 * 4 * 60 / 170 * 44100)
    keep = original.shape[0] - round(CROSSFADE_SECONDS * 44100)
    np.testing.assert_array_equal(longer[:keep], original[:keep])


def test_vary_writes_variations_with_sidecars(wide_model_dir, tmp_path):
    src = tmp_path / "loop.wav"
    sf.write(src, rock_pattern(bpm=96, bars=1, sample_rate=22050), 22050)
    result = run_cli("vary", src, "--model", wide_model_dir, "--count", 2, "--strength", 0.5, "--steps", 4, "--seed", 3, "--device", "cpu", "--out", tmp_path / "vars")
    assert result.returncode == 0, result.stderr
    sidecars = sorted((tmp_path / "vars").glob("*.json"))
    assert [json.loads(p.read_text())["seed"] for p in sidecars] == [3, 4]
    assert all(json.loads(p.read_text())["strength"] == 0.5 for p in sidecars)


def test_bad_inputs_are_one_line_errors(wide_model_dir, tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 22050)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF nonsense")
    cases = [
        ("extend", empty, "--model", wide_model_dir, "--bars", 1, "--bpm", 120, "--out", tmp_path / "o.wav"),
        ("extend", garbage, "--model", wide_model_dir, "--bars", 1, "--bpm", 120, "--out", tmp_path / "o.wav"),
        ("extend", tmp_path / "missing.wav", "--model", wide_model_dir, "--bars", 1, "--bpm", 120, "--out", tmp_path / "o.wav"),
        ("vary", garbage, "--model", wide_model_dir, "--out", tmp_path / "v"),
    ]
    for args in cases:
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("cratedigger: error:") and "Traceback" not in result.stderr
