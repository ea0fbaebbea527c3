"""Issue 10: beat 1 on grooves the analyzer was not tuned on, rendered from the unseen split's kits.

madmom's downbeat network hears the clap of a four-on-the-floor and the drop of a reggae one-drop as
beat 1, and a 5/4 bar could not be read at all; the kick and snare bands and meter 5 fix that. Trap
was read at half speed; kicks on that grid's 32nd notes now say it is twice as fast. Slow 16th-note
grooves were read at twice their tempo, as half-time bars (snare on 3 only); a bar whose one snare is
on 3 is now a backbeat bar at half the tempo. Shuffles were read in 3 at 3/2 their tempo, or in their
triplets; the snares on the beats and a pattern repeating in threes fix that. Four on the floor with
open hats on the off-beats was read at 2/3 its tempo. Songs that change pattern were read in 2 and
metal with beat 1 on a snare. Each clip is
recorded one-shots on an exact grid (benchmarks/groove_corpus.py's kinds), some cut off beat 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.corpus.build_corpus import _finish, load_kit
from benchmarks.groove_corpus import KINDS, render
from cratedigger.analysis import Analyzer, GridParams

RATE = 22050
KIND = {k.name: k for k in KINDS}
# the analyzer as it was before beat-1 evidence from the drum bands and meter 5
BEFORE = Analyzer(backend="madmom", grid=GridParams(
    band_weight=0.0, band_score_weight=0.0, kick_32nds_limit=0.0, bar_repeat_margin=0.0, halftime_snare_lift=0.0,
    four_floor_rule=False, offbeat_snare_ratio=0.0, triple_repeat_margin=0.0,
    meter_prior=((4, 0.04), (3, -0.1), (2, -0.02))))


def groove(kind: str, kit: str, *, bpm: float, offset_beats: int, seed: int, seconds: float = 7.0,
           rate: int = RATE, jitter_ms: float = 0.0):
    """A clip of `kind` starting offset_beats into the bar: (mono float32 at rate, true downbeat times)."""
    style = KIND[kind]
    start = offset_beats * 60.0 / bpm
    bars = int(np.ceil((start + seconds) / (style.beats_per_bar * 60.0 / bpm))) + 1
    audio, beats, downs = render(style, load_kit(kit), bpm=bpm, n_bars=bars,
                                 rng=np.random.default_rng(seed), jitter_ms=jitter_ms)
    seg, _, true_downs = _finish(audio, beats, downs, start=start, length=seconds, sr=rate, mono=True)
    return seg, np.array(true_downs)


def case_clip(kind: str, kit: str, bpm: float, offset: int):
    """groove() with the seed each case below is rendered with."""
    return groove(kind, kit, bpm=bpm, offset_beats=offset, seed=int(bpm) * 10 + offset)


def downbeats_right(result, true_downs: np.ndarray, tol: float = 0.07) -> bool:
    got = np.array(result.downbeats)
    return got.size == true_downs.size and bool(np.all(np.abs(got - true_downs) < tol))


def downbeats_on_bar_beats(result, true_downs: np.ndarray, bpm: float, meter: int, allowed: tuple[int, ...],
                           tol: float = 0.07) -> bool:
    """Every downbeat found sits on a beat of the true bar numbered in `allowed` (1-based)."""
    got = np.array(result.downbeats)
    if got.size == 0:
        return False
    beats = (got - true_downs[0]) * bpm / 60.0
    on_beat = np.abs(beats - np.round(beats)) * 60.0 / bpm < tol
    return bool(np.all(on_beat) and np.all(np.isin(np.round(beats).astype(int) % meter + 1, allowed)))


def assert_in_4_with_the_backbeat_on_2_and_4(result, true_downs: np.ndarray, bpm: float, rel: float = 0.04):
    """At bpm, in 4, beat 1 on the true bar's 1 or 3 (a kick-snare-kick-snare bar is the same from 3)."""
    assert result.bpm == pytest.approx(bpm, rel=rel)
    assert result.beats_per_bar == 4
    assert downbeats_on_bar_beats(result, true_downs, bpm, 4, allowed=(1, 3)), (result.downbeats, true_downs)


def is_right(kind: str, result, true_downs: np.ndarray, bpm: float) -> bool:
    if kind == "house_off":  # a bar of four even kicks and claps on 2 and 4 looks the same from beat 3
        return downbeats_on_bar_beats(result, true_downs, bpm, 4, allowed=(1, 3))
    return downbeats_right(result, true_downs)


CASES = [
    # four on the floor: kicks on every beat, claps on 2 and 4; beat 1 is a kick, not a clap
    ("house_off", "BJA_Pacific", 122.0, 0, 4),
    ("house_off", "TR808EmulationKit", 120.0, 1, 4),
    # one-drop: kick and rim together on 3, nothing on 1
    ("onedrop", "TR808EmulationKit", 70.0, 0, 4),
    ("onedrop", "BJA_Pacific", 80.0, 3, 4),
    # 5/4: kick on 1, snare on 2 and 4
    ("five4", "ForzeeStereo", 112.0, 0, 5),
    ("five4", "TR808EmulationKit", 128.0, 1, 5),
    # trap: snare on 3 and a kick on the last 16th of beat 1, read at half speed before (that kick
    # is then a 32nd note)
    ("trap", "TR808EmulationKit", 134.0, 2, 4),
    ("trap", "ForzeeStereo", 146.0, 0, 4),
    # a song that changes pattern (two bars of verse, a chorus bar, a fill): read in 2 before, halving
    # its bars, or with beat 1 on 3
    ("song", "ForzeeStereo", 96.0, 1, 4),
    ("song", "TR808EmulationKit", 96.0, 0, 4),
    ("song", "BJA_Pacific", 120.0, 0, 4),
    ("song", "TR808EmulationKit", 120.0, 0, 4),
    # metal: 16th-note double kick, snare on 2 and 4; beat 1 was put on a snare
    ("metal", "TR808EmulationKit", 150.0, 0, 4),
    ("metal", "ForzeeStereo", 150.0, 2, 4),
]


@pytest.mark.parametrize("kind, kit, bpm, offset, meter", CASES, ids=[f"{c[0]}-{c[1]}-off{c[3]}" for c in CASES])
def test_beat_one_of_an_unseen_groove_is_where_the_drummer_put_it(kind, kit, bpm, offset, meter):
    audio, true_downs = case_clip(kind, kit, bpm, offset)
    result = Analyzer(backend="madmom").analyze(audio, sample_rate=RATE)
    assert result.bpm == pytest.approx(bpm, rel=0.04)
    assert result.beats_per_bar == meter
    assert is_right(kind, result, true_downs, bpm), (result.downbeats, true_downs)


def test_the_clips_above_fooled_the_analyzer_before_the_drum_bands():
    """Guards the cases: without the drum bands and meter 5 every one of them gets beat 1 (or the tempo) wrong."""
    wrong = 0
    for kind, kit, bpm, offset, _meter in CASES:
        audio, true_downs = case_clip(kind, kit, bpm, offset)
        wrong += not is_right(kind, BEFORE.analyze(audio, sample_rate=RATE), true_downs, bpm)
    assert wrong == len(CASES)


# slow 16th-note grooves (snare on 2 and 4, 16th hats): the ballads at 64 and 70 and cajon at 88
SLOW = [
    ("ballad16", "BJA_Pacific", 64.0, 0),
    ("ballad16", "BJA_Pacific", 70.0, 3),
    ("cajon16", "ForzeeStereo", 88.0, 2),
    ("cajon16", "BJA_Pacific", 84.0, 3),
]
# the analyzer as it was before the half-time rule
NO_HALVING = Analyzer(backend="madmom", grid=GridParams(halftime_snare_lift=0.0))


@pytest.mark.parametrize("kind, kit, bpm, offset", SLOW, ids=[f"{c[0]}-{c[2]:g}-off{c[3]}" for c in SLOW])
def test_a_slow_16th_note_groove_is_read_at_its_slow_tempo_with_the_snare_on_2_and_4(kind, kit, bpm, offset):
    audio, true_downs = case_clip(kind, kit, bpm, offset)
    result = Analyzer(backend="madmom").analyze(audio, sample_rate=RATE)
    assert_in_4_with_the_backbeat_on_2_and_4(result, true_downs, bpm)


def test_the_slow_grooves_above_were_read_at_double_tempo_before():
    for kind, kit, bpm, offset in SLOW:
        audio, _ = case_clip(kind, kit, bpm, offset)
        assert NO_HALVING.analyze(audio, sample_rate=RATE).bpm == pytest.approx(2 * bpm, rel=0.04), (kind, bpm)


@pytest.mark.parametrize("bpm", [118.0, 126.0])
def test_a_four_on_the_floor_with_open_hats_on_the_off_beats_is_not_read_at_two_thirds_its_tempo(bpm):
    """The 808's open hat between the kicks made a grid of kick, hat, kick, hat... (2/3 the tempo) fit
    best; a kick on every beat of the 3/2 reading and none half-way between says it is the tempo."""
    audio, true_downs = groove("house_off", "TR808EmulationKit", bpm=bpm, offset_beats=0, seed=1, seconds=8.0,
                               rate=44100, jitter_ms=5.0)
    result = Analyzer(backend="madmom").analyze(audio, sample_rate=44100)
    assert_in_4_with_the_backbeat_on_2_and_4(result, true_downs, bpm, rel=0.02)
    before = Analyzer(backend="madmom", grid=GridParams(four_floor_rule=False)).analyze(audio, sample_rate=44100)
    assert before.bpm == pytest.approx(bpm * 2 / 3, rel=0.02)


# 12/8 shuffles and a Purdie shuffle: the blues at 60 read at 90 (in 3) and 180, a Purdie at
# 92 read in 3 at 138
SHUFFLES = [
    ("shuffle128", "BJA_Pacific", 60.0, 0),
    ("shuffle128", "BJA_Pacific", 60.0, 2),
    ("shuffle128", "ForzeeStereo", 76.0, 2),
    ("purdie", "ForzeeStereo", 92.0, 2),
]


@pytest.mark.parametrize("kind, kit, bpm, offset", SHUFFLES, ids=[f"{c[0]}-{c[1]}-{c[2]:g}-off{c[3]}" for c in SHUFFLES])
def test_a_shuffle_is_read_in_4_at_its_tempo_not_in_3_or_in_its_triplets(kind, kit, bpm, offset):
    audio, true_downs = case_clip(kind, kit, bpm, offset)
    result = Analyzer(backend="madmom").analyze(audio, sample_rate=RATE)
    assert_in_4_with_the_backbeat_on_2_and_4(result, true_downs, bpm)
    before = BEFORE.analyze(audio, sample_rate=RATE).bpm
    assert before == pytest.approx(1.5 * bpm, rel=0.04) or before == pytest.approx(3 * bpm, rel=0.04)


def test_the_licence_clean_librosa_backend_hears_the_drum_bands_too():
    """madmom's networks are CC BY-NC-SA; the librosa backend's clips now carry the kick and snare
    bands as well: trap at its tempo in 4 (read in 2 at half speed without them), a one-drop's drop on 3."""
    trap, trap_downs = groove("trap", "ForzeeStereo", bpm=140.0, offset_beats=0, seed=1400)
    drop, drop_downs = groove("onedrop", "TR808EmulationKit", bpm=74.0, offset_beats=0, seed=740)
    ours = Analyzer(backend="librosa")
    t, d = ours.analyze(trap, sample_rate=RATE), ours.analyze(drop, sample_rate=RATE)
    assert t.bpm == pytest.approx(140.0, rel=0.04) and t.beats_per_bar == 4 and downbeats_right(t, trap_downs)
    assert d.bpm == pytest.approx(74.0, rel=0.04) and downbeats_right(d, drop_downs)
    no_bands = Analyzer(backend="librosa", grid=GridParams(  # every use of the bands turned off
        band_weight=0.0, kick_32nds_limit=0.0, bar_repeat_margin=0.0, halftime_snare_lift=0.0,
        four_floor_rule=False, offbeat_snare_ratio=0.0, triple_repeat_margin=0.0))
    assert no_bands.analyze(trap, sample_rate=RATE).bpm == pytest.approx(70.0, rel=0.04)
    assert not downbeats_right(no_bands.analyze(drop, sample_rate=RATE), drop_downs)
