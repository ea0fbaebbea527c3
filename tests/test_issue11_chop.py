"""Chop to hits: `cratedigger chop FILE --out DIR [--bpm N]` on real drums (LMMS breaks, GMRockKit).

The kit's MIDI, SFZ and Decent Sampler preset are parsed by independent readers (mido's reader, a
regex over the SFZ opcodes, ElementTree), every file they name exists, and the break rendered from
the kit through its MIDI lines up with the original hit by hit."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import mido
import numpy as np
import pytest
import soundfile as sf

import cratedigger.chop as chop_module
from cratedigger.chop import chop_loop
from cratedigger.cli import main
from cratedigger.errors import AnalysisError
from drum_audio import rock_pattern, real_break

SR = 22050


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def read_kit(folder: Path) -> tuple[dict[int, Path], mido.MidiFile]:
    """key -> hit file from the SFZ (checked against the .dspreset), and the parsed MIDI file."""
    (sfz,) = folder.glob("*.sfz")
    regions = re.findall(r"<region>\s+sample=(\S+)\s+key=(\d+)", sfz.read_text())
    assert regions and "loop_mode=one_shot" in sfz.read_text()
    sfz_map = {int(key): folder / path for path, key in regions}
    (preset,) = folder.glob("*.dspreset")
    root = ElementTree.parse(preset).getroot()
    assert root.tag == "DecentSampler"
    ds_map = {int(s.get("rootNote")): folder / s.get("path") for s in root.iter("sample")}
    assert all(int(s.get("loNote")) == int(s.get("hiNote")) == int(s.get("rootNote")) for s in root.iter("sample"))
    assert ds_map == sfz_map
    assert all(p.is_file() for p in sfz_map.values())
    (mid,) = folder.glob("*.mid")
    return sfz_map, mido.MidiFile(str(mid))


def render(keymap: dict[int, Path], midi: mido.MidiFile, frames: int) -> tuple[np.ndarray, list[float]]:
    """Play the MIDI through the hits like a one-shot sampler: mono float32 [frames], note-on seconds."""
    out = np.zeros(frames + SR, dtype=np.float32)
    now, starts = 0.0, []
    for msg in midi:  # iterating a MidiFile yields delta times in seconds, tempo applied
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            hit, rate = sf.read(str(keymap[msg.note]), dtype="float32")
            assert rate == SR
            at = int(round(now * SR))
            out[at:at + hit.size] += hit[: out.size - at]
            starts.append(now)
    return out[:frames], starts


def lag_ms(render_: np.ndarray, original: np.ndarray, at: float, *, window_s: float = 0.06, search_ms: float = 10.0) -> float:
    """Lag of `render_` against `original` around second `at` (best cross-correlation, in ms)."""
    a, n = int(at * SR), int(window_s * SR)
    ref = original[a:a + n]
    reach = int(search_ms * SR / 1000)
    scores = []
    for lag in range(-reach, reach + 1):
        lo = a + lag
        seg = render_[max(0, lo):lo + n]
        seg = np.pad(seg, (max(0, -lo), 0))[: ref.size]
        seg = np.pad(seg, (0, ref.size - seg.size))
        scores.append(float(np.dot(seg, ref)))
    return (int(np.argmax(scores)) - reach) * 1000 / SR


def envelope(x: np.ndarray, hop: int = 110) -> np.ndarray:
    n = x.size // hop
    return np.sqrt(np.square(x[: n * hop]).reshape(n, hop).mean(axis=1))


@pytest.mark.parametrize("name", ["break01.ogg", "jungle01.ogg"])
def test_kit_played_through_its_midi_lines_up_with_the_break(capsys, tmp_path, name):
    original = real_break(SR, name, repeats=2)
    bpm = 4 * 2 * 60 / (original.size / SR)  # break01: one bar per file; jungle01: two (at 172.6 BPM)
    if name == "jungle01.ogg":
        bpm *= 2
    wav = tmp_path / f"{Path(name).stem}.wav"
    sf.write(wav, original, SR, subtype="FLOAT")
    code, out, err = cli(capsys, "chop", wav, "--out", tmp_path / "kits", "--source-bpm", f"{bpm:.4f}")
    assert code == 0, err
    (kit,) = (tmp_path / "kits").iterdir()
    assert kit.name == f"{Path(name).stem}_{round(bpm)}bpm_kit" and str(kit) in out

    keymap, midi = read_kit(kit)
    tempos = [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"]
    assert len(tempos) == 1 and mido.tempo2bpm(tempos[0]) == pytest.approx(bpm, rel=1e-4)
    assert midi.length == pytest.approx(original.size / SR, abs=0.002)  # the clip lasts the loop
    rendered, starts = render(keymap, midi, original.size)
    assert len(starts) == len(keymap) >= 8

    lags = [lag_ms(rendered, original, t) for t in starts]
    assert max(abs(x) for x in lags) <= 2.0, lags
    # Past its first hit, the render sounds like the break: 5 ms loudness envelopes match (the waveforms
    # differ by the fades and by MIDI's tick grid, 960 a beat: up to 0.19 ms, a few samples).
    first = int(starts[0] * SR)
    assert np.corrcoef(envelope(rendered[first:]), envelope(original[first:]))[0, 1] > 0.98


def test_hits_sit_on_the_16th_grid_and_midi_follows_the_project_tempo(capsys, tmp_path):
    loop = rock_pattern(bpm=93.4, bars=2, sample_rate=SR)  # a hit on every eighth note
    chopped = chop_loop(loop, sample_rate=SR, bpm=93.4)
    assert [h.step for h in chopped.hits] == list(range(0, 32, 2))
    step_s = 60 / 93.4 / 4
    for hit in chopped.hits:  # the cut sits just before the attack of that eighth's hit (the hats start 2.4 ms in)
        assert -2.0 <= (hit.start / SR - hit.step * step_s) * 1000 <= 3.0
        assert hit.audio[0] == pytest.approx(0.0, abs=1e-3) and hit.audio[-1] == pytest.approx(0.0, abs=1e-3)

    wav = tmp_path / "rock_93bpm_2bar.wav"
    sf.write(wav, loop, SR)
    code, out, err = cli(capsys, "chop", wav, "--out", tmp_path, "--bpm", "120", "--source-bpm", "93.4")
    assert code == 0, err
    kit = tmp_path / "rock_120bpm_kit"  # the export suffix of the file name is not repeated
    keymap, midi = read_kit(kit)
    _, starts = render(keymap, midi, loop.size)
    expected = [h.start / SR * 93.4 / 120 for h in chopped.hits]
    assert np.max(np.abs(np.array(starts) - expected)) < 0.001
    assert midi.length == pytest.approx(8 * 60 / 120, abs=0.001)  # two bars at the project tempo

    # A second chop never overwrites the first.
    code, out, _ = cli(capsys, "chop", wav, "--out", tmp_path, "--bpm", "120", "--source-bpm", "93.4")
    assert code == 0 and (tmp_path / "rock_120bpm_kit-2").is_dir()


def test_sensitivity_finds_more_hits_when_raised():
    loop = real_break(SR, "break03.ogg")
    counts = [len(chop_loop(loop, sample_rate=SR, bpm=166.6, sensitivity=s).hits) for s in (0.1, 0.5, 0.9)]
    assert counts[0] < counts[2] and counts == sorted(counts)


def test_no_onsets_gives_no_kit(capsys, tmp_path):
    wav = tmp_path / "silence.wav"
    sf.write(wav, np.zeros(SR * 3, np.float32), SR)
    out_dir = tmp_path / "kits"
    code, out, err = cli(capsys, "chop", wav, "--out", out_dir, "--source-bpm", "90")
    assert code == 2 and out == ""
    assert err == f"cratedigger: error: {wav}: no hits found (silence, or nothing above the sensitivity): no kit to make\n"
    assert not out_dir.exists()
    with pytest.raises(AnalysisError, match="no hits found"):
        chop_loop(np.full(SR, 1e-6, np.float32), sample_rate=SR, bpm=90)


def test_a_failure_half_way_leaves_no_kit_and_no_temp_folder(capsys, tmp_path, monkeypatch):
    wav = tmp_path / "in" / "rock.wav"
    wav.parent.mkdir()
    sf.write(wav, rock_pattern(bpm=93.4, bars=1, sample_rate=SR), SR)

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(chop_module, "midi_bytes", broken)  # after the hit WAVs are written
    out_dir = tmp_path / "kits"
    code, out, err = cli(capsys, "chop", wav, "--out", out_dir, "--source-bpm", "93.4")
    assert code == 2 and "the disk is full" in err and err.count("\n") == 1
    assert list(out_dir.iterdir()) == []
