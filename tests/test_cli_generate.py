"""`cratedigger generate` end to end, in a subprocess like a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import soundfile as sf

from tiny_models import TINY_MEL


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cratedigger", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_generate_writes_wavs_and_sidecars(tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    result = run_cli("generate", "--model", tiny_model_dir, "--count", 3, "--preset", "best", "--steps", 3, "--seed", 40, "--device", "cpu", "--out", out)
    assert result.returncode == 0, result.stderr
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == 3
    for i, wav in enumerate(wavs):
        info = sf.info(str(wav))
        assert info.samplerate == TINY_MEL["sample_rate"] and info.subtype == "PCM_16" and info.channels == 1
        assert info.frames == TINY_MEL["x_res"] * TINY_MEL["hop_length"]
        audio, _ = sf.read(str(wav))
        assert 0.95 < abs(audio).max() <= 1.0
        meta = json.loads(wav.with_suffix(".json").read_text())
        assert meta["seed"] == 40 + i and meta["steps"] == 3 and meta["scheduler"] == "ddim" and meta["file"] == wav.name
    assert not list(out.glob(".tmp-*"))


def test_generate_is_reproducible_from_the_sidecar_seed(tiny_model_dir, tmp_path):
    a = run_cli("generate", "--model", tiny_model_dir, "--steps", 2, "--seed", 5, "--device", "cpu", "--out", tmp_path / "a")
    b = run_cli("generate", "--model", tiny_model_dir, "--steps", 2, "--seed", 5, "--device", "cpu", "--out", tmp_path / "b")
    assert a.returncode == b.returncode == 0
    wa, wb = next((tmp_path / "a").glob("*.wav")), next((tmp_path / "b").glob("*.wav"))
    assert wa.read_bytes() == wb.read_bytes()


def test_bad_input_gives_one_line_and_nonzero_exit(tiny_model_dir, tmp_path):
    cases = [
        ("--model", tmp_path / "missing", "--out", tmp_path / "o"),
        ("--model", tiny_model_dir, "--count", 0, "--out", tmp_path / "o"),
        ("--model", tiny_model_dir, "--device", "cuda:7", "--out", tmp_path / "o"),
        ("--model", "teticio/not-cached-here", "--offline", "--out", tmp_path / "o"),
    ]
    for args in cases:
        result = run_cli("generate", *args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("cratedigger: error:"), result.stderr
        assert "Traceback" not in result.stderr
