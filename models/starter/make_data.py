"""Training data for the built-in `starter` model: drum breaks rendered from free material in Debian.

    python models/starter/make_data.py --out DIR [--clips 2400] [--heldout 96] [--seed 0] [--jobs 2]

writes DIR/train/*.wav and DIR/heldout/*.wav (mono, 22.05 kHz, 6 s: one 5.94 s model slice each,
starting on beat 1) and DIR/manifest.jsonl, one line per clip: split, source, licence, style, bpm,
beats, downbeats, the mix chain and the seed. The held-out split is rendered from its own seeds and
is never given to training; benchmarks/starter_quality.py compares generated candidates with it.
Deterministic for a given seed.

Three sources, all under free licences (see LICENCES below and the model card):
- recorded one-shot kits of `hydrogen-drumkits` / `hydrogen-data`, placed sample-exactly on the
  grooves below (what `h2cli` would play from a pattern, with per-hit humanising it cannot do);
- General MIDI drum kits of `fluid-soundfont-gm` played by `fluidsynth` from MIDI written with mido;
- the drum loops of `lmms-common`, tiled, with their tempo taken from their exact length.
Every clip then goes through a random mix chain built from `pedalboard` (compression, saturation,
EQ and filters, room or plate reverb, chorus as tape wow, bit crushing) plus a little noise.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SR = 22050
CLIP_SECONDS = 6.0  # covers one 256-frame slice at hop 512 (5.94 s) with a little tail
DRUMKITS = Path("/usr/share/hydrogen/data/drumkits")
LMMS_BEATS = Path("/usr/share/lmms/samples/beats")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")

# kit folder -> (licence from the Debian package's copyright file, instrument -> globs of its layers)
KITS: dict[str, tuple[str, dict[str, str]]] = {
    "GMRockKit": ("GPL-2+ (hydrogen-data)", {
        "kick": "Kick-*.wav", "snare": "Snare-*.wav", "hat": "HatClosed-*.wav", "open": "HatOpen-*.wav",
        "ride": "Ride-*.wav", "crash": "Crash-*.wav", "tom": "Tom*-*.wav", "clap": "HandClap.wav"}),
    "TR808EmulationKit": ("GPL-2+ (hydrogen-data)", {
        "kick": "808_Kick_*.flac", "snare": "808_Snare_*.flac", "hat": "808_Hat_Closed.flac",
        "open": "808_Hat_Open.flac", "ride": "808_Cymbal.flac", "crash": "808_Cymbal.flac",
        "tom": "808_Tom_*.flac", "clap": "808_Clap.flac"}),
    "The Black Pearl 1.0": ("GPL-2 (Glen MacArthur)", {
        "kick": "PearlKick-*.wav", "snare": "PearlSnare-*.wav", "hat": "SabianHatClosed-*.wav",
        "open": "SabianHatOpen-*.wav", "ride": "PaisteRide-*.wav", "crash": "SabianCrash-*.wav",
        "tom": "PearlTom*-*.wav", "clap": "HandClap.wav"}),
    "Millo_MultiLayered2": ("GPL-2 (Emiliano Grilli)", {
        "kick": "bd_*.flac", "snare": "jsnare_*.flac", "hat": "hhclosed_*.flac", "open": "hhopen_*.flac",
        "ride": "ride_*.flac", "crash": "crash_*.flac", "tom": "*tom_*.flac", "clap": "clap_*.flac"}),
    "Millo_MultiLayered3": ("GPL-2 (Emiliano Grilli)", {
        "kick": "bd_*.flac", "snare": "sd_*.flac", "hat": "hh_0*.flac", "ride": "rc_*.flac"}),
    "ColomboAcousticDrumkit": ("GPL-2+ with composition exception (Marcos Guglielmetti)", {
        "kick": "bassdrum-*.flac", "snare": "snare-opaque-*shot*.flac", "hat": "hihat-closed-*.flac",
        "open": "hihat-open-*.flac", "ride": "crash*ride[24].flac", "crash": "crash*__crash*.flac",
        "tom": "tom-*.flac"}),
    "ForzeeStereo": ("GPL-2 (Vladimir Sadovnikov, Alexander Belokurov)", {
        "kick": "Kick-*.wav", "snare": "Snare-*.wav", "hat": "HiHatClosed-*.wav", "open": "HiHatOpen-*.wav",
        "ride": "RideBow-*.wav", "crash": "Crash18-*.wav", "tom": "Tom*-*.wav"}),
    "BJA_Pacific": ("CC-BY-SA-3.0-us (Luc Tunguay)", {
        "kick": "BD_0*.aiff", "snare": "SN_0*.aiff", "hat": "HH_0*.aiff", "ride": "RD_0*.aiff"}),
    "VariBreaks": ("GPL-2+ (Artemiy Pavlov)", {
        "kick": "VP Kick *.flac", "snare": "VP Snare *.flac", "hat": "VP Hat * Cl.flac",
        "open": "VP Hat 1 Op.flac", "ride": "VP Hat 1 Op.flac", "tom": "VP Tom *.flac"}),
}
LMMS_LICENCE = "GPL-2+ (lmms-common)"
SOUNDFONT_LICENCE = "MIT (fluid-soundfont-gm, FluidR3_GM)"
# (file, bars, beats per bar): their tempo is bars * beats * 60 / length
LMMS_LOOPS = [("909beat01.ogg", 2, 4), ("break01.ogg", 1, 4), ("break02.ogg", 1, 4), ("break03.ogg", 1, 4),
              ("electro_beat01.ogg", 2, 4), ("electro_beat02.ogg", 1, 4), ("house_loop01.ogg", 1, 4),
              ("jungle01.ogg", 2, 4)]
GM_NOTES = {"kick": 36, "snare": 38, "hat": 42, "open": 46, "ride": 51, "crash": 49, "tom": 45, "clap": 39}
GM_KITS = [0, 8, 16, 24, 25, 32, 40]  # Standard, Room, Power, Electronic, TR-808, Jazz, Brush


# --- grooves ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Groove:
    name: str
    bpm: tuple[float, float]
    swing: tuple[float, float]  # delay of the off 16ths, as a fraction of a 16th
    hats: str  # "8", "16", "4off" (off-beat open hats) or "ride"


GROOVES = [
    Groove("funk", (88, 112), (0.0, 0.25), "16"),
    Groove("soul", (76, 100), (0.1, 0.4), "8"),
    Groove("boombap", (80, 98), (0.15, 0.5), "8"),
    Groove("hiphop", (84, 100), (0.0, 0.3), "16"),
    Groove("amen", (130, 150), (0.0, 0.1), "8"),
    Groove("jungle", (160, 178), (0.0, 0.05), "8"),
    Groove("breakbeat", (120, 140), (0.0, 0.15), "16"),
    Groove("dnb", (165, 178), (0.0, 0.05), "8"),
    Groove("house", (118, 128), (0.0, 0.15), "4off"),
    Groove("disco", (110, 124), (0.0, 0.1), "4off"),
    Groove("halftime", (70, 90), (0.0, 0.3), "16"),
    Groove("shuffle", (80, 120), (0.66, 0.66), "8"),  # triplet feel: off 8ths land on the third triplet
]

# Kick and snare cells per style over one bar, in 16ths (0..15); ghost snares added separately.
CELLS = {
    "funk": ([[0, 6, 10], [0, 3, 10, 13], [0, 7, 10]], [[4, 12]]),
    "soul": ([[0, 8, 10], [0, 7, 8]], [[4, 12]]),
    "boombap": ([[0, 3, 10], [0, 7, 9], [0, 10, 11]], [[4, 12]]),
    "hiphop": ([[0, 8, 11], [0, 6, 8]], [[4, 12], [4, 12, 15]]),
    "amen": ([[0, 2, 10, 11], [0, 2, 10]], [[4, 7, 9, 12, 15], [4, 7, 9, 14]]),
    "jungle": ([[0, 2, 10, 11], [0, 10], [0, 6, 10]], [[4, 7, 9, 12, 15], [4, 12], [4, 9, 12, 14]]),
    "breakbeat": ([[0, 6, 10], [0, 10, 11]], [[4, 12], [4, 12, 14]]),
    "dnb": ([[0, 10], [0, 6, 10], [0, 11]], [[4, 12]]),
    "house": ([[0, 4, 8, 12]], [[4, 12]]),
    "disco": ([[0, 4, 8, 12]], [[4, 12]]),
    "halftime": ([[0, 3, 14], [0, 6], [0, 10, 11]], [[8]]),
    "shuffle": ([[0, 8], [0, 6, 8]], [[4, 12]]),
}


def bar_hits(groove: Groove, bar: int, bars: int, rng: np.random.Generator) -> list[tuple[str, float, float]]:
    """(instrument, position in beats within the bar, velocity 0..1) for one bar of a phrase."""
    kicks, snares = CELLS[groove.name]
    k = kicks[rng.integers(len(kicks))] if bar % 2 else kicks[0]
    s = snares[rng.integers(len(snares))] if bar % 2 else snares[0]
    hits: list[tuple[str, float, float]] = []
    fill = bar == bars - 1 and bars > 1 and rng.random() < 0.6
    for p in k:
        hits.append(("kick", p / 4, rng.uniform(0.75, 1.0)))
    for p in s:
        hits.append(("clap" if groove.name in ("house", "disco") and rng.random() < 0.5 else "snare",
                     p / 4, rng.uniform(0.8, 1.0)))
    if groove.name in ("funk", "soul", "boombap", "hiphop", "breakbeat", "halftime", "shuffle", "amen"):
        # ghost notes: quiet snares on 16ths that carry nothing else
        taken = set(k) | set(s)
        for p in range(16):
            if p not in taken and p % 2 and rng.random() < 0.3:
                hits.append(("snare", p / 4, rng.uniform(0.12, 0.3)))
    if groove.hats == "16":
        hits += [("hat", p / 4, 0.55 if p % 4 == 0 else rng.uniform(0.25, 0.45)) for p in range(16)]
    elif groove.hats == "8":
        inst = "ride" if rng.random() < 0.2 else "hat"
        hits += [(inst, p / 2, 0.6 if p % 2 == 0 else rng.uniform(0.3, 0.5)) for p in range(8)]
    else:  # four on the floor: closed 16ths quiet, open hat on the off-beats
        hits += [("open", b + 0.5, rng.uniform(0.5, 0.7)) for b in range(4)]
        hits += [("hat", p / 4, rng.uniform(0.15, 0.3)) for p in range(16) if p % 2 and rng.random() < 0.5]
    if fill:
        # the last beat (or two) becomes a snare/tom run, crescendo; hats drop out under it
        start = 12 if rng.random() < 0.6 else 8
        hits = [h for h in hits if h[1] * 4 < start or h[0] == "kick"]
        for i, p in enumerate(range(start, 16)):
            inst = "tom" if rng.random() < 0.4 else "snare"
            hits.append((inst, p / 4, 0.5 + 0.5 * i / (16 - start)))
    if bar == 0 and rng.random() < 0.35:
        hits.append(("crash", 0.0, rng.uniform(0.6, 0.9)))
    return hits


def arrange(groove: Groove, bpm: float, seconds: float, rng: np.random.Generator):
    """Hits in seconds for a clip starting on beat 1, humanised; with its beats and downbeats."""
    beat = 60.0 / bpm
    bars = int(np.ceil(seconds / (4 * beat))) + 1
    phrase = 4 if rng.random() < 0.6 else 2
    swing = rng.uniform(*groove.swing)
    sixteenth = beat / 4
    jitter = rng.uniform(0.002, 0.009)  # s: a drummer's timing spread
    events = []
    for bar in range(bars):
        for inst, pos, vel in bar_hits(groove, bar % phrase, phrase, rng):
            step = round(pos * 4)
            t = (bar * 4 + pos) * beat
            if step % 2 and groove.name == "shuffle":
                t += (2 / 3 - 0.5) * 2 * sixteenth  # 8th-note triplet shuffle
            elif step % 2:
                t += swing * sixteenth
            t += rng.normal(0, jitter) if t > 0 else abs(rng.normal(0, jitter / 2))
            events.append((inst, max(t, 0.0), float(np.clip(vel + rng.normal(0, 0.06), 0.05, 1.0))))
    beats = [b * beat for b in range(bars * 4) if b * beat < seconds]
    return events, beats, beats[::4]


# --- rendering ----------------------------------------------------------------------------------------

def load_kit(folder: str) -> dict[str, list[np.ndarray]]:
    """instrument -> its one-shot layers as mono float32 at SR, quietest first."""
    _, globs = KITS[folder]
    kit = {}
    for inst, pattern in globs.items():
        layers = []
        for path in sorted(glob.glob(str(DRUMKITS / folder / pattern))):
            data, sr = sf.read(path, dtype="float32", always_2d=True)
            mono = data.mean(axis=1)
            if sr != SR:
                mono = soxr.resample(mono, sr, SR)
            mono = mono[: int(2.5 * SR)]
            if mono.size and np.abs(mono).max() > 0:
                layers.append(mono.astype(np.float32))
        if layers:
            kit[inst] = sorted(layers, key=lambda x: float(np.sqrt(np.mean(x[: SR // 10] ** 2))))
    return kit


def render_kit(kit, events, seconds: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(int(seconds * SR) + SR, np.float32)
    for inst, t, vel in sorted(events, key=lambda e: e[1]):
        name = inst if inst in kit else {"clap": "snare", "open": "hat", "tom": "snare", "crash": "ride",
                                         "ride": "hat"}.get(inst, inst)
        if name not in kit:
            continue
        layers = kit[name]
        layer = layers[min(len(layers) - 1, int(vel * len(layers)))] if len(layers) > 1 else layers[0]
        gain = vel ** 1.3 * (0.6 if name in ("hat", "open", "ride") else 1.0)
        start = int(t * SR)
        if start >= out.size:
            continue
        seg = layer[: out.size - start] * gain
        out[start: start + seg.size] += seg
    return out[: int(seconds * SR)]


def render_gm(events, seconds: float, program: int, workdir: Path) -> np.ndarray:
    import mido

    mid = mido.MidiFile(ticks_per_beat=960)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500000))  # 120 BPM: 1 beat = 0.5 s, ticks = s * 1920
    track.append(mido.Message("program_change", channel=9, program=program, time=0))
    msgs = []
    for inst, t, vel in events:
        note = GM_NOTES[inst] + (int(t * 7) % 3) * 2 if inst == "tom" else GM_NOTES[inst]
        msgs.append((t, "note_on", note, max(1, int(vel * 127))))
        msgs.append((t + 0.08, "note_off", note, 0))
    now = 0
    for t, kind, note, vel in sorted(msgs, key=lambda m: (m[0], m[1] == "note_on")):
        tick = int(round(t * 1920))
        track.append(mido.Message(kind, channel=9, note=note, velocity=vel, time=tick - now))
        now = tick
    mid_path, wav_path = workdir / "clip.mid", workdir / "clip.wav"
    mid.save(str(mid_path))
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.8", "-r", str(SR), "-F", str(wav_path),
                    str(SOUNDFONT), str(mid_path)], check=True, capture_output=True)
    data, _ = sf.read(str(wav_path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    need = int(seconds * SR)
    return np.pad(mono, (0, max(0, need - mono.size)))[:need]


def render_lmms(name: str, bars: int, bpb: int, seconds: float, rng: np.random.Generator):
    data, sr = sf.read(str(LMMS_BEATS / name), dtype="float32", always_2d=True)
    mono = soxr.resample(data.mean(axis=1), sr, SR) if sr != SR else data.mean(axis=1)
    length = data.shape[0] / sr
    bpm = bars * bpb * 60.0 / length
    # vary the tempo a little with a real stretcher, so the model does not learn eight fixed tempi
    factor = float(rng.uniform(0.9, 1.1))
    from pedalboard import time_stretch

    mono = time_stretch(mono[None, :].astype(np.float32), SR, stretch_factor=factor)[0]
    bpm *= factor
    reps = int(np.ceil(seconds * SR / mono.size)) + 1
    audio = np.tile(mono, reps)[: int(seconds * SR)]
    beat = 60.0 / bpm
    beats = [b * beat for b in range(int(seconds / beat) + 1) if b * beat < seconds]
    return audio.astype(np.float32), bpm, beats, beats[::bpb]


def mix_chain(rng: np.random.Generator):
    """A random pedalboard chain and its description for the manifest."""
    import pedalboard as pb

    plugins, names = [], []
    if rng.random() < 0.7:
        plugins.append(pb.Compressor(threshold_db=float(rng.uniform(-30, -10)), ratio=float(rng.uniform(2, 8)),
                                     attack_ms=float(rng.uniform(1, 20)), release_ms=float(rng.uniform(50, 250))))
        names.append("compressor")
    if rng.random() < 0.4:
        plugins.append(pb.Distortion(drive_db=float(rng.uniform(2, 14))))
        names.append("saturation")
    if rng.random() < 0.6:
        plugins.append(pb.PeakFilter(cutoff_frequency_hz=float(rng.uniform(80, 4000)),
                                     gain_db=float(rng.uniform(-6, 6)), q=float(rng.uniform(0.5, 2))))
        names.append("eq")
    if rng.random() < 0.35:
        plugins.append(pb.LowpassFilter(cutoff_frequency_hz=float(rng.uniform(2500, 9000))))
        names.append("lowpass")
    if rng.random() < 0.3:
        plugins.append(pb.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(30, 200))))
        names.append("highpass")
    if rng.random() < 0.45:
        plugins.append(pb.Reverb(room_size=float(rng.uniform(0.1, 0.6)), wet_level=float(rng.uniform(0.05, 0.25)),
                                 dry_level=1.0, damping=float(rng.uniform(0.3, 0.8))))
        names.append("reverb")
    if rng.random() < 0.2:
        plugins.append(pb.Chorus(rate_hz=float(rng.uniform(0.3, 1.5)), depth=0.05, mix=0.3, centre_delay_ms=3))
        names.append("wow")
    if rng.random() < 0.15:
        plugins.append(pb.Bitcrush(bit_depth=float(rng.uniform(8, 12))))
        names.append("bitcrush")
    return pb.Pedalboard(plugins), names


def finish(audio: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    board, names = mix_chain(rng)
    peak = np.abs(audio).max()
    audio = audio / peak * 0.5 if peak > 0 else audio
    out = board(audio[None, :].astype(np.float32), SR)[0]
    if rng.random() < 0.3:  # tape/vinyl hiss
        out = out + rng.normal(0, 10 ** (rng.uniform(-60, -42) / 20), out.size).astype(np.float32)
        names.append("noise")
    peak = np.abs(out).max()
    out = out / peak * rng.uniform(0.7, 0.95) if peak > 0 else out
    return out.astype(np.float32), names


# --- one clip -----------------------------------------------------------------------------------------

def plan(count: int, heldout: int, seed: int) -> list[dict]:
    """What each clip is made of, decided up front so the splits never share a seed."""
    rng = np.random.default_rng(seed)
    jobs = []
    for i in range(count + heldout):
        r = rng.random()
        source = "kit" if r < 0.72 else ("gm" if r < 0.9 else "lmms")
        jobs.append({"index": i, "split": "heldout" if i >= count else "train", "source": source,
                     "seed": int(rng.integers(2**31))})
    return jobs


_KIT_CACHE: dict[str, dict] = {}


def make_clip(job: dict, out: Path) -> dict:
    rng = np.random.default_rng(job["seed"])
    meta: dict = {"split": job["split"]}
    if job["source"] == "lmms":
        name, bars, bpb = LMMS_LOOPS[int(rng.integers(len(LMMS_LOOPS)))]
        audio, bpm, beats, downbeats = render_lmms(name, bars, bpb, CLIP_SECONDS, rng)
        meta.update(source=f"lmms-common:samples/beats/{name}", licence=LMMS_LICENCE, style="loop")
    else:
        groove = GROOVES[int(rng.integers(len(GROOVES)))]
        bpm = float(rng.uniform(*groove.bpm))
        events, beats, downbeats = arrange(groove, bpm, CLIP_SECONDS, rng)
        meta["style"] = groove.name
        if job["source"] == "gm":
            program = GM_KITS[int(rng.integers(len(GM_KITS)))]
            with tempfile.TemporaryDirectory() as tmp:
                audio = render_gm(events, CLIP_SECONDS, program, Path(tmp))
            meta.update(source=f"fluid-soundfont-gm:FluidR3_GM.sf2 drum program {program}",
                        licence=SOUNDFONT_LICENCE)
        else:
            folder = sorted(KITS)[int(rng.integers(len(KITS)))]
            if folder not in _KIT_CACHE:
                _KIT_CACHE[folder] = load_kit(folder)
            audio = render_kit(_KIT_CACHE[folder], events, CLIP_SECONDS, rng)
            meta.update(source=f"hydrogen-drumkits:{folder}", licence=KITS[folder][0])
    audio, chain = finish(audio, rng)
    name = f"{job['split']}/{job['index']:05d}_{meta['style']}_{bpm:.0f}bpm.wav"
    sf.write(str(out / name), audio, SR, subtype="PCM_16")
    meta.update(file=name, bpm=round(bpm, 3), beats_per_bar=4, beats=[round(b, 4) for b in beats],
                downbeats=[round(b, 4) for b in downbeats], mix=chain, seed=job["seed"])
    return meta


def _worker(args):
    job, out = args
    return make_clip(job, Path(out))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--clips", type=int, default=2400, help="training clips")
    p.add_argument("--heldout", type=int, default=96, help="held-out clips, never trained on")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    for tool, path in (("fluidsynth", shutil.which("fluidsynth")), ("FluidR3_GM.sf2", SOUNDFONT.exists() or None),
                       ("hydrogen drum kits", DRUMKITS.is_dir() or None), ("lmms loops", LMMS_BEATS.is_dir() or None)):
        if not path:
            print(f"make_data: {tool} is missing (install.sh installs it)", file=sys.stderr)
            return 2
    for split in ("train", "heldout"):
        (args.out / split).mkdir(parents=True, exist_ok=True)
    jobs = plan(args.clips, args.heldout, args.seed)
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool, \
            open(args.out / "manifest.jsonl", "w") as manifest:
        for n, meta in enumerate(pool.map(_worker, [(j, str(args.out)) for j in jobs], chunksize=16), 1):
            manifest.write(json.dumps(meta) + "\n")
            if n % 200 == 0 or n == len(jobs):
                print(f"{n}/{len(jobs)} clips", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
