"""More like this: vectors stored on add, `library similar ID [--limit N] [--json]`, and on real drums
(LMMS breaks, GMRockKit hits) a loop's own slices and re-renders rank above unrelated grooves."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cratedigger import similarity
from cratedigger.audio.resample import resample
from cratedigger.cli import main
from cratedigger.library import Library
from cratedigger.tempo_fit import fit_to_tempo
from drum_audio import LMMS_BEATS, load_mono, rock_pattern

SR = 22050
UNRELATED = ["break01.ogg", "break02.ogg", "break03.ogg", "electro_beat01.ogg", "electro_beat02.ogg", "909beat01.ogg"]


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_bar_bpm(audio: np.ndarray) -> float:
    bpm = 4 * 60 / (audio.size / SR)
    return bpm * 2 if bpm < 80 else bpm


def add_family(lib: Library, name: str, bars_in_file: int) -> tuple[int, list[int]]:
    """A 4-bar loop from an LMMS file, two of its slices and two re-renders; returns (loop id, relatives)."""
    base = load_mono(LMMS_BEATS / name, SR)
    bpm = bars_in_file * 4 * 60 / (base.size / SR)
    repeats = 4 // bars_in_file
    loop = np.tile(base, repeats)
    bar = loop.size // 4
    loop_id = lib.add_audio(loop, SR, name=name, source="imported", bpm=bpm, bars=4).id
    relatives = [
        lib.add_audio(loop[bar:3 * bar], SR, name=f"{name} bars 2-3", source="sliced", bpm=bpm, bars=2, parent_id=loop_id),
        lib.add_audio(loop[3 * bar:], SR, name=f"{name} bar 4", source="sliced", bpm=bpm, bars=1, parent_id=loop_id),
        # re-rendered: 44.1 kHz stereo, 6 dB down, a little noise (a bounce from a DAW)
        lib.add_audio(np.stack([resample(loop, from_rate=SR, to_rate=44100) * 0.5] * 2, axis=1)
                      + np.random.default_rng(440).normal(0, 1e-3, (loop.size * 2, 2)).astype(np.float32),
                      44100, name=f"{name} bounce", source="imported", bpm=bpm, bars=4),
        # re-rendered at another tempo (the project-tempo export, stretched 7% slower)
        lib.add_audio(fit_to_tempo(loop, sample_rate=SR, bpm=bpm, target_bpm=bpm * 0.93, beats=16), SR,
                      name=f"{name} at {bpm * 0.93:.0f}", source="variation", bpm=bpm * 0.93, bars=4, parent_id=loop_id),
    ]
    return loop_id, [s.id for s in relatives]


@pytest.fixture(scope="module")
def drums(tmp_path_factory):
    root = tmp_path_factory.mktemp("similar") / "lib"
    with Library.open(root, analyzer=None) as lib:
        families = {"jungle": add_family(lib, "jungle01.ogg", 2), "house": add_family(lib, "house_loop01.ogg", 1)}
        for name in UNRELATED:
            audio = load_mono(LMMS_BEATS / name, SR)
            lib.add_audio(audio, SR, name=name, source="imported", bpm=one_bar_bpm(audio), bars=1)
        lib.add_audio(rock_pattern(bpm=93.4, bars=2, sample_rate=SR), SR, name="rock 93", source="sliced", bpm=93.4, bars=2)
        lib.add_audio(rock_pattern(bpm=170.0, bars=4, sample_rate=SR), SR, name="rock 170", source="sliced", bpm=170.0, bars=4)
    return root, families


@pytest.mark.parametrize("family", ["jungle", "house"])
def test_own_slices_and_re_renders_rank_above_unrelated_grooves(drums, family):
    root, families = drums
    loop_id, relatives = families[family]
    with Library.open(root, analyzer=None) as lib:
        assert similarity.ensure_features(lib) == 0  # every sample got its vector when it was added
        near = similarity.similar(lib, loop_id, limit=100)
    ids = [n.id for n in near]
    assert loop_id not in ids and len(ids) == lib_size(root) - 1
    assert set(ids[: len(relatives)]) == set(relatives), [(n.id, round(n.distance, 3)) for n in near[:8]]
    assert [n.distance for n in near] == sorted(n.distance for n in near)


def lib_size(root) -> int:
    with Library.open(root, analyzer=None) as lib:
        return lib.count(limit=None)


def test_cli_similar_json_and_text(capsys, drums):
    root, families = drums
    loop_id, relatives = families["jungle"]
    code, out, err = cli(capsys, "library", "--root", root, "similar", loop_id, "--limit", "3", "--json")
    assert code == 0, err
    items = json.loads(out)
    assert len(items) == 3 and all({"id", "distance", "name", "bpm"} <= set(i) for i in items)
    assert {i["id"] for i in items} <= set(relatives) and loop_id not in {i["id"] for i in items}
    assert [i["distance"] for i in items] == sorted(i["distance"] for i in items)

    code, out, _ = cli(capsys, "library", "--root", root, "similar", loop_id, "--limit", "2")
    assert code == 0 and len(out.splitlines()) == 2 and "jungle01.ogg" in out.splitlines()[0]

    code, out, err = cli(capsys, "library", "--root", root, "similar", "999")
    assert code == 2 and out == "" and err.startswith("cratedigger: error: no sample with id 999") and err.count("\n") == 1
    code, _, err = cli(capsys, "library", "--root", root, "similar", loop_id, "--limit", "0")
    assert code == 2 and "--limit must be at least 1" in err


def test_older_samples_are_filled_in_and_trash_is_left_out(tmp_path):
    loop = rock_pattern(bpm=93.4, bars=2, sample_rate=SR)
    with Library.open(tmp_path / "lib", analyzer=None) as lib:
        a = lib.add_audio(loop, SR, name="a", source="sliced", bpm=93.4, bars=2).id
        b = lib.add_audio(loop * 0.5, SR, name="b", source="sliced", bpm=93.4, bars=2).id
        c = lib.add_audio(loop[::-1].copy(), SR, name="c", source="sliced", bpm=93.4, bars=2).id
        with lib._tx("forget") as conn:  # as a library made before this feature
            conn.execute("DELETE FROM sample_features")
        lib.trash(c)
        near = similarity.similar(lib, a, limit=5)
        assert [n.id for n in near] == [b]
        assert near[0].distance == pytest.approx(0.0, abs=1e-3)  # the same loop turned down is the same loop
        assert len(similarity.load_vectors(lib)[0]) == 3  # the trashed one has its vector, but is not listed
        assert similarity.ensure_features(lib) == 0

        # An index kept between searches sees new samples, the trash and purges.
        index = similarity.SimilarityIndex(lib)
        assert [n.id for n in index.similar(a)] == [b]
        d = lib.add_audio(loop * 0.25, SR, name="d", source="sliced", bpm=93.4, bars=2).id
        assert [n.id for n in index.similar(a)] == [b, d] or [n.id for n in index.similar(a)] == [d, b]
        lib.trash(b)
        lib.purge([b, c])
        assert [n.id for n in index.similar(a)] == [d]


def test_distance_parts_follow_the_documented_rules():
    loop = rock_pattern(bpm=90.0, bars=2, sample_rate=SR)
    v = similarity.features(loop, sample_rate=SR, bpm=90.0)
    assert v.shape == (similarity.DIM,) and v.dtype == np.float32
    assert np.linalg.norm(v[0:48]) == pytest.approx(1.0, abs=1e-5) and v[89] == 1.0
    one_beat_late = np.roll(loop, int(round(60 / 90 * SR)))
    half_time = similarity.features(loop, sample_rate=SR, bpm=90.0)
    half_time[88] = np.log2(45.0)
    no_tempo = similarity.features(loop, sample_rate=SR, bpm=None)
    rows = np.stack([v, similarity.features(one_beat_late, sample_rate=SR, bpm=90.0), half_time, no_tempo])
    parts = similarity.distances(v, rows)
    assert parts["distance"][0] == pytest.approx(0.0, abs=1e-6)
    assert parts["rhythm"][1] < 0.05  # a beat's shift is the same groove
    assert parts["tempo"][2] == pytest.approx(0.0, abs=1e-6)  # 45 is 90 an octave down
    assert parts["rhythm"][3] == similarity.NEUTRAL and parts["tempo"][3] == similarity.NEUTRAL
    assert np.isnan(no_tempo[88]) and no_tempo[89] == 0.0
