"""Issue 13: the GUI does nothing the CLI could not. Each loop the app makes through the engine, the
CLI makes through the same calls, and the files say the same: `generate --cut` cuts candidates as the
Fresh tray does (loop.loop_from_candidate), `extend` states the origin and bars loop.extended_loop
gives, and `library recut` keeps a re-cut as the app's rule does (library.recut.recut_sample)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from drum_audio import rock_pattern
from library_helpers import parse_wav, run_cli

# The starter model reads as a break with a bar at these draft-preset seeds on a CPU: seed 1 has no
# tempo, seed 2 one whole bar (measured; see also tests/test_starter_model.py E2E_SEEDS).
NO_TEMPO_SEED, ONE_BAR_SEED = 1, 2


def as_json(value):
    return json.loads(json.dumps(value))


@pytest.fixture(scope="module")
def starter_loops():
    """The loops the app's Fresh tray makes of the starter model's draft candidates for seeds 1 and 2."""
    from cratedigger.generate import generate
    from cratedigger.loop import loop_from_candidate
    from cratedigger.model import STARTER, load_model
    from cratedigger.presets import preset_request

    model = load_model(STARTER, device="cpu")
    candidates = generate(model, preset_request("draft", count=2, seeds=(NO_TEMPO_SEED, ONE_BAR_SEED)))
    return [loop_from_candidate(c, model_info=model.info()) for c in candidates]


def test_generate_cut_writes_the_loop_the_fresh_tray_cuts(starter_loops, tmp_path):
    out = tmp_path / "fresh"
    done = run_cli("generate", "--cut", "--model", "starter", "--preset", "draft", "--count", 2,
                   "--seed", NO_TEMPO_SEED, "--device", "cpu", "--out", out)
    assert done.returncode == 0, done.stderr
    uncut, cut = starter_loops
    assert not uncut.has_whole_bars and cut.has_whole_bars, "the seeds no longer give one loop of each kind"
    bpm_text = f"{round(cut.bpm)}bpm_{cut.bars}bar"
    names = [f"break_000_seed{NO_TEMPO_SEED}.wav", f"break_001_seed{ONE_BAR_SEED}_{bpm_text}.wav"]
    assert done.stdout.split() == [str(out / n) for n in names]
    assert done.stderr.count(uncut.note) == 1  # why the first is no loop, said once
    for name, loop in zip(names, (uncut, cut)):
        wav = parse_wav(out / name)
        written = np.frombuffer(wav.data, dtype="<i2").astype(np.float32) / 32768
        assert wav.sample_rate == loop.sample_rate and written.shape == loop.audio.shape
        np.testing.assert_allclose(written, loop.audio, atol=2 / 32768)  # the same samples, as 16-bit PCM
        sidecar = json.loads((out / name).with_suffix(".json").read_text())
        assert sidecar["origin"] == loop.origin.kind == "generated"
        assert sidecar["provenance"] == as_json(dict(loop.origin.provenance))
        assert sidecar["file"] == name and sidecar["seed"] == loop.origin.provenance["seed"]
    first = json.loads((out / names[0]).with_suffix(".json").read_text())
    assert first["bars"] is None and first["bpm"] is None and first["analysis_note"] == uncut.note
    assert wav.acid is not None and wav.acid["beats"] == cut.bars * cut.beats_per_bar
    assert wav.acid["tempo"] == pytest.approx(cut.bpm, abs=0.01)
    second = json.loads((out / names[1]).with_suffix(".json").read_text())
    assert second["bars"] == cut.bars and second["bpm"] == pytest.approx(cut.bpm, abs=0.001)
    assert second["beats_per_bar"] == cut.beats_per_bar


def test_generate_without_cut_still_writes_the_window_as_generated(tiny_model_dir, tmp_path):
    done = run_cli("generate", "--model", tiny_model_dir, "--steps", 2, "--seed", 4, "--device", "cpu",
                   "--out", tmp_path / "raw")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["break_000_seed4.json", "break_000_seed4.wav"]
    assert "origin" not in json.loads((tmp_path / "raw" / "break_000_seed4.json").read_text())


def test_extend_states_the_origin_and_the_bars_extended_loop_counts(wide_model_dir, wide_model, tmp_path):
    from cratedigger.audio.io import read_audio
    from cratedigger.extend import extend_loop
    from cratedigger.loop import extended_loop

    src = tmp_path / "amen_170bpm_2bar.wav"
    sf.write(src, rock_pattern(bpm=170, bars=2, sample_rate=44100), 44100, subtype="PCM_16")
    out = tmp_path / "longer.wav"
    done = run_cli("extend", src, "--model", wide_model_dir, "--bars", 2, "--bpm", 170, "--steps", 2, "--seed", 1,
                   "--device", "cpu", "--out", out)
    assert done.returncode == 0, done.stderr
    audio, rate = read_audio(src)
    result = extend_loop(wide_model, audio, sample_rate=rate, bpm=170, bars_to_add=2, beats_per_bar=4, seed=1,
                         steps=2, scheduler="ddim")
    expected = extended_loop(result, beats_per_bar=4, source_name="amen", model_info=wide_model.info())
    assert expected.bars == 4
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["origin"] == "extended" and sidecar["bars"] == expected.bars
    assert sidecar["bpm"] == pytest.approx(170) and sidecar["beats_per_bar"] == 4 and sidecar["bars_added"] == 2
    assert sidecar["provenance"] == as_json(dict(expected.origin.provenance))
    assert sidecar["provenance"]["parent_name"] == "amen" and sidecar["provenance"]["seeds"] == list(result.seeds)
    assert sidecar["file"] == "longer.wav" and sidecar["duration"] == pytest.approx(sf.info(str(out)).duration)
    assert f"{expected.bars} bars in all" in done.stdout
    written, _ = sf.read(out, dtype="float32")
    assert written.shape == expected.audio.shape  # the loop the sidecar describes is the file beside it


def test_extend_leaves_an_existing_sidecar_alone_before_the_model_loads(tmp_path):
    src = tmp_path / "loop.wav"
    sf.write(src, rock_pattern(bpm=120, bars=1, sample_rate=22050), 22050)
    (tmp_path / "longer.json").write_text("{}")
    done = run_cli("extend", src, "--model", tmp_path / "no-such-model", "--bars", 1, "--bpm", 120,
                   "--out", tmp_path / "longer.wav")
    assert done.returncode == 2 and "longer.json already exists" in done.stderr
    assert (tmp_path / "longer.json").read_text() == "{}"


@pytest.fixture
def library_with_a_generated_loop(tmp_path):
    """A library on disk holding four bars of a real drum pattern at 120 BPM, kept as a generated loop."""
    from cratedigger.library import Library
    from cratedigger.loop import Origin, best_loop

    root = tmp_path / "lib"
    loop = best_loop(rock_pattern(bpm=120, bars=4, sample_rate=22050), sample_rate=22050,
                     origin=Origin("generated", {"seed": 7, "model": "starter"}))
    with Library.open(root) as lib:
        original = lib.add_loop(loop, name="Dusty Rock", tags=["rock", "kept"])
    return root, original


def test_library_recut_keeps_a_derived_loop_as_the_app_does(library_with_a_generated_loop):
    from cratedigger.library import Library

    root, original = library_with_a_generated_loop
    done = run_cli("library", "--root", root, "recut", original.id, "--bpm", 121, "--first-downbeat", 0.02,
                   "--bars", 2)
    assert done.returncode == 0, done.stderr
    with Library.open(root) as lib:
        [derived] = [s for s in lib.query() if s.id != original.id]
        assert lib.get(original.id).content_hash == original.content_hash  # the original is unchanged
        audio, rate = lib.read_audio(derived)
    assert done.stdout.strip() == f"recut {original.id} as {derived.id}: Dusty Rock · 121.0 BPM  121.0 bpm  2 bars  [kept, rock]"
    # the app's rule: its source's name and tempo, origin kind, provenance and tags; the source as parent
    assert derived.name == "Dusty Rock · 121.0 BPM" and derived.parent_id == original.id
    assert derived.source == "generated" and derived.tags == original.tags
    assert derived.provenance == {**original.provenance, "tempo_set_by": "producer", "recut_from": original.id}
    assert derived.bars == 2 and derived.bpm == pytest.approx(121.0)
    assert audio.shape[0] == round(2 * 4 * 60 / 121 * rate)
    listed = run_cli("library", "--root", root, "list", "--source", "generated", "--json")
    assert [s["id"] for s in json.loads(listed.stdout)] == [derived.id, original.id]
    listed = run_cli("library", "--root", root, "list", "--source", "imported", "--json")
    assert json.loads(listed.stdout) == []


def test_recut_sample_is_the_engine_call_behind_the_command(library_with_a_generated_loop):
    from cratedigger.library import Library
    from cratedigger.library.recut import recut_sample

    root, original = library_with_a_generated_loop
    with Library.open(root) as lib:
        derived = recut_sample(lib, original, bpm=120, bars=8)
        assert derived.bars == 4 and derived.parent_id == original.id  # at most 8 bars: all four there are
        assert lib.count() == 2


@pytest.mark.parametrize(("args", "message"), [
    (("999", "--bpm", "120"), "no sample with id 999"),
    (("1", "--bpm", "0"), "bpm must be between"),
    (("1", "--bpm", "120", "--bars", "3"), "bars must be one of"),
    (("1", "--bpm", "120", "--first-downbeat", "nan"), "first_downbeat must be a number"),
    (("1", "--bpm", "20"), "longer than the clip"),
])
def test_library_recut_bad_input_is_one_line_and_a_nonzero_exit(library_with_a_generated_loop, args, message):
    from cratedigger.library import Library

    root, _original = library_with_a_generated_loop
    done = run_cli("library", "--root", root, "recut", *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cratedigger: error:") and message in lines[0], done.stderr
    with Library.open(root) as lib:
        assert lib.count() == 1  # nothing half-made was kept
