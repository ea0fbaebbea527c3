"""Export: whole-bar WAVs whose RIFF acid/smpl chunks are read back by sndfile-info and by a parser
written from the RIFF spec (tests/library_helpers.py), and whose audio soundfile reads back unchanged."""

from __future__ import annotations

import re
import sys
import types

import numpy as np
import pytest
import soundfile as sf
import soxr

from cratedigger.errors import BadParameterError, LibraryError
from cratedigger.library import Library, export_for_drag, export_sample, export_samples, write_loop_wav
from library_helpers import FakeAnalysis, click_loop, parse_wav, sndfile_info

SR = 22050
AUDACITY_BPM = re.compile(r"(\d+)[_ -.]?bpm")


@pytest.fixture
def lib(tmp_path):
    with Library.open(tmp_path / "lib", analyzer=None) as library:
        yield library


@pytest.mark.parametrize(("bits", "channels", "frames_delta"), [(16, 1, 0), (24, 2, 0), (24, 1, 1), (16, 3, 0)])
def test_write_loop_wav_chunks_and_round_trip(tmp_path, bits, channels, frames_delta):
    audio = click_loop(bpm=93.0, bars=2, sample_rate=SR, channels=channels)
    if frames_delta:  # an odd number of 3-byte mono frames makes an odd data chunk: pad byte needed
        audio = np.concatenate([audio, audio[:frames_delta]])
    path = write_loop_wav(tmp_path / "loop.wav", audio, sample_rate=SR, bpm=93.0, beats=8, bits=bits)

    wav = parse_wav(path)
    assert wav.chunk_order == ("fmt ", "acid", "smpl", "data")
    assert (wav.channels, wav.sample_rate, wav.bits) == (channels, SR, bits)
    assert wav.format_tag == (1 if channels <= 2 else 0xFFFE)
    assert wav.acid["beats"] == 8 and wav.acid["meter"] == (4, 4) and not wav.acid["one_shot"]
    assert wav.acid["tempo"] == pytest.approx(93.0)
    n = audio.shape[0]
    assert wav.smpl["loops"] == [{"id": 0, "type": 0, "start": 0, "end": n - 1, "play_count": 0}]
    assert wav.smpl["period_ns"] == round(1e9 / SR)
    assert len(wav.data) == n * channels * bits // 8

    back, rate = sf.read(path, dtype="float64", always_2d=True)
    assert rate == SR and back.shape == (n, channels)
    expected = audio.reshape(n, channels).astype(np.float64)
    assert np.max(np.abs(back - expected)) <= 0.5 / 2 ** (bits - 1) + 1e-12  # half a quantisation step

    info = sndfile_info(path)
    assert re.search(r"acid : 24\n\s+Flags\s+: 0x[0-9a-f]+ \(Loop", info)
    assert re.search(r"Beats\s+: 8\n\s+Meter\s+: 4/4\n\s+Tempo\s+: 93\.0", info)
    assert re.search(rf"Loop Count\s+: 1\n\s+Cue ID :\s+0\s+Type :\s+0\s+Start :\s+0\s+End :\s+{n - 1}\b", info)
    assert re.search(rf"Frames\s+: {n}\n\s*Channels\s+: {channels}", info)


def test_write_loop_wav_turns_down_hot_audio_and_validates(tmp_path):
    hot = click_loop(bpm=120, bars=1, sample_rate=SR) * 3.0
    path = write_loop_wav(tmp_path / "hot.wav", hot, sample_rate=SR, bpm=120, beats=4, bits=24)
    back, _ = sf.read(path, dtype="float32")
    assert np.max(np.abs(back)) == pytest.approx(0.999, abs=1e-4)
    assert np.corrcoef(back, hot)[0, 1] > 0.9999  # scaled, not clipped
    with pytest.raises(BadParameterError, match="bits must be 16 or 24"):
        write_loop_wav(tmp_path / "x.wav", hot, sample_rate=SR, bpm=120, beats=4, bits=8)
    with pytest.raises(BadParameterError, match="tempo must be 1-999"):
        write_loop_wav(tmp_path / "x.wav", hot, sample_rate=SR, bpm=0, beats=4)
    with pytest.raises(BadParameterError, match="at least one beat"):
        write_loop_wav(tmp_path / "x.wav", hot, sample_rate=SR, bpm=120, beats=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hot.wav"]


def _loop(lib, *, name="Dusty break", bpm=93.0, bars=4, channels=1, seed=1):
    audio = click_loop(bpm=bpm, bars=bars, sample_rate=SR, channels=channels, seed=seed)
    return lib.add_audio(audio, SR, name=name, source="sliced", bpm=bpm, bars=bars), audio


def test_export_whole_bar_loop_as_is(lib, tmp_path):
    s, audio = _loop(lib)
    out = tmp_path / "out"
    path = export_sample(lib, s.id, out, bits=24)
    assert path == out / "Dusty_break_93bpm_4bar.wav"
    assert int(AUDACITY_BPM.search(path.name).group(1)) == 93
    back, rate = sf.read(path, dtype="float32")
    assert rate == SR and back.shape == audio.shape
    np.testing.assert_allclose(back, audio, atol=1 / 2**23)
    wav = parse_wav(path)
    assert wav.acid["beats"] == 16 and wav.acid["tempo"] == pytest.approx(93.0)
    assert wav.smpl["loops"][0]["end"] == audio.shape[0] - 1
    # Again: a new name, never an overwrite; the counter sits before the BPM so DAWs still parse it.
    second = export_sample(lib, s.id, out)
    assert second.name == "Dusty_break-2_93bpm_4bar.wav" and path.exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([path.name, second.name])  # no temp files


@pytest.mark.parametrize("rate", [44100, 48000])
def test_export_resamples_with_soxr(lib, tmp_path, rate):
    s, audio = _loop(lib, channels=2, bars=2, bpm=90.0)
    path = export_sample(lib, s.id, tmp_path, rate=rate, bits=16)
    back, got_rate = sf.read(path, dtype="float32")
    expected = soxr.resample(audio, SR, rate, quality="VHQ")
    assert got_rate == rate and back.shape == expected.shape
    assert abs(back.shape[0] - audio.shape[0] * rate / SR) <= 1
    np.testing.assert_allclose(back, expected, atol=1.5 / 2**15)
    wav = parse_wav(path)
    assert wav.sample_rate == rate and wav.smpl["loops"][0]["end"] == back.shape[0] - 1
    assert wav.acid["tempo"] == pytest.approx(90.0)  # tempo does not change with the rate
    assert f"Sample Rate : {rate}" in sndfile_info(path)


def test_export_names_are_sanitised_and_stay_in_the_folder(lib, tmp_path):
    out = tmp_path / "out"
    names = ["../../escape", "a/b\\c:d*e?f\"g<h>i|j", "CON", "   ", "💥 Ünïcode brk", "x" * 190, "..", "tab\there"]
    paths = []
    for i, name in enumerate(names):
        s, _ = _loop(lib, name=name if name.strip() else "blank", bars=1, seed=i)
        if not name.strip():
            s = lib.rename(s.id, "???")
        paths.append(export_sample(lib, s.id, out))
    assert all(p.parent == out for p in paths)
    for p in paths:
        assert not re.search(r'[<>:"/\\|?*\x00-\x1f]', p.name)
        assert p.name.endswith("_93bpm_1bar.wav") and not p.name.startswith(".")
        assert len(p.name.encode()) <= 255 and ".." not in p.name
    assert paths[0].name == "escape_93bpm_1bar.wav"
    assert paths[2].name == "_CON_93bpm_1bar.wav"
    assert paths[3].name == "break_93bpm_1bar.wav"
    assert len(set(paths)) == len(paths)
    assert not (tmp_path / "escape_93bpm_1bar.wav").exists()


def test_export_many_and_bad_options(lib, tmp_path):
    a, _ = _loop(lib, name="same", seed=1)
    b, _ = _loop(lib, name="same", seed=2)
    paths = export_samples(lib, [a.id, b.id], tmp_path / "many", bits=24)
    assert [p.name for p in paths] == ["same_93bpm_4bar.wav", "same-2_93bpm_4bar.wav"]
    with pytest.raises(BadParameterError, match="export rate"):
        export_sample(lib, a.id, tmp_path, rate=96000)
    with pytest.raises(BadParameterError, match="export bits"):
        export_sample(lib, a.id, tmp_path, bits=32)
    (tmp_path / "file").write_text("x")
    with pytest.raises(LibraryError, match="is a file, not a folder"):
        export_sample(lib, a.id, tmp_path / "file")
    with pytest.raises(LibraryError, match="no sample with id 77"):
        export_samples(lib, [a.id, 77], tmp_path / "none")
    assert not (tmp_path / "none").exists()  # checked every id before writing anything


def test_export_of_a_longer_sample_cuts_whole_bars_with_the_slicer(tmp_path):
    """A sample that is not a whole-bar loop is analysed afresh and cut by the engine's slicer, which
    falls back from 4 to the 2 bars that fit by itself (export has no retry loop of its own)."""
    from drum_audio import rock_pattern

    audio = rock_pattern(bpm=100.0, bars=3, sample_rate=SR)[: int(SR * 6.5)]  # 2.7 bars: not a loop
    with Library.open(tmp_path / "lib", analyzer=None) as library:
        s = library.add_audio(audio, SR, name="raw", source="imported")  # stored without analysis
        assert s.bars is None and library.analysis(s.id) is None
        path = export_sample(library, s.id, tmp_path / "out")
        with pytest.raises(BadParameterError, match="bars must be"):
            export_sample(library, s.id, tmp_path / "out", bars=0)
    assert path.name == "raw_100bpm_2bar.wav"
    assert abs(sf.info(path).frames - 2 * 4 * 60 / 100 * SR) <= SR * 0.02
    assert parse_wav(path).acid["beats"] == 8


def test_export_for_drag_reuses_one_cache_file(lib, tmp_path):
    s, _ = _loop(lib, name="drag me")
    first = export_for_drag(lib, s.id, cache_dir=tmp_path / "cache")
    assert first.name == "drag_me_93bpm_4bar.wav" and first.parent.name == s.uid
    again = export_for_drag(lib, s.id, cache_dir=tmp_path / "cache", bits=24)
    assert again == first and parse_wav(again).bits == 24
    lib.rename(s.id, "renamed")
    renamed = export_for_drag(lib, s.id, cache_dir=tmp_path / "cache")
    assert [p.name for p in renamed.parent.iterdir()] == ["renamed_93bpm_4bar.wav"]


def test_export_onto_a_full_disk_leaves_no_file(lib, tmp_path, monkeypatch):
    import errno
    import os

    from cratedigger.library import files

    s, _ = _loop(lib)
    real_write = os.write

    def full_disk(fd, data):
        if len(data) > 10_000:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(files.os, "write", full_disk)
    out = tmp_path / "out"
    with pytest.raises(LibraryError, match="disk is full"):
        export_sample(lib, s.id, out)
    assert list(out.iterdir()) == []


def test_real_recorded_breaks_import_and_export_as_loops(tmp_path):
    """lmms-common's recorded breaks (OGG, one bar each): imported, recognised as one-bar loops from
    their length, exported at 48 kHz/24-bit with the tempo the length implies."""
    from pathlib import Path

    beats_dir = Path("/usr/share/lmms/samples/beats")
    estimates = {"break01.ogg": 166.0, "jungle01.ogg": 87.0}  # what a tempo tracker might say
    with Library.open(tmp_path / "lib", analyzer=lambda audio, sr: None) as lib:
        for name, estimate in estimates.items():
            lib.analyzer = lambda audio, sr, bpm=estimate: FakeAnalysis(bpm=bpm)
            s = lib.import_file(beats_dir / name, tags=["lmms"])
            info = sf.info(str(beats_dir / name))
            exact = 4 * 60 / info.duration
            assert (s.bars, s.channels, s.sample_rate) == (1, info.channels, 44100)
            assert s.bpm == pytest.approx(exact, rel=1e-9)
            path = export_sample(lib, s.id, tmp_path / "out", rate=48000, bits=24)
            wav = parse_wav(path)
            assert wav.acid["tempo"] == pytest.approx(exact, rel=1e-6) and wav.acid["beats"] == 4
            assert abs(sf.info(str(path)).frames - info.frames * 48000 / 44100) <= 1
            assert f"_{round(exact)}bpm_1bar.wav" in path.name
            assert lib.import_file_detailed(beats_dir / name).duplicate
