"""Tempo / beat / downbeat benchmark on the real-drum corpus: our analyzer vs plain madmom vs librosa.

    python benchmarks/analysis_benchmark.py [--corpus DIR] [--every N] [--json OUT]
    python benchmarks/analysis_benchmark.py --grooves DIR [--per-kind N]

Builds the corpus first if DIR has no index.json (benchmarks/corpus/build_corpus.py). --grooves
uses the issue-10 failure kinds instead (benchmarks/groove_corpus.py: a "tune" split and an
"unseen" split on other kits and seeds) and reports every method per split and per kind. For every clip
and method: tempo Acc1 (within 4 %), Acc2 (also x2, x1/2, x3, x1/3), beat F-measure and downbeat
F-measure (mir_eval, +-70 ms, no trimming of the first 5 s: the clips are 3-10 s long), seconds.
Methods, all run in this one process on the same audio:
  ours/madmom    cratedigger.analysis.Analyzer(backend="madmom")
  ours/librosa   cratedigger.analysis.Analyzer(backend="librosa")
  madmom plain   RNNBeatProcessor + TempoEstimationProcessor + DBNBeatTrackingProcessor,
                 RNNDownBeatProcessor + DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4])
  librosa        librosa.beat.beat_track (no downbeats)
Time is wall-clock per clip and per 10 s of audio (the issue's budget is 1.5 s per 10 s clip on 2
CPU cores), plus CPU seconds of this process per 10 s (steadier when the machine is shared). It
includes resampling to 44.1 kHz for madmom. Networks are loaded before timing starts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import groove_corpus  # noqa: E402
from benchmarks.corpus.build_corpus import DEFAULT_OUT, build  # noqa: E402
from cratedigger.analysis import Analyzer  # noqa: E402
from cratedigger.analysis._madmom import MADMOM_SR, import_madmom  # noqa: E402
from cratedigger.audio.dsp import to_mono  # noqa: E402

OCTAVES = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)


class PlainMadmom:
    """madmom's own pipeline with its default settings, as a user of madmom would run it."""

    def __init__(self) -> None:
        import_madmom()
        from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
        from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor
        from madmom.features.tempo import TempoEstimationProcessor

        self.beat_rnn, self.down_rnn = RNNBeatProcessor(), RNNDownBeatProcessor()
        self.tempo = TempoEstimationProcessor(fps=100)
        self.beat_dbn = DBNBeatTrackingProcessor(fps=100)
        self.down_dbn = DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)

    def __call__(self, mono: np.ndarray, sr: int) -> tuple[float | None, np.ndarray, np.ndarray]:
        import soxr
        from madmom.audio.signal import Signal

        if sr != MADMOM_SR:
            mono = soxr.resample(mono, sr, MADMOM_SR).astype(np.float32)
        sig = Signal(mono, sample_rate=MADMOM_SR, num_channels=1)
        act = self.beat_rnn(sig)
        tempi = self.tempo(act)
        bpm = float(tempi[0][0]) if len(tempi) else None
        beats = self.beat_dbn(act)
        down = self.down_dbn(self.down_rnn(sig))
        downbeats = down[down[:, 1] == 1, 0] if len(down) else np.zeros(0)
        return bpm, np.asarray(beats), np.asarray(downbeats)


def librosa_beat_track(mono: np.ndarray, sr: int) -> tuple[float | None, np.ndarray, None]:
    import librosa

    tempo, beats = librosa.beat.beat_track(y=mono, sr=sr, units="time")
    tempo = float(np.atleast_1d(tempo)[0])
    return (tempo if tempo > 0 else None), np.asarray(beats), None


def ours(backend: str):
    analyzer = Analyzer(backend=backend)

    def run(mono: np.ndarray, sr: int):
        r = analyzer.analyze(mono, sample_rate=sr)
        return r.bpm, np.array(r.beats), np.array(r.downbeats)

    return run


METHODS = {"ours/madmom": lambda: ours("madmom"), "ours/librosa": lambda: ours("librosa"),
           "madmom plain": PlainMadmom, "librosa beat_track": lambda: librosa_beat_track}


def score(meta: dict, bpm: float | None, beats: np.ndarray, downbeats: np.ndarray | None) -> dict:
    import mir_eval

    ref = meta["bpm"]
    acc1 = bpm is not None and abs(bpm - ref) / ref <= 0.04
    acc2 = bpm is not None and any(abs(bpm * f - ref) / ref <= 0.04 for f in OCTAVES)
    beat_f = mir_eval.beat.f_measure(np.array(meta["beats"]), np.asarray(beats, float))
    down_f = None if downbeats is None else mir_eval.beat.f_measure(np.array(meta["downbeats"]),
                                                                    np.asarray(downbeats, float))
    return {"acc1": float(acc1), "acc2": float(acc2), "beat_f": beat_f, "down_f": down_f}


def table(methods, rows, seconds, cpu, audio_seconds) -> None:
    """One line per method: means over `rows` (timing is over the whole run)."""
    print(f"{'method':20s} {'Acc1':>6s} {'Acc2':>6s} {'beat F':>7s} {'down F':>7s} {'s/10s':>6s} {'cpu/10s':>7s}")
    for name in methods:
        r = rows[name]
        if not r:
            continue
        mean = lambda k: np.mean([x[k] for x in r])  # noqa: E731
        down = [x["down_f"] for x in r if x["down_f"] is not None]
        down_s = f"{np.mean(down):7.3f}" if down else f"{'-':>7s}"
        print(f"{name:20s} {mean('acc1'):6.3f} {mean('acc2'):6.3f} {mean('beat_f'):7.3f} {down_s} "
              f"{10 * seconds[name] / audio_seconds:6.3f} {10 * cpu[name] / audio_seconds:7.3f}")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--every", type=int, default=1, help="use every Nth clip (quick runs)")
    ap.add_argument("--json", type=Path, help="write per-clip results here")
    ap.add_argument("--grooves", type=Path, help="the issue-10 groove corpus folder (built if empty)")
    ap.add_argument("--per-kind", type=int, default=2, help="with --grooves: clips per kind and split")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help=f"comma-separated subset of {', '.join(METHODS)} (quick runs: ours/madmom)")
    args = ap.parse_args()
    chosen = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in METHODS]
    if unknown:
        ap.error(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
    if args.grooves is not None:
        args.corpus = args.grooves
        if not (args.corpus / "index.json").exists():
            print(f"building the groove corpus in {args.corpus} ...", flush=True)
            groove_corpus.build(args.corpus, per_kind=args.per_kind)
    elif not (args.corpus / "index.json").exists():
        print(f"building the corpus in {args.corpus} ...", flush=True)
        build(args.corpus)
    index = json.loads((args.corpus / "index.json").read_text())[:: args.every]

    methods = {name: METHODS[name]() for name in chosen}
    warm = np.random.default_rng(0).standard_normal(44100 * 2).astype(np.float32) * 0.1
    for fn in methods.values():  # load networks and JIT before any timing
        fn(warm, 44100)

    rows = defaultdict(list)
    seconds = defaultdict(float)
    cpu = defaultdict(float)
    audio_seconds = 0.0
    for i, meta in enumerate(index):
        audio, sr = sf.read(str(args.corpus / f"{meta['name']}.wav"), dtype="float32")
        mono = to_mono(audio)
        audio_seconds += mono.size / sr
        for name, fn in methods.items():
            t0, c0 = time.perf_counter(), time.process_time()
            bpm, beats, downbeats = fn(audio if name.startswith("ours") else mono, sr)
            seconds[name] += time.perf_counter() - t0
            cpu[name] += time.process_time() - c0
            rows[name].append({"name": meta["name"], "style": meta["style"], "ref_bpm": meta["bpm"], "bpm": bpm,
                               **score(meta, bpm, beats, downbeats)})
        print(f"\r{i + 1}/{len(index)} clips", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    print(f"\n{len(index)} clips, {audio_seconds:.0f} s of audio ({args.corpus})\n")
    splits = sorted({m.get("split", "all") for m in index})
    for split in splits:
        if len(splits) > 1:
            print(f"split {split}:")
        table(methods, {name: [x for x, m in zip(r, index) if m.get("split", "all") == split]
                        for name, r in rows.items()}, seconds, cpu, audio_seconds)
    for split in splits:
        for name in methods:
            print(f"\n{name} by style{f' ({split})' if len(splits) > 1 else ''}:")
            by_style = defaultdict(list)
            for x, m in zip(rows[name], index):
                if m.get("split", "all") == split:
                    by_style[x["style"]].append(x)
            for style, r in sorted(by_style.items()):
                m = {k: np.mean([x[k] for x in r]) if r[0][k] is not None else float("nan")
                     for k in ("acc1", "acc2", "beat_f", "down_f")}
                print(f"  {style:10s} n={len(r):2d}  Acc1 {m['acc1']:.2f}  Acc2 {m['acc2']:.2f}  "
                      f"beat F {m['beat_f']:.2f}  down F {m['down_f']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
