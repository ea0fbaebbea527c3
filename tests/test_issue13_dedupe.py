"""Issue 13, item 3: each rule written once (audio check, resampler, atomic folder swap, scheduler
list, seed rule, int check), and every caller getting the same answer from it."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from cratedigger import atomic
from cratedigger.audio.validate import validate_audio
from cratedigger.errors import AnalysisError, AudioFileError, BadAudioError, BadParameterError

SR = 22050


# ---- one audio check -------------------------------------------------------------------------

def _checks():
    """Every engine entry point that takes audio in memory, as f(audio)."""
    from cratedigger.audio.io import encode_audio
    from cratedigger.mel import MelParams, audio_to_image
    from cratedigger.tempo_fit import fit_to_tempo

    mel = MelParams(x_res=32, y_res=32, hop_length=128, n_fft=256)
    return {
        "io.encode_audio": lambda a: encode_audio(a, sample_rate=SR),
        "mel.audio_to_image": lambda a: audio_to_image(a, mel),
        "tempo_fit.fit_to_tempo": lambda a: fit_to_tempo(a, sample_rate=SR, bpm=120.0, target_bpm=125.0, beats=4),
    }


@pytest.mark.parametrize("name", ["io.encode_audio", "mel.audio_to_image", "tempo_fit.fit_to_tempo"])
@pytest.mark.parametrize("bad, says", [
    (np.full(SR, np.nan, np.float32), "contains NaN or infinite samples"),
    (np.zeros(0, np.float32), "holds no samples"),
    (np.zeros((4, 2, 2), np.float32), "got shape"),
])
def test_every_audio_check_raises_one_class_with_one_line(name, bad, says):
    with pytest.raises(BadAudioError, match=says) as info:
        _checks()[name](bad)
    assert "\n" not in str(info.value)


def test_the_one_class_is_caught_by_every_older_handler():
    # Code written for the three classes the separate checks raised still catches the one.
    for old in (AudioFileError, AnalysisError, BadParameterError, ValueError):
        with pytest.raises(old):
            validate_audio(np.array([np.inf], np.float32))


def test_sample_rate_and_dtype_are_checked():
    assert validate_audio(np.ones(4, np.int16), sample_rate=44100.0).dtype == np.float32
    for rate in (0, -1, 44100.5, True, "44100", float("nan")):
        with pytest.raises(BadAudioError, match="sample rate"):
            validate_audio(np.ones(4, np.float32), sample_rate=rate)
    with pytest.raises(BadAudioError, match="must be numbers"):
        validate_audio(np.array(["a", "b"]))
    with pytest.raises(BadAudioError, match="mono"):
        validate_audio(np.ones((4, 2), np.float32), mono=True)


# ---- one int check ---------------------------------------------------------------------------

def test_check_int():
    from cratedigger.checks import check_int

    assert check_int(np.int64(3), name="bars", lo=1) == 3 and type(check_int(np.int64(3), name="b")) is int
    with pytest.raises(BadParameterError, match="bars must be a positive integer, got True"):
        check_int(True, name="bars", lo=1)
    with pytest.raises(BadParameterError, match="beats must be an integer from 1 to 16, got 17"):
        check_int(17, name="beats", lo=1, hi=16)
    with pytest.raises(BadParameterError, match="got 2.0"):
        check_int(2.0, name="n")


# ---- one resampler ---------------------------------------------------------------------------

def test_engine_calls_soxr_only_in_the_resampler():
    import pathlib

    import cratedigger

    root = pathlib.Path(cratedigger.__file__).parent
    mine = ["training/dataset.py", "tempo_fit.py", "audio/io.py", "mel.py", "chop.py", "extend.py", "variations.py"]
    for rel in mine:
        assert "soxr." not in (root / rel).read_text(), rel


def test_resample_settings_and_fractional_rates():
    from cratedigger.audio.resample import KEEP, LISTEN, resample

    tone = np.sin(2 * np.pi * 440 * np.arange(SR) / SR).astype(np.float32)
    up = resample(tone, from_rate=SR, to_rate=44100)
    assert up.dtype == np.float32 and up.shape[0] == 44100
    fast = resample(tone, from_rate=SR * 1.5, to_rate=SR, quality=KEEP)  # a repitch
    assert abs(fast.shape[0] - SR / 1.5) <= 1
    assert not np.array_equal(resample(tone, from_rate=SR, to_rate=44100, quality=LISTEN), up)
    with pytest.raises(BadParameterError, match="quality"):
        resample(tone, from_rate=SR, to_rate=44100, quality="QQ")
    with pytest.raises(BadParameterError, match="positive"):
        resample(tone, from_rate=0, to_rate=44100)


def test_training_dataset_resamples_through_the_resampler(tmp_path, monkeypatch):
    import soundfile as sf

    import cratedigger.audio.resample as rs
    from cratedigger.training.dataset import load_mono

    calls = []
    real = rs.resample
    monkeypatch.setattr("cratedigger.training.dataset.resample",
                        lambda *a, **k: calls.append(k) or real(*a, **k))
    path = tmp_path / "a.wav"
    sf.write(path, np.random.default_rng(440).uniform(-0.5, 0.5, 44100).astype(np.float32), 44100)
    audio, source_rate = load_mono(path, sample_rate=SR)
    assert source_rate == 44100 and abs(audio.shape[0] - SR) <= 1
    assert calls == [{"from_rate": 44100, "to_rate": SR, "quality": rs.LISTEN}]


# ---- one atomic writer -----------------------------------------------------------------------

def test_replace_folder_swaps_and_fsyncs(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real(fd))
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    staging = tmp_path / ".model-new"
    (staging / "unet").mkdir(parents=True)
    (staging / "unet" / "w.bin").write_bytes(b"new")
    atomic.replace_folder(staging, target)
    assert (target / "unet" / "w.bin").read_bytes() == b"new" and not (target / "old.txt").exists()
    assert not staging.exists() and not (tmp_path / ".model-old").exists()
    assert str(staging / "unet" / "w.bin") in synced  # the file, before it was published
    assert str(tmp_path) in synced  # and the folder that holds the new name


def test_publish_file(tmp_path):
    part = tmp_path / ".x.part"
    part.write_bytes(b"db")
    assert atomic.publish_file(part, tmp_path / "x.db").read_bytes() == b"db" and not part.exists()


def test_there_is_one_folder_swap():
    import importlib.util

    assert importlib.util.find_spec("cratedigger.folders") is None
    from cratedigger.model import saving
    from cratedigger.training import dataset

    assert saving.replace_folder is atomic.replace_folder is dataset.replace_folder


# ---- one scheduler list ----------------------------------------------------------------------

def _choices(command: str) -> tuple[str, ...]:
    from cratedigger.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices[command]
    return tuple(next(a for a in sub._actions if "--scheduler" in a.option_strings).choices)


def test_extend_and_vary_accept_exactly_the_scheduler_list(capsys):
    from cratedigger.cli import main
    from cratedigger.schedulers import SCHEDULERS

    assert _choices("extend") == tuple(SCHEDULERS) == _choices("vary")
    with pytest.raises(SystemExit):
        main(["extend", "x.wav", "--bars", "1", "--scheduler", "euler", "--out", "y.wav"])
    assert "invalid choice: 'euler'" in capsys.readouterr().err


# ---- one seed rule ---------------------------------------------------------------------------

def test_seed_run_wraps_at_the_maximum():
    from cratedigger.generate import MAX_SEED as GEN_MAX
    from cratedigger.seeds import MAX_SEED, seed_run

    assert MAX_SEED == GEN_MAX
    assert seed_run(MAX_SEED - 1, 3) == (MAX_SEED - 1, MAX_SEED, 0)
    for bad in (-1, MAX_SEED + 1, True, 1.5):
        with pytest.raises(BadParameterError, match="--seed must be an integer from 0"):
            seed_run(bad, 2, what="--seed")


def test_cli_generate_near_the_maximum_seed_gives_the_apps_seeds(tiny_model_dir, tmp_path, capsys):
    from cratedigger.cli import main
    from cratedigger.seeds import MAX_SEED, seed_run

    out = tmp_path / "out"
    code = main(["generate", "--model", str(tiny_model_dir), "--count", "2", "--steps", "2",
                 "--seed", str(MAX_SEED), "--device", "cpu", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    seeds = sorted(json.loads(p.read_text())["seed"] for p in out.glob("*.json"))
    assert tuple(sorted(seed_run(MAX_SEED, 2))) == tuple(seeds) == (0, MAX_SEED)
