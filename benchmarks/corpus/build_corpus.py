"""Build the analysis evaluation corpus: real recorded drum hits placed on exactly known beat grids.

Every clip is made of one-shot recordings from Debian's `hydrogen-drumkits` / `hydrogen-data` (real
acoustic and electronic kits, several velocity layers), placed by this script at the sample positions
of a known tempo, meter and groove, so the ground-truth tempo, beats and downbeats are exact. A few
clips are real drum loops from `lmms-common`, tiled; their tempo is the one implied by their exact
length as whole bars (see LMMS_LOOPS).

    python -m benchmarks.corpus.build_corpus [--out DIR] [--per-style N] [--seed S]

writes DIR/<name>.wav and DIR/<name>.json ({"bpm", "beats", "downbeats", "beats_per_bar", ...}) and
DIR/index.json. Default DIR: ~/.cache/cratedigger/analysis_corpus. Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

DRUMKITS = Path("/usr/share/hydrogen/data/drumkits")
LMMS_BEATS = Path("/usr/share/lmms/samples/beats")
DEFAULT_OUT = Path.home() / ".cache" / "cratedigger" / "analysis_corpus"
MIX_SR = 44100

# kit -> instrument -> glob of its one-shot files (several files = velocity layers / round robins).
KITS = {
    "GMRockKit": {"kick": "Kick-*.wav", "snare": "Snare-*.wav", "hat": "HatClosed-*.wav",
                  "ride": "Ride-*.wav", "pedal": "HatPedal-*.wav"},
    "TheBlackPearl": {"kick": "PearlKick-*.wav", "snare": "PearlSnare-*.wav", "hat": "SabianHatClosed-*.wav",
                      "ride": "PaisteRide-*.wav", "pedal": "SabianHatPedal-*.wav"},
    "Millo_MultiLayered2": {"kick": "bd_*.flac", "snare": "jsnare_*.flac", "hat": "hhclosed_*.flac",
                            "ride": "ride_*.flac", "pedal": "hhpedal_*.flac"},
    "Millo_MultiLayered3": {"kick": "bd_*.flac", "snare": "sd_*.flac", "hat": "hh_0*.flac",
                            "ride": "rc_*.flac", "pedal": "hh_p.flac"},
    "ColomboAcousticDrumkit": {"kick": "bassdrum-*.flac", "snare": "snare-opaque-*shot*.flac",
                               "hat": "hihat-closed-*.flac", "ride": "crash*ride[24].flac",
                               "pedal": "hihat-semi-open-*.flac"},
    "ForzeeStereo": {"kick": "Kick-*.wav", "snare": "Snare-*.wav", "hat": "HiHatClosed-*.wav",
                     "ride": "RideBow-*.wav", "pedal": "HiHatFoot-*.wav"},
    "BJA_Pacific": {"kick": "BD_0*.aiff", "snare": "SN_0*.aiff", "hat": "HH_0*.aiff",
                    "ride": "RD_0*.aiff", "pedal": "HH3_0*.aiff"},
    "VariBreaks": {"kick": "VP Kick *.flac", "snare": "VP Snare *.flac", "hat": "VP Hat * Cl.flac",
                   "ride": "VP Hat 1 Op.flac", "pedal": "VP Hat 1 Pd.flac"},
    "TR808EmulationKit": {"kick": "808_Kick_*.flac", "snare": "808_Snare_*.flac", "hat": "808_Hat_Closed.flac",
                          "ride": "808_Cymbal.flac", "pedal": "808_Hat_Pedal.flac"},
}
KIT_DIRS = {"TheBlackPearl": "The Black Pearl 1.0"}


@dataclass(frozen=True)
class Style:
    """A groove: hits per bar as (instrument, position in beats, velocity 0..1)."""

    name: str
    beats_per_bar: int
    bpm_range: tuple[float, float]
    hits: tuple[tuple[str, float, float], ...]


def _every(inst: str, step: float, n_beats: int, vel: float, accent: float | None = None) -> list:
    out = []
    for i in range(int(round(n_beats / step))):
        pos = i * step
        out.append((inst, pos, accent if (accent is not None and abs(pos - round(pos)) < 1e-9) else vel))
    return out


def _swung(inst: str, n_beats: int, vel: float, off: float = 2 / 3) -> list:
    return [h for b in range(n_beats) for h in ((inst, b, vel), (inst, b + off, vel * 0.7))]


T = 1 / 3
STYLES = [
    Style("rock", 4, (70, 140), tuple(_every("hat", 0.5, 4, 0.55, 0.8) + [
        ("kick", 0, 1.0), ("kick", 2, 0.9), ("kick", 2.5, 0.7), ("snare", 1, 1.0), ("snare", 3, 1.0)])),
    Style("slow16", 4, (60, 78), tuple(_every("hat", 0.25, 4, 0.4, 0.75) + [
        ("kick", 0, 1.0), ("kick", 1.75, 0.6), ("kick", 2.5, 0.9), ("snare", 1, 1.0), ("snare", 3, 1.0)])),
    Style("funk16", 4, (88, 118), tuple(_every("hat", 0.25, 4, 0.35, 0.7) + [
        ("kick", 0, 1.0), ("kick", 0.75, 0.7), ("kick", 2.5, 0.9), ("snare", 1, 1.0), ("snare", 1.75, 0.3),
        ("snare", 3, 1.0), ("snare", 3.25, 0.3)])),
    Style("boombap", 4, (80, 98), tuple(_every("hat", 0.5, 4, 0.5, 0.7) + [
        ("kick", 0, 1.0), ("kick", 0.75, 0.6), ("kick", 2.5, 0.9), ("kick", 2.75, 0.6),
        ("snare", 1, 1.0), ("snare", 3, 1.0)])),
    Style("amen", 4, (136, 176), tuple(_every("ride", 0.5, 4, 0.45, 0.6) + [
        ("kick", 0, 1.0), ("kick", 0.5, 0.9), ("snare", 1, 1.0), ("snare", 1.75, 0.5), ("snare", 2.25, 0.5),
        ("kick", 2.5, 0.9), ("snare", 3, 1.0), ("snare", 3.75, 0.5)])),
    Style("dnb", 4, (160, 200), tuple(_every("hat", 0.5, 4, 0.45, 0.6) + [
        ("kick", 0, 1.0), ("kick", 2.5, 0.9), ("snare", 1, 1.0), ("snare", 3, 1.0)])),
    # labelled at the fast tempo; the analyzer counts a bar whose one snare is on 3 at half that (the
    # snare on 2 and 4, as the issue-10 groove corpus writes slow grooves), so half of these now
    # read at the slow tempo: right by Acc2, wrong by Acc1
    Style("halftime", 4, (130, 175), tuple(_every("hat", 0.5, 4, 0.5, 0.7) + [
        ("kick", 0, 1.0), ("kick", 1.5, 0.7), ("snare", 2, 1.0), ("kick", 3.5, 0.6)])),
    Style("swung8", 4, (78, 112), tuple(_swung("hat", 4, 0.6) + [
        ("kick", 0, 1.0), ("kick", 1 + 2 * T, 0.7), ("kick", 2.5 + T / 2, 0.0), ("kick", 2, 0.8),
        ("snare", 1, 1.0), ("snare", 3, 1.0)])),
    Style("shuffle", 4, (90, 140), tuple(_swung("hat", 4, 0.6) + [
        ("kick", 0, 1.0), ("kick", 2, 0.9), ("kick", 2 + 2 * T, 0.6), ("snare", 1, 1.0), ("snare", 3, 1.0)])),
    Style("jazz", 4, (110, 200), tuple([
        ("ride", 0, 0.8), ("ride", 1, 0.8), ("ride", 1 + 2 * T, 0.5), ("ride", 2, 0.8), ("ride", 3, 0.8),
        ("ride", 3 + 2 * T, 0.5), ("pedal", 1, 0.6), ("pedal", 3, 0.6), ("kick", 0, 0.6),
        ("snare", 2 + 2 * T, 0.35)])),
    Style("waltz", 3, (84, 180), tuple(_every("hat", 0.5, 3, 0.5, 0.7) + [
        ("kick", 0, 1.0), ("snare", 1, 0.8), ("snare", 2, 0.8)])),
    # 6/8: the beat is the dotted quarter (2 per bar), each split in three eighths.
    Style("six8", 2, (52, 96), tuple(_every("hat", T, 2, 0.45, 0.7) + [
        ("kick", 0, 1.0), ("kick", 2 * T, 0.5), ("snare", 1, 1.0)])),
]

# Real loops from lmms-common: (file, bars in the file, beats per bar). Tempo = bars*beats*60/length.
# A loop is kept only if its onsets sit on the 16th-note grid that its length implies, starting at 0
# (verify_loop); of the eight candidates, 909beat01, break01 and electro_beat02 pass. The others
# (break02/03, electro_beat01, house_loop01, jungle01) have lead-in, tails or swing that make their
# tempo or phase uncertain, and an uncertain answer key is worse than a smaller corpus.
LMMS_LOOPS = [
    ("909beat01.ogg", 2, 4), ("break01.ogg", 1, 4), ("break02.ogg", 1, 4), ("break03.ogg", 1, 4),
    ("electro_beat01.ogg", 2, 4), ("electro_beat02.ogg", 1, 4), ("house_loop01.ogg", 1, 4),
    ("jungle01.ogg", 2, 4),
]


def verify_loop(audio: np.ndarray, sr: int, bars: int, beats_per_bar: int, *, tol: float = 0.025,
                min_fraction: float = 0.9) -> bool:
    """True when at least min_fraction of the loop's onsets lie within tol s of its 16th grid."""
    import librosa

    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    onsets = librosa.onset.onset_detect(y=mono, sr=sr, units="time", hop_length=256)
    if onsets.size < 4:
        return False
    step = mono.shape[0] / sr / (bars * beats_per_bar * 4)
    err = np.abs(onsets / step - np.round(onsets / step)) * step
    return bool(np.mean(err < tol) >= min_fraction)


def _load(path: Path) -> np.ndarray:
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    data = data[:, :2]
    if sr != MIX_SR:
        data = soxr.resample(data, sr, MIX_SR).astype(np.float32)
    return data / max(1e-6, float(np.max(np.abs(data))))


def load_kit(kit: str) -> dict[str, list[np.ndarray]]:
    folder = DRUMKITS / KIT_DIRS.get(kit, kit)
    out = {}
    for inst, pattern in KITS[kit].items():
        files = sorted(glob.glob(str(folder / pattern)))
        if not files:
            raise FileNotFoundError(f"{kit}: no {inst} samples match {pattern} (install hydrogen-drumkits)")
        out[inst] = [_load(Path(f)) for f in files]
    return out


def render_style(style: Style, kit: dict, *, bpm: float, n_bars: int, rng: np.random.Generator,
                 jitter_ms: float) -> tuple[np.ndarray, list[float], list[float]]:
    """Render n_bars of a style at bpm; returns (stereo [n, 2] at MIX_SR, beat times, downbeat times)."""
    spb = 60.0 / bpm
    bar_len = style.beats_per_bar * spb
    total = n_bars * bar_len
    out = np.zeros((int(np.ceil((total + 2.0) * MIX_SR)), 2), dtype=np.float32)
    for bar in range(n_bars):
        for inst, pos, vel in style.hits:
            if vel <= 0:
                continue
            layers = kit[inst]
            v = float(np.clip(vel * rng.uniform(0.85, 1.1), 0.05, 1.0))
            # louder hits pick a louder layer when the kit has several (files sorted soft..hard is not
            # guaranteed, so a random pick keeps the timbre varied instead)
            sample = layers[int(rng.integers(len(layers)))]
            t = bar * bar_len + pos * spb + rng.normal(0.0, jitter_ms / 1000.0)
            i = max(0, int(round(t * MIX_SR)))
            seg = sample[: out.shape[0] - i] * v
            out[i : i + seg.shape[0]] += seg
    beats = [k * spb for k in range(n_bars * style.beats_per_bar)]
    downbeats = [k * bar_len for k in range(n_bars)]
    return out, beats, downbeats


def _dusty(audio: np.ndarray, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Record-like treatment: gentle low-pass, soft saturation, hiss."""
    from scipy.signal import butter, sosfilt

    sos = butter(2, float(rng.uniform(5000, 9000)), btype="low", fs=sr, output="sos")
    y = sosfilt(sos, audio, axis=0)
    y = np.tanh(1.5 * y) / np.tanh(1.5)
    return (y + rng.normal(0, 0.004, y.shape)).astype(np.float32)


def _finish(audio: np.ndarray, beats: list[float], downbeats: list[float], *, start: float, length: float,
            sr: int, mono: bool) -> tuple[np.ndarray, list[float], list[float]]:
    i0, n = int(round(start * MIX_SR)), int(round(length * MIX_SR))
    seg = audio[i0 : i0 + n]
    if sr != MIX_SR:
        seg = soxr.resample(seg, MIX_SR, sr)
    if mono:
        seg = seg.mean(axis=1)
    seg = (0.9 * seg / max(1e-6, float(np.max(np.abs(seg))))).astype(np.float32)
    keep = lambda ts: [round(t - start, 6) for t in ts if start - 1e-9 <= t < start + length - 1e-9]  # noqa: E731
    return seg, keep(beats), keep(downbeats)


def build(out: Path, *, per_style: int = 8, seed: int = 440) -> list[dict]:
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    kits = {name: load_kit(name) for name in KITS}
    kit_names = sorted(kits)
    index = []
    for style in STYLES:
        lo, hi = style.bpm_range
        for k in range(per_style):
            # spread tempos evenly over the style's range, then jitter, so each range is covered
            bpm = round(float(lo + (hi - lo) * (k + rng.uniform(0.1, 0.9)) / per_style), 2)
            kit_name = kit_names[int(rng.integers(len(kit_names)))]
            live = k % 2 == 1
            bar_len = style.beats_per_bar * 60.0 / bpm
            kind = ("generated", "import", "long")[k % 3]
            if kind == "generated":  # like a model output: 5.94 s at 22.05 kHz mono, starts anywhere
                sr, mono, length = 22050, True, 5.944
                start = float(rng.uniform(0, bar_len))
            elif kind == "import":  # a loop cut to whole bars, 44.1 kHz stereo
                sr, mono = 44100, False
                bars = max(1, int(round(8.0 / bar_len)))
                bars = 1 << int(np.floor(np.log2(bars)))
                length, start = bars * bar_len, 0.0
            else:  # 10 s of a longer take, starting on a beat (not always the downbeat)
                sr, mono, length = 44100, bool(rng.integers(2)), 10.0
                start = float(rng.integers(style.beats_per_bar)) * 60.0 / bpm
            n_bars = int(np.ceil((start + length) / bar_len)) + 1
            audio, beats, downbeats = render_style(style, kits[kit_name], bpm=bpm, n_bars=n_bars, rng=rng,
                                                   jitter_ms=6.0 if live else 0.0)
            if rng.uniform() < 0.35:
                audio = _dusty(audio, rng, MIX_SR)
            seg, b, d = _finish(audio, beats, downbeats, start=start, length=length, sr=sr, mono=mono)
            name = f"{style.name}_{k:02d}_{bpm:g}bpm"
            meta = {"name": name, "source": "hydrogen-drumkits", "kit": kit_name, "style": style.name,
                    "bpm": bpm, "beats_per_bar": style.beats_per_bar, "kind": kind, "live": live,
                    "sample_rate": sr, "beats": b, "downbeats": d}
            index.append(_write(out, name, seg, sr, meta))
    for fname, bars, bpb in LMMS_LOOPS:
        data, sr = sf.read(str(LMMS_BEATS / fname), dtype="float32")
        if not verify_loop(data, sr, bars, bpb):
            continue
        loop_len = data.shape[0] / sr
        bpm = round(bars * bpb * 60.0 / loop_len, 3)
        reps = max(2, int(np.ceil(8.0 / loop_len)))
        seg = np.concatenate([data] * reps, axis=0)
        beats = [round(k * loop_len / (bars * bpb), 6) for k in range(reps * bars * bpb)]
        name = f"lmms_{Path(fname).stem}_{bpm:g}bpm"
        meta = {"name": name, "source": "lmms-common", "file": fname, "style": "loop", "bpm": bpm,
                "beats_per_bar": bpb, "kind": "loop", "live": True, "sample_rate": sr, "beats": beats,
                "downbeats": beats[::bpb]}
        index.append(_write(out, name, seg.astype(np.float32), sr, meta))
    (out / "index.json").write_text(json.dumps(index, indent=1))
    return index


def _write(out: Path, name: str, audio: np.ndarray, sr: int, meta: dict) -> dict:
    sf.write(str(out / f"{name}.wav"), audio, sr, subtype="PCM_16")
    (out / f"{name}.json").write_text(json.dumps(meta))
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("CRATEDIGGER_CORPUS", DEFAULT_OUT)))
    ap.add_argument("--per-style", type=int, default=8)
    ap.add_argument("--seed", type=int, default=440)
    args = ap.parse_args()
    index = build(args.out, per_style=args.per_style, seed=args.seed)
    print(f"wrote {len(index)} clips to {args.out}")


if __name__ == "__main__":
    main()
