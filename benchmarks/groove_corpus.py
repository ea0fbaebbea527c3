"""The grooves the analyzer got wrong (issue 10), rendered from recorded kits on exact grids.

    python -m benchmarks.groove_corpus [--out DIR] [--per-kind N] [--seconds S]

Kinds: slow 16th-note grooves (ballad, cajon-like, slow funk), 12/8 shuffles and a Purdie-style
half-time shuffle, reggae one-drop, four-on-the-floor with off-beat hats, trap with hat rolls, 5/4,
a jazz ride, metal double kick, electro with the hats only on the off-beats, a song whose pattern
changes every two bars (verse, chorus, a fill), and loops that do not start on beat 1 (a start
offset on a share of every kind). Hits are recorded
one-shots of Debian's hydrogen-drumkits placed at sample positions (benchmarks/corpus/build_corpus.py
does the rendering), so tempo, beats and downbeats are exact.

Two splits that share no kit and no seed: "tune" (what the analyzer's weights may be set on) and
"unseen" (never looked at while tuning; kits listed in UNSEEN_KITS). The tempo convention is a
producer's: a slow groove with snare on 2 and 4 is written at its slow tempo; trap (snare on 3,
hats in 8ths and rolls) at its fast one, as trap producers set their DAW.

Writes DIR/<split>/<name>.wav + .json and DIR/index.json (every clip, with "split" and "kind").
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from benchmarks.corpus.build_corpus import MIX_SR, T, Style, _dusty, _every, _finish, load_kit, render_style

DEFAULT_OUT = Path.home() / ".cache" / "cratedigger" / "groove_corpus"
UNSEEN_KITS = ("BJA_Pacific", "ForzeeStereo", "TR808EmulationKit")
TUNE_KITS = ("GMRockKit", "TheBlackPearl", "Millo_MultiLayered2", "Millo_MultiLayered3",
             "ColomboAcousticDrumkit", "VariBreaks")


def _triplets(inst: str, n_beats: int, vel: float, accent: float) -> list:
    return [(inst, b + k * T, accent if k == 0 else vel) for b in range(n_beats) for k in range(3)]


def _roll(inst: str, start: float, end: float, step: float, vel: float) -> list:
    n = int(round((end - start) / step))
    return [(inst, start + i * step, vel * (0.6 + 0.4 * i / max(1, n - 1))) for i in range(n)]


KINDS = [
    # slow 16th-note grooves: snare on 2 and 4 at 60-100 BPM, 16th hats, ghost notes
    Style("ballad16", 4, (60, 76), tuple(_every("hat", 0.25, 4, 0.3, 0.6) + [
        ("kick", 0, 1.0), ("kick", 2.5, 0.8), ("kick", 2.75, 0.5), ("snare", 1, 1.0), ("snare", 3, 1.0),
        ("snare", 1.75, 0.2), ("snare", 3.5, 0.2)])),
    Style("cajon16", 4, (80, 92), tuple(_every("hat", 0.25, 4, 0.18, 0.3) + [
        ("kick", 0, 1.0), ("kick", 0.75, 0.6), ("kick", 2, 0.8), ("kick", 2.75, 0.5),
        ("snare", 1, 0.9), ("snare", 3, 0.9), ("snare", 1.5, 0.25), ("snare", 3.25, 0.25), ("snare", 3.75, 0.3)])),
    Style("funk16slow", 4, (90, 100), tuple(_every("hat", 0.25, 4, 0.35, 0.7) + [
        ("kick", 0, 1.0), ("kick", 0.75, 0.7), ("kick", 2.25, 0.8), ("kick", 2.5, 0.7),
        ("snare", 1, 1.0), ("snare", 3, 1.0), ("snare", 1.75, 0.25), ("snare", 2.75, 0.25), ("snare", 3.5, 0.25)])),
    # shuffles: every triplet 8th on the hats (12/8 feel) / the middle one left out (Purdie)
    Style("shuffle128", 4, (58, 80), tuple(_triplets("hat", 4, 0.4, 0.7) + [
        ("kick", 0, 1.0), ("kick", 2, 0.9), ("kick", 2 + 2 * T, 0.6), ("snare", 1, 1.0), ("snare", 3, 1.0)])),
    Style("purdie", 4, (84, 100), tuple(
        [h for b in range(4) for h in (("hat", b, 0.7), ("hat", b + 2 * T, 0.45))] + [
            ("kick", 0, 1.0), ("kick", 2 * T, 0.5), ("kick", 2, 0.8), ("kick", 2 + 2 * T, 0.6),
            ("snare", 1, 1.0), ("snare", 3, 1.0), ("snare", T, 0.18), ("snare", 1 + T, 0.18),
            ("snare", 2 + T, 0.18), ("snare", 3 + T, 0.18)])),
    # reggae one-drop: nothing on 1, kick and rim together on 3, swung 8th hats
    Style("onedrop", 4, (66, 84), tuple(
        [h for b in range(4) for h in (("hat", b, 0.5), ("hat", b + 2 * T, 0.35))] + [
            ("kick", 2, 1.0), ("snare", 2, 0.9)])),
    # four on the floor, clap on 2 and 4, open hat on every off-beat
    Style("house_off", 4, (118, 128), tuple(
        [("kick", b, 1.0) for b in range(4)] + [("ride", b + 0.5, 0.6) for b in range(4)]
        + [("snare", 1, 0.8), ("snare", 3, 0.8)] + [("hat", b + 0.25, 0.15) for b in range(4)])),
    # trap: snare on 3, 8th hats with 16th and 32nd rolls
    Style("trap", 4, (132, 150), tuple(
        _every("hat", 0.5, 2, 0.45, 0.6) + _roll("hat", 2, 3, 0.25, 0.45) + _roll("hat", 3, 3.5, 0.125, 0.5)
        + [("hat", 3.5, 0.5)]
        + [("kick", 0, 1.0), ("kick", 0.75, 0.7), ("kick", 3.25, 0.7), ("snare", 2, 1.0)])),
    Style("five4", 5, (100, 140), tuple(_every("hat", 0.5, 5, 0.45, 0.65) + [
        ("kick", 0, 1.0), ("kick", 2.5, 0.8), ("snare", 1, 1.0), ("snare", 3, 1.0), ("kick", 4, 0.7)])),
]

# kinds added after the first build go last, so the clips above keep their tempos, kits and seeds
KINDS += [
    # jazz: the ride's "ding, ding-a", the hat foot on 2 and 4, a feathered kick leaning on 1, comping
    Style("jazz", 4, (112, 200), tuple(
        [("ride", b, 0.75) for b in range(4)] + [("ride", 1 + 2 * T, 0.45), ("ride", 3 + 2 * T, 0.45)]
        + [("pedal", 1, 0.6), ("pedal", 3, 0.6)] + [("kick", b, 0.45 if b == 0 else 0.2) for b in range(4)]
        + [("snare", 1 + 2 * T, 0.3), ("snare", 2 + 2 * T, 0.4)])),
    # metal: 16th-note double kick under a snare on 2 and 4 and the ride on the beats
    Style("metal", 4, (130, 180), tuple(_every("kick", 0.25, 4, 0.65, 0.8) + [
        ("ride", b, 0.8 if b == 0 else 0.55) for b in range(4)] + [("snare", 1, 1.0), ("snare", 3, 1.0)])),
    # electro: hats only on the off-beats, a syncopated kick, snare on 2 and 4
    Style("electro_off", 4, (108, 132), tuple([("hat", b + 0.5, 0.6) for b in range(4)] + [
        ("kick", 0, 1.0), ("kick", 1.75, 0.7), ("kick", 2.5, 0.85), ("snare", 1, 0.9), ("snare", 3, 0.9)])),
]


@dataclass(frozen=True)
class Song:
    """A groove that changes pattern: bars of several styles in turn (same meter), repeated."""

    name: str
    beats_per_bar: int
    bpm_range: tuple[float, float]
    bars: tuple[Style, ...]


_VERSE = _every("hat", 0.5, 4, 0.5, 0.75) + [("kick", 0, 1.0), ("kick", 2, 0.8), ("kick", 2.5, 0.7),
                                              ("snare", 1, 1.0), ("snare", 3, 1.0)]
_CHORUS = [("ride", b, 0.7) for b in range(4)] + [("ride", b + 0.5, 0.45) for b in range(4)] + [
    ("kick", 0, 1.0), ("kick", 1.5, 0.75), ("kick", 2, 0.85), ("snare", 1, 1.0), ("snare", 3, 1.0)]
_FILL = [h for h in _CHORUS if h[1] < 3] + [("snare", 3 + k * 0.25, 0.6 + 0.1 * k) for k in range(4)]
_VERSE_BAR = Style("verse", 4, (0, 0), tuple(_VERSE))
KINDS.append(Song("song", 4, (88, 132), (
    _VERSE_BAR, _VERSE_BAR, Style("chorus", 4, (0, 0), tuple(_CHORUS)), Style("fill", 4, (0, 0), tuple(_FILL)))))
KIND_NAMES = tuple(k.name for k in KINDS)


def render(kind, kit: dict, *, bpm: float, n_bars: int, rng: np.random.Generator, jitter_ms: float):
    """render_style for a Style; a Song's bars are rendered one by one and laid end to end."""
    if isinstance(kind, Style):
        return render_style(kind, kit, bpm=bpm, n_bars=n_bars, rng=rng, jitter_ms=jitter_ms)
    bar_len = kind.beats_per_bar * 60.0 / bpm
    out = np.zeros((int(np.ceil((n_bars * bar_len + 2.0) * MIX_SR)), 2), dtype=np.float32)
    for bar in range(n_bars):
        audio, _, _ = render_style(kind.bars[bar % len(kind.bars)], kit, bpm=bpm, n_bars=1, rng=rng,
                                   jitter_ms=jitter_ms)
        i = int(round(bar * bar_len * MIX_SR))
        seg = audio[: out.shape[0] - i]
        out[i : i + seg.shape[0]] += seg
    beats = [k * 60.0 / bpm for k in range(n_bars * kind.beats_per_bar)]
    return out, beats, [k * bar_len for k in range(n_bars)]


def build(out: Path, *, per_kind: int = 2, seconds: float = 8.0, seed: int = 1010) -> list[dict]:
    """per_kind clips of every kind in each split; returns the index (also written to index.json)."""
    out.mkdir(parents=True, exist_ok=True)
    kits = {}
    index = []
    for split, kit_names, split_seed in (("tune", TUNE_KITS, seed), ("unseen", UNSEEN_KITS, seed + 7919)):
        rng = np.random.default_rng(split_seed)
        (out / split).mkdir(exist_ok=True)
        for kind in KINDS:
            lo, hi = kind.bpm_range
            for k in range(per_kind):
                bpm = round(float(lo + (hi - lo) * (k + rng.uniform(0.1, 0.9)) / per_kind), 2)
                kit_name = kit_names[int(rng.integers(len(kit_names)))]
                if kit_name not in kits:
                    kits[kit_name] = load_kit(kit_name)
                spb = 60.0 / bpm
                # every other clip starts on a later beat of the bar (a loop cut off beat 1)
                offset_beats = int(rng.integers(1, kind.beats_per_bar)) if k % 2 else 0
                start = offset_beats * spb
                bar_len = kind.beats_per_bar * spb
                n_bars = int(np.ceil((start + seconds) / bar_len)) + 1
                audio, beats, downbeats = render(kind, kits[kit_name], bpm=bpm, n_bars=n_bars, rng=rng,
                                                 jitter_ms=float(rng.choice([0.0, 5.0])))
                if rng.uniform() < 0.3:
                    audio = _dusty(audio, rng, 44100)
                sr = int(rng.choice([22050, 44100]))
                seg, b, d = _finish(audio, beats, downbeats, start=start, length=seconds, sr=sr, mono=True)
                name = f"{kind.name}_{split}{k:02d}_{bpm:g}bpm"
                meta = {"name": f"{split}/{name}", "split": split, "kind": kind.name, "style": kind.name,
                        "kit": kit_name, "bpm": bpm, "beats_per_bar": kind.beats_per_bar,
                        "offset_beats": offset_beats, "sample_rate": sr, "beats": b, "downbeats": d}
                sf.write(str(out / split / f"{name}.wav"), seg, sr, subtype="PCM_16")
                (out / split / f"{name}.json").write_text(json.dumps(meta))
                index.append(meta)
    (out / "index.json").write_text(json.dumps(index, indent=1))
    return index


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--per-kind", type=int, default=2, help="clips per kind in each split")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--seed", type=int, default=1010)
    args = ap.parse_args()
    index = build(args.out, per_kind=args.per_kind, seconds=args.seconds, seed=args.seed)
    print(f"wrote {len(index)} clips to {args.out}")


if __name__ == "__main__":
    main()
