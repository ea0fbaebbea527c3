"""Dataset builder: real drum recordings (hydrogen-drumkits hits, lmms-common loops) -> mel images."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # before `datasets` is imported: no hub, local folders only

from cratedigger.errors import AudioFileError, BadParameterError  # noqa: E402
from cratedigger.mel import MelParams, audio_to_images  # noqa: E402
from cratedigger.training.dataset import build_dataset, load_image_dataset, load_mono, read_dataset_mel  # noqa: E402
from tiny_models import TINY_MEL  # noqa: E402

GM_ROCK_KIT = Path("/usr/share/hydrogen/data/drumkits/GMRockKit")
LMMS_BEATS = Path("/usr/share/lmms/samples/beats")
MEL = MelParams(**TINY_MEL)  # 64x32 images of 0.74 s: the tiny test models' settings


def rock_pattern(*, bpm: float = 100.0, bars: int = 2, sample_rate: int = 44100) -> np.ndarray:
    """Stereo float32 [n, 2]: kick on 1 and 3, snare on 2 and 4, closed hats on eighths, from the
    recorded GMRockKit hits (44.1 kHz) — a real kit, at a tempo we know."""
    hits = {}
    for name in ("Kick-Hard", "Snare-Hard", "HatClosed-Med"):
        audio, sr = sf.read(str(GM_ROCK_KIT / f"{name}.wav"), dtype="float32", always_2d=True)
        assert sr == sample_rate
        hits[name] = audio.mean(axis=1)
    eighth = 60.0 / bpm / 2
    n = int(round(bars * 8 * eighth * sample_rate))
    out = np.zeros(n + sample_rate, dtype=np.float32)
    for k in range(bars * 8):
        at = int(round(k * eighth * sample_rate))
        for name in ["HatClosed-Med"] + (["Kick-Hard"] if k % 4 == 0 else []) + (["Snare-Hard"] if k % 4 == 2 else []):
            out[at : at + hits[name].size] += hits[name]
    out = out[:n] / np.abs(out[:n]).max() * 0.9
    return np.stack([out, out * 0.8], axis=1).astype(np.float32)


def make_drum_folder(folder: Path) -> Path:
    """Real drum audio plus the files a producer's folder also holds: broken, empty, silent, not audio."""
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(str(folder / "rock_100bpm.wav"), rock_pattern(), 44100, subtype="PCM_16")
    (folder / "loops").mkdir()
    for name in ("break01.ogg", "jungle01.ogg"):
        shutil.copy(LMMS_BEATS / name, folder / "loops" / name)
    (folder / "broken.wav").write_bytes(b"RIFF....this is not a wave file")
    sf.write(str(folder / "empty.wav"), np.zeros((0, 1), dtype=np.float32), 22050)
    sf.write(str(folder / "silence.flac"), np.zeros(22050, dtype=np.float32), 22050)
    (folder / "notes.txt").write_text("bought at the flea market")
    (folder / ".hidden.wav").write_bytes(b"junk")
    return folder


@pytest.fixture(scope="module")
def drum_dir(tmp_path_factory) -> Path:
    return make_drum_folder(tmp_path_factory.mktemp("crate") / "audio")


@pytest.fixture(scope="module")
def built(drum_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("datasets") / "breaks"
    return build_dataset(drum_dir, out, mel=MEL)


def test_dataset_loads_with_datasets_and_matches_the_models_conventions(built, drum_dir, tmp_path):
    import datasets

    report = built
    # rock: 4.8 s -> 6 full slices of 0.743 s; break01 1.44 s -> 1; jungle01 2.78 s -> 3.
    assert report.images == 10
    assert report.files_used == 3
    data = datasets.load_dataset(str(report.folder), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(data) == report.images
    assert set(data.column_names) >= {"image", "audio_file", "slice", "offset_samples", "offset_seconds"}
    assert sorted(set(data["audio_file"])) == ["loops/break01.ogg", "loops/jungle01.ogg", "rock_100bpm.wav"]
    assert read_dataset_mel(report.folder) == MEL

    # Every image is exactly what cratedigger.mel makes of that slice of the (resampled, mono) source.
    cache = {}
    for row in data:
        image = np.asarray(row["image"])
        assert row["image"].mode == "L" and image.shape == (MEL.y_res, MEL.x_res)
        source = row["audio_file"]
        if source not in cache:
            cache[source] = audio_to_images(load_mono(drum_dir / source, sample_rate=MEL.sample_rate)[0], MEL)
        np.testing.assert_array_equal(image, cache[source][row["slice"]])
        assert row["offset_samples"] == row["slice"] * MEL.slice_samples
        assert row["offset_seconds"] == pytest.approx(row["offset_samples"] / MEL.sample_rate, abs=1e-6)
    assert data.filter(lambda r: r["audio_file"] == "rock_100bpm.wav")[0]["source_sample_rate"] == 44100


def test_unreadable_files_are_skipped_and_listed_with_the_reason(built):
    reasons = {item.audio_file: item.reason for item in built.skipped}
    assert set(reasons) == {"broken.wav", "empty.wav", "silence.flac"}
    assert "not a readable audio file" in reasons["broken.wav"]
    assert "no audio" in reasons["empty.wav"]
    assert "silent" in reasons["silence.flac"]
    listed = [json.loads(line) for line in (built.folder / "skipped.jsonl").read_text().splitlines()]
    assert {row["audio_file"]: row["reason"] for row in listed} == reasons


def test_overlap_gives_more_slices_at_the_right_offsets(drum_dir, tmp_path):
    report = build_dataset(drum_dir / "loops", tmp_path / "ds", mel=MEL, overlap=0.5)
    rows = [json.loads(line) for line in (report.folder / "train" / "metadata.jsonl").read_text().splitlines()]
    jungle = [r for r in rows if r["audio_file"] == "jungle01.ogg"]
    assert len(jungle) == 6  # 2.78 s, 0.743 s slices every 0.372 s
    assert [r["offset_samples"] for r in jungle] == [i * MEL.slice_samples // 2 for i in range(6)]


def test_long_recordings_are_sliced_in_chunks_with_the_same_result(drum_dir):
    from cratedigger.training.dataset import _slices

    audio = np.tile(load_mono(drum_dir / "rock_100bpm.wav", sample_rate=MEL.sample_rate)[0], 3)  # 14.4 s
    for hop in (MEL.slice_samples, MEL.slice_samples // 3):
        whole = audio_to_images(audio, MEL, hop_slices=hop)
        chunked = list(_slices(audio, MEL, hop, chunk=4))
        assert [i for i, _ in chunked] == list(range(len(whole)))
        np.testing.assert_array_equal(np.stack([image for _, image in chunked]), whole)
    short = audio[: MEL.slice_samples // 2]
    np.testing.assert_array_equal(next(_slices(short, MEL, MEL.slice_samples))[1], audio_to_images(short, MEL)[0])


def test_progress_and_cancel(drum_dir, tmp_path):
    from cratedigger.cancel import CancelToken
    from cratedigger.errors import CancelledError

    seen = []
    build_dataset(drum_dir, tmp_path / "a", mel=MEL, on_progress=lambda done, total, name: seen.append((done, total)))
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)

    token = CancelToken()

    def stop(done, total, name):
        if done == 2:
            token.cancel()

    with pytest.raises(CancelledError):
        build_dataset(drum_dir, tmp_path / "b", mel=MEL, on_progress=stop, cancel=token)
    assert not (tmp_path / "b").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # staging cleaned up


def test_errors_name_the_problem(drum_dir, built, tmp_path):
    with pytest.raises(BadParameterError, match="no such folder"):
        build_dataset(tmp_path / "nope", tmp_path / "out", mel=MEL)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("x")
    with pytest.raises(BadParameterError, match="no audio files"):
        build_dataset(tmp_path / "docs", tmp_path / "out", mel=MEL)
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(drum_dir / "broken.wav", bad / "a.wav")
    with pytest.raises(AudioFileError, match="no usable audio.*a.wav"):
        build_dataset(bad, tmp_path / "out", mel=MEL)
    assert not (tmp_path / "out").exists()
    with pytest.raises(BadParameterError, match="already exists"):
        build_dataset(drum_dir, built.folder, mel=MEL)
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "set.txt").write_text("mine")
    with pytest.raises(BadParameterError, match="not a CrateDigger dataset"):
        build_dataset(drum_dir, tmp_path / "keep", mel=MEL, overwrite=True)
    assert (tmp_path / "keep" / "set.txt").read_text() == "mine"
    with pytest.raises(BadParameterError, match="overlap"):
        build_dataset(drum_dir, tmp_path / "out", mel=MEL, overlap=1.0)
    with pytest.raises(BadParameterError, match="inside the audio folder"):
        build_dataset(drum_dir, drum_dir / "dataset", mel=MEL)


def test_overwrite_replaces_a_dataset(drum_dir, tmp_path):
    out = tmp_path / "ds"
    build_dataset(drum_dir / "loops", out, mel=MEL)
    report = build_dataset(drum_dir, out, mel=MEL, overwrite=True)
    assert report.images == 10
    assert len(list((out / "train").glob("*.png"))) == 10


def test_cli_dataset(drum_dir, tmp_path, capsys):
    from cratedigger.cli import main

    out = tmp_path / "ds"
    code = main(["dataset", str(drum_dir), "--out", str(out), "--resolution", "64x32", "--hop", "256", "--n-fft", "1024",
                 "--n-iter", "8"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "10 images (64x32" in captured.out
    assert "3 files skipped" in captured.err and "broken.wav: not a readable audio file" in captured.err
    assert read_dataset_mel(out) == MEL
    assert len(load_image_dataset(out, cache_dir=tmp_path / "cache")) == 10

    assert main(["dataset", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_cli_dataset_takes_mel_settings_from_a_model(drum_dir, tiny_model_dir, tmp_path, capsys):
    from cratedigger.cli import main

    assert main(["dataset", str(drum_dir / "loops"), "--out", str(tmp_path / "ds"), "--from", str(tiny_model_dir)]) == 0
    assert read_dataset_mel(tmp_path / "ds") == MEL
    both = ["dataset", str(drum_dir), "--out", str(tmp_path / "ds2"), "--from", str(tiny_model_dir), "--hop", "512"]
    assert main(both) == 2
    assert "--from" in capsys.readouterr().err
