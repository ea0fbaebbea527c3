"""`cratedigger generate` presets (issue 16) and its file handling: progress lines, no overwrites,
--out checked before the model loads, files listed when stopped, a full disk in one line."""

from __future__ import annotations

import errno
import json
import subprocess
import sys

import pytest

from cratedigger import atomic
from cratedigger.cli import main
from cratedigger.presets import PRESETS


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "cratedigger", *map(str, args)], capture_output=True, text=True)


def sidecars(folder):
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def test_default_preset_is_standard_and_explicit_values_override(tiny_model_dir, tmp_path):
    result = run_cli("generate", "--model", tiny_model_dir, "--count", 2, "--steps", 2, "--seed", 1, "--device", "cpu", "--out", tmp_path / "a")
    assert result.returncode == 0, result.stderr
    metas = sidecars(tmp_path / "a")
    assert [m["preset"] for m in metas] == ["standard"] * 2
    assert all(m["scheduler"] == PRESETS["standard"].scheduler and m["steps"] == 2 for m in metas)
    # one progress line per candidate when stderr is not a terminal
    lines = result.stderr.strip().splitlines()
    assert [line.split(" written")[0] for line in lines] == ["cratedigger: candidate 1/2", "cratedigger: candidate 2/2"]

    result = run_cli("generate", "--model", tiny_model_dir, "--preset", "best", "--steps", 3, "--scheduler", "unipc", "--seed", 1, "--device", "cpu", "--out", tmp_path / "b")
    assert result.returncode == 0, result.stderr
    [meta] = sidecars(tmp_path / "b")
    assert (meta["preset"], meta["scheduler"], meta["steps"], meta["dtype"], meta["reuse"]) == ("best", "unipc", 3, "float32", 1)


@pytest.mark.parametrize(
    "extra, match",
    [
        (("--preset", "turbo"), "unknown preset 'turbo' (choose from draft, standard, best)"),
        (("--scheduler", "euler"), "unknown scheduler 'euler'"),
    ],
)
def test_unknown_preset_or_scheduler_is_one_line_before_the_model_loads(tmp_path, extra, match):
    result = run_cli("generate", "--model", tmp_path / "no-such-model", *extra, "--out", tmp_path / "o")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cratedigger: error: {match}")
    assert "no-such-model" not in result.stderr  # refused before the model was looked for


def test_out_is_checked_before_the_model_loads(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("generate", "--model", tmp_path / "no-such-model", "--out", blocker)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"cratedigger: error: --out {blocker} is a file, not a folder"]


def test_a_second_run_never_overwrites_unless_asked(tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    args = ("generate", "--model", tiny_model_dir, "--steps", 2, "--seed", 7, "--device", "cpu", "--out", out)
    assert run_cli(*args).returncode == 0
    first = next(out.glob("*.wav"))
    before = first.read_bytes()
    first.write_bytes(before[:44] + b"\0" * (len(before) - 44))  # mark it: must survive the next run
    marked = first.read_bytes()
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    names = sorted(p.name for p in out.glob("*.wav"))
    assert names == ["break_000_seed7-2.wav", "break_000_seed7.wav"]
    assert first.read_bytes() == marked and again.stdout.strip().endswith("break_000_seed7-2.wav")
    assert json.loads((out / "break_000_seed7-2.json").read_text())["file"] == "break_000_seed7-2.wav"
    forced = run_cli(*args, "--overwrite")
    assert forced.returncode == 0 and first.read_bytes() == before
    assert len(list(out.glob("*.wav"))) == 2


def test_a_full_disk_is_one_line_and_written_files_are_listed(tiny_model_dir, tmp_path, capsys, monkeypatch):
    real_write = atomic.write_new_file
    calls = []

    def write(path, payload, *, overwrite=False):
        calls.append(path)
        if len(calls) > 2:  # the first candidate's WAV and JSON fit, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, payload, overwrite=overwrite)

    monkeypatch.setattr(atomic, "write_new_file", write)
    out = tmp_path / "out"
    code = main(["generate", "--model", str(tiny_model_dir), "--count", "3", "--steps", "2", "--seed", "1", "--device", "cpu", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert len(errors) == 1 and "the disk is full" in errors[0] and "Traceback" not in captured.err
    assert captured.out.split() == [str(out / "break_000_seed1.wav")]


def test_an_interrupted_run_lists_what_it_wrote(tiny_model_dir, tmp_path, capsys, monkeypatch):
    import cratedigger.generate as gen

    real_decode, calls = gen.decode_images, []

    def decode(model, sample):
        calls.append(1)
        if len(calls) == 2:  # Ctrl+C while the second candidate is being finished
            raise KeyboardInterrupt
        return real_decode(model, sample)

    monkeypatch.setattr(gen, "decode_images", decode)
    out = tmp_path / "out"
    code = main(["generate", "--model", str(tiny_model_dir), "--count", "3", "--steps", "2", "--seed", "4", "--device", "cpu", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 130 and "interrupted" in captured.err
    assert captured.out.split() == [str(out / "break_000_seed4.wav")]
    assert sorted(p.name for p in out.iterdir()) == ["break_000_seed4.json", "break_000_seed4.wav"]


def test_a_backend_that_is_not_installed_is_one_line(tmp_path):
    import importlib.util

    result = run_cli("generate", "--model", tmp_path / "m", "--backend", "openvino", "--out", tmp_path / "o")
    assert result.returncode == 2
    if importlib.util.find_spec("openvino") is None:
        reason = "backend 'openvino' is not installed (pip install -e .[openvino])"
    else:  # installed: the default preset reuses features, which a compiled graph cannot
        reason = ("feature reuse needs the torch backend: preset 'standard' reuses features every 3 steps "
                  "(with backend 'openvino' use preset 'best')")
    assert result.stderr.strip().splitlines() == [f"cratedigger: error: {reason}"]
