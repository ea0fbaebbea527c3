"""Project tempo: `library export --bpm N [--fit stretch|repitch]` on a real drum loop (GMRockKit hits).

An exported loop is exactly its bars at the new tempo, its hits sit on the new grid, sndfile-info
reads the new tempo and loop points, stretch keeps the pitch and repitch moves it."""

from __future__ import annotations

import re
import time

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cratedigger.cli import main
from cratedigger.errors import BadParameterError
from cratedigger.library import Library, export_for_drag, export_samples
from cratedigger.tempo_fit import fit_to_tempo, fitted_frames
from drum_audio import rock_pattern
from library_helpers import parse_wav, sndfile_info

SR = 22050
BPM = 93.4
BARS = 2


def attacks(audio: np.ndarray, *, bpm: float, eighths: int, sample_rate: int = SR) -> np.ndarray:
    """Seconds of each hit's attack near every eighth note (rock_pattern has a hit on each): within
    +-30 ms of the grid point, where a trailing 5 ms peak envelope first climbs 30% of the way from
    the quietest point before the window's peak up to that peak. Measured on the loop's second pass,
    so the first hit has its lead-in too."""
    mono = np.abs(audio if audio.ndim == 1 else audio.mean(axis=1))
    loop_s = mono.size / sample_rate
    mono = np.tile(mono, 2)
    win = int(0.005 * sample_rate)
    out = []
    for k in range(eighths):
        centre = int(round((loop_s + k * 30.0 / bpm) * sample_rate))
        lo = max(win, centre - int(0.03 * sample_rate))
        seg = mono[lo - win:centre + int(0.03 * sample_rate)]
        env = np.lib.stride_tricks.sliding_window_view(seg, win).max(axis=1)[1:]  # env[j]: max up to lo + j
        peak = int(np.argmax(env))
        floor = int(np.argmin(env[:peak + 1]))
        rise = np.nonzero(env[floor:peak + 1] >= env[floor] + 0.3 * (env[peak] - env[floor]))[0][0]
        out.append((lo + floor + rise) / sample_rate - loop_s)
    return np.asarray(out)


def pitch_shift_semitones(audio: np.ndarray, reference: np.ndarray, sample_rate: int = SR) -> float:
    """How far `audio`'s long-term spectrum sits above `reference`'s, in semitones: the shift of best
    correlation of their log-magnitude spectra on a log-frequency axis (60 Hz-8 kHz, 0.05 st steps)."""
    grid = 60.0 * 2 ** (np.arange(0, 12 * np.log2(8000 / 60), 0.05) / 12)

    def log_spectrum(x):
        frames = np.lib.stride_tricks.sliding_window_view(x, 4096)[::1024] * np.hanning(4096)
        mag = np.abs(np.fft.rfft(frames, axis=1)).mean(axis=0)
        spec = np.log(np.interp(grid, np.fft.rfftfreq(4096, 1.0 / sample_rate), mag) + 1e-6)
        return spec - spec.mean()

    a, r = log_spectrum(audio), log_spectrum(reference)
    shifts = np.arange(-160, 161)  # +-8 semitones
    scores = [np.dot(a[max(0, k):a.size + min(0, k)], r[max(0, -k):r.size - max(0, k)]) for k in shifts]
    return float(shifts[int(np.argmax(scores))] * 0.05)


@pytest.fixture(scope="module")
def loop() -> np.ndarray:
    return rock_pattern(bpm=BPM, bars=BARS, sample_rate=SR)


@pytest.fixture
def lib_root(tmp_path, loop):
    root = tmp_path / "lib"
    with Library.open(root, analyzer=None) as lib:
        lib.add_audio(loop, SR, name="rock", source="sliced", bpm=BPM, bars=BARS)
        lib.add_audio(loop[: SR * 2], SR, name="no tempo", source="imported")
    return root


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("fit", "target", "tolerance_ms"), [("stretch", 90.0, 6.0), ("stretch", 120.0, 6.0),
                                                            ("repitch", 90.0, 1.0), ("repitch", 70.0, 1.0)])
def test_export_at_project_tempo_is_whole_bars_on_the_new_grid(capsys, tmp_path, lib_root, loop, fit, target, tolerance_ms):
    out_dir = tmp_path / "out"
    code, out, err = cli(capsys, "library", "--root", lib_root, "export", "1", "--to", out_dir,
                         "--bpm", target, "--fit", fit)
    assert code == 0, err
    path = out_dir / f"rock_{int(target)}bpm_{BARS}bar.wav"
    assert out.strip() == str(path)

    audio, rate = sf.read(path, dtype="float32")
    frames = round(BARS * 4 * 60.0 / target * SR)
    assert rate == SR and audio.shape[0] == frames  # exact whole bars at the new tempo

    wav = parse_wav(path)
    assert wav.acid["tempo"] == pytest.approx(target) and wav.acid["beats"] == BARS * 4
    assert wav.smpl["loops"][0]["start"] == 0 and wav.smpl["loops"][0]["end"] == frames - 1
    info = sndfile_info(path)
    assert re.search(rf"Beats\s+: {BARS * 4}\n\s+Meter\s+: 4/4\n\s+Tempo\s+: {target:.1f}", info)
    assert re.search(rf"Start :\s+0\s+End :\s+{frames - 1}\b", info)

    # Every hit moved to where the new tempo puts it (the source's own attack offsets, scaled).
    source = attacks(loop, bpm=BPM, eighths=BARS * 8)
    got = attacks(audio, bpm=target, eighths=BARS * 8)
    error_ms = np.abs(got - source * BPM / target) * 1000
    assert error_ms.max() <= tolerance_ms, np.round(error_ms, 1)

    # stretch keeps the pitch; repitch moves it by the speed ratio (70/93.4: -5.0 semitones).
    expected = 0.0 if fit == "stretch" else 12 * np.log2(target / BPM)
    assert pitch_shift_semitones(audio, loop) == pytest.approx(expected, abs=0.3)


def test_out_of_range_target_and_missing_tempo_give_one_line_each_and_write_nothing_half(capsys, tmp_path, lib_root):
    out_dir = tmp_path / "out"
    code, out, err = cli(capsys, "library", "--root", lib_root, "export", "1", "--to", out_dir, "--bpm", "200")
    assert code == 2 and out == ""
    first, summary = err.splitlines()  # the sample's reason, then the batch's count
    assert "2.14x" in first and "0.5x to 2x" in first and "Traceback" not in err
    assert summary == "cratedigger: 1 of 1 sample(s) not exported"
    code, _, err = cli(capsys, "library", "--root", lib_root, "export", "1", "--to", out_dir, "--bpm", "46",
                       "--fit", "repitch")
    assert code == 2 and "0.49x" in err

    # One sample without a tempo in a batch: the error names it, the rest of the batch is exported whole.
    code, out, err = cli(capsys, "library", "--root", lib_root, "export", "1", "2", "--to", out_dir, "--bpm", "90")
    assert code == 2
    assert "sample 2 (no tempo) has no tempo, so it cannot be stretched to 90 BPM" in err
    assert [p.name for p in out_dir.iterdir()] == [Path(out.strip()).name] and "90bpm" in out

    with Library.open(lib_root, analyzer=None) as lib:
        with pytest.raises(BadParameterError, match="fit mode must be one of stretch, repitch"):
            export_samples(lib, [1], out_dir, bpm=90, fit="warp")


def test_drag_export_carries_the_project_tempo(tmp_path, lib_root):
    with Library.open(lib_root, analyzer=None) as lib:
        path = export_for_drag(lib, 1, cache_dir=tmp_path / "drag", bpm=100.0, fit="repitch")
    assert path.name == f"rock_100bpm_{BARS}bar.wav"
    assert sf.info(str(path)).frames == fitted_frames(beats=BARS * 4, target_bpm=100.0, sample_rate=SR)
    assert parse_wav(path).acid["tempo"] == pytest.approx(100.0)


def test_stretching_a_5_9_s_loop_takes_well_under_a_second():
    # 2 bars at 81.4 BPM at the breaks model's 22.05 kHz: 5.90 s, the length the model dreams.
    source = rock_pattern(bpm=81.4, bars=2, sample_rate=SR)
    assert source.size / SR == pytest.approx(5.9, abs=0.01)
    runs = [_timed(lambda: fit_to_tempo(source, sample_rate=SR, bpm=81.4, target_bpm=90.0, beats=8)) for _ in range(3)]
    wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
    # CPU time is what the stretch costs; wall time also counts the other jobs sharing the machine.
    assert cpu < 0.5 and wall < 1.0, f"stretch took {wall:.3f} s ({cpu:.3f} s of CPU)"


def test_fit_keeps_channels_and_validates():
    stereo = np.stack([rock_pattern(bpm=BPM, bars=1, sample_rate=SR)] * 2, axis=1)
    out = fit_to_tempo(stereo, sample_rate=SR, bpm=BPM, target_bpm=100.0, beats=4)
    assert out.shape == (fitted_frames(beats=4, target_bpm=100.0, sample_rate=SR), 2) and out.dtype == np.float32
    with pytest.raises(BadParameterError, match="no tempo"):
        fit_to_tempo(stereo, sample_rate=SR, bpm=None, target_bpm=100.0, beats=4)
    with pytest.raises(BadParameterError, match="target tempo must be 1-999 BPM"):
        fit_to_tempo(stereo, sample_rate=SR, bpm=BPM, target_bpm=float("nan"), beats=4)
    with pytest.raises(BadParameterError, match="beats must be a whole number"):
        fit_to_tempo(stereo, sample_rate=SR, bpm=BPM, target_bpm=100.0, beats=0)


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu
