"""Chop a drum loop into its hits and write a kit that replays it: hit WAVs, a MIDI file, SFZ and
Decent Sampler instruments.

    chopped = chop_loop(audio, sample_rate=sr, bpm=93.4, sensitivity=0.5)
    kit = write_kit(chopped, "~/Kits", name="dusty", bpm=90)   # -> ~/Kits/dusty_90bpm_kit/

Hits are found at onsets (spectral flux), moved to the sample where the attack starts, and kept one
per 16th-note step of the grid (the strongest onset of a step wins; an onset far from every step is
not a hit of its own and stays inside the hit before it). Each hit runs to the next one, with a
0.5 ms fade in and a 5 ms fade out. The MIDI file places every note at its hit's own position, not
at the quantised step, so the kit played through it replays the break as it was (within a tick:
0.7 ms at 90 BPM); its tempo is the loop's or the project's (`bpm`), the ticks are the same.
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from cratedigger.audio.dsp import to_mono
from cratedigger.audio.io import validate_audio
from cratedigger.errors import AnalysisError, BadParameterError, LibraryError

STEPS_PER_BEAT = 4  # the grid is 1/16 notes in 4/4
HOP = 128  # onset envelope hop in samples (5.8 ms at 22.05 kHz); attacks are then found to the sample
FADE_IN_MS = 0.5
FADE_OUT_MS = 5.0
PREROLL_MS = 1.0  # the cut sits this far before the attack so its first wavefront is kept whole
MIN_HIT_MS = 15.0
FIRST_NOTE = 36  # C1: General MIDI's kick, where drum pads start in most DAWs
TICKS_PER_BEAT = 960
VELOCITY = 100  # the samples carry the dynamics: the instruments ignore velocity (veltrack 0)


@dataclass(frozen=True, eq=False)
class Hit:
    """One hit: `audio` float32 [n] or [n, ch], cut at frame `start` of the loop; `step` is its
    16th-note step counted from the grid origin; `strength` its onset strength (0-1)."""

    start: int
    step: int
    strength: float
    audio: np.ndarray


@dataclass(frozen=True, eq=False)
class ChoppedLoop:
    """A loop cut into hits. `frames` is the loop's length; `bpm` its tempo."""

    hits: tuple[Hit, ...]
    sample_rate: int
    bpm: float
    frames: int

    @property
    def beats(self) -> float:
        return self.frames / self.sample_rate * self.bpm / 60.0


def chop_loop(
    audio: np.ndarray,
    *,
    sample_rate: int,
    bpm: float,
    origin: float = 0.0,
    sensitivity: float = 0.5,
    grid_tolerance: float = 0.45,
) -> ChoppedLoop:
    """Cut `audio` (float32 [n] or [n, ch], `sample_rate` Hz, a loop at `bpm`) into hits.

    origin: seconds of the grid's first step (a downbeat). sensitivity 0-1: higher finds quieter
    hits (0.5 suits most breaks). grid_tolerance: how far from a 16th step (in steps, 0-0.5) an onset
    may be and still start a hit. Raises AnalysisError when no hit is found.
    """
    audio = validate_audio(audio, sample_rate=sample_rate, what="loop audio")
    if isinstance(bpm, bool) or not isinstance(bpm, (int, float)) or not math.isfinite(bpm) or not 1 <= bpm <= 999:
        raise BadParameterError(f"bpm must be 1-999, got {bpm!r}")
    if isinstance(sensitivity, bool) or not isinstance(sensitivity, (int, float)) or not 0.0 <= sensitivity <= 1.0:
        raise BadParameterError(f"sensitivity must be 0-1, got {sensitivity!r}")
    if not 0.0 < grid_tolerance <= 0.5:
        raise BadParameterError(f"grid_tolerance must be above 0 and at most 0.5 steps, got {grid_tolerance!r}")
    mono = to_mono(audio)
    step_s = 60.0 / bpm / STEPS_PER_BEAT
    chosen: dict[int, tuple[int, float]] = {}
    for attack, strength in find_attacks(mono, sample_rate=sample_rate, sensitivity=sensitivity):
        position = (attack / sample_rate - origin) / step_s
        step = int(round(position))
        if abs(position - step) > grid_tolerance:
            continue
        if step not in chosen or strength > chosen[step][1]:
            chosen[step] = (attack, strength)
    if not chosen:
        raise AnalysisError("no hits found (silence, or nothing above the sensitivity): no kit to make")
    preroll = int(round(PREROLL_MS * sample_rate / 1000))
    starts = sorted((max(0, a - preroll), step, s) for step, (a, s) in chosen.items())
    min_len = int(MIN_HIT_MS * sample_rate / 1000)
    kept: list[tuple[int, int, float]] = []
    for start, step, strength in starts:  # two steps' onsets closer than a flam: one hit
        if kept and start - kept[-1][0] < min_len:
            continue
        kept.append((start, step, strength))
    hits = []
    for i, (start, step, strength) in enumerate(kept):
        end = kept[i + 1][0] if i + 1 < len(kept) else audio.shape[0]
        hits.append(Hit(start, step, strength, _fade(audio[start:end], sample_rate=sample_rate)))
    return ChoppedLoop(tuple(hits), int(sample_rate), float(bpm), int(audio.shape[0]))


def find_attacks(
    mono: np.ndarray, *, sample_rate: int, sensitivity: float = 0.5, loop: bool = True
) -> list[tuple[int, float]]:
    """(frame where the attack starts, strength 0-1) of every onset in `mono` (float32 [n]).

    loop=True: the clip is a loop, so what precedes its first frame is its own end (a hit on the
    downbeat is then an onset like any other, not lost against the silence before the file)."""
    if float(np.max(np.abs(mono))) < 1e-4:  # -80 dBFS: nothing a producer would call a hit
        return []
    envelope, pad = onset_envelope(mono, sample_rate=sample_rate, loop=loop)
    top = float(envelope.max())
    if top <= 1e-9:
        return []
    envelope = envelope / top
    # sensitivity 1 -> a peak 2% of the loudest onset above its surroundings counts; 0 -> 40%.
    delta = 0.02 + (1.0 - sensitivity) * 0.38
    wait = max(1, int(0.03 * sample_rate / HOP))
    out: list[tuple[int, float]] = []
    last = -wait
    for f in range(2, envelope.size - 2):
        e = envelope[f]
        if e < envelope[f - 2:f + 3].max() or e - envelope[max(0, f - 10):f + 11].mean() < delta or f - last < wait:
            continue
        last = f
        at = f * HOP - pad
        if at >= -2 * HOP and at < mono.size:  # the first frames see a downbeat at 0 from the wrap
            out.append((_attack_start(mono, max(0, at), sample_rate=sample_rate), float(e)))
    return out


def onset_envelope(mono: np.ndarray, *, sample_rate: int, loop: bool = True) -> tuple[np.ndarray, int]:
    """Spectral flux on log magnitudes (1024-point frames every HOP samples), with a 3-bin maximum
    filter over frequency so a drum's wobble in pitch is not read as a new onset (SuperFlux's idea).
    Returns (envelope [frames], samples of padding before the clip's first frame)."""
    n_fft = 1024
    pad = n_fft
    head = mono[-pad:] if loop and mono.size >= pad else np.zeros(pad, np.float32)
    x = np.concatenate([head, mono, np.zeros(n_fft, np.float32)]).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::HOP] * np.hanning(n_fft).astype(np.float32)
    mag = np.log1p(100.0 * np.abs(np.fft.rfft(frames, axis=1)))
    widened = np.maximum(np.maximum(mag, np.roll(mag, 1, axis=1)), np.roll(mag, -1, axis=1))
    flux = np.maximum(mag[1:] - widened[:-1], 0.0).sum(axis=1)
    # frame f+1 of `frames` starts at (f+1)*HOP; its attack shows mid-window: report the window centre
    env = np.concatenate([[0.0], flux])
    return env, pad - n_fft // 2


def _attack_start(mono: np.ndarray, near: int, *, sample_rate: int) -> int:
    """The frame where the hit at about `near` starts: the peak of the next 20 ms, then back to where
    the trailing 10 ms envelope last sat within 10% of the rise above the quietest point before that peak
    (the flux frame can be a hop off, and the previous hit's tail may still ring)."""
    lo = max(0, near - int(0.015 * sample_rate))
    hi = min(mono.size, near + int(0.02 * sample_rate))
    seg = np.abs(mono[lo:hi])
    if seg.size == 0:
        return near
    win = max(1, int(0.01 * sample_rate))  # trailing: holds over a kick's slow cycles, rises at once
    env = _moving_max(seg, win)
    peak_at = int(np.argmax(env))
    floor_at = int(np.argmin(env[:peak_at + 1]))  # the quietest point before it: the previous tail's end
    threshold = env[floor_at] + 0.1 * (env[peak_at] - env[floor_at])
    below = np.nonzero(env[floor_at:peak_at + 1] < threshold)[0]
    start = floor_at + (int(below[-1]) + 1 if below.size else 0)
    return lo + start


def _moving_max(x: np.ndarray, win: int) -> np.ndarray:
    if win <= 1 or x.size < win:
        return x
    view = np.lib.stride_tricks.sliding_window_view(np.pad(x, (win - 1, 0)), win)
    return view.max(axis=1)


def _fade(audio: np.ndarray, *, sample_rate: int) -> np.ndarray:
    out = np.array(audio, dtype=np.float32, copy=True)
    n_in = min(out.shape[0] // 4, int(round(FADE_IN_MS * sample_rate / 1000)))
    n_out = min(out.shape[0] // 2, int(round(FADE_OUT_MS * sample_rate / 1000)))
    for n, sl, rising in ((n_in, slice(0, n_in), True), (n_out, slice(out.shape[0] - n_out, None), False)):
        if n < 1:
            continue
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)
        if not rising:
            ramp = ramp[::-1]
        out[sl] *= ramp[:, None] if out.ndim == 2 else ramp
    return out


# -- the kit ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kit:
    """Paths of a written kit (all inside `folder`)."""

    folder: Path
    midi: Path
    sfz: Path
    dspreset: Path
    hits: tuple[Path, ...]
    bpm: float


def note_of(index: int, count: int) -> int:
    """MIDI note of hit `index` of `count`: from C1 up, lower when there are more than C1..G9 holds."""
    if count > 128:
        raise BadParameterError(f"{count} hits do not fit 128 MIDI notes; lower the sensitivity")
    return min(FIRST_NOTE, 128 - count) + index


def write_kit(
    chopped: ChoppedLoop, folder: str | os.PathLike, *, name: str, bpm: float | None = None, bits: int = 24
) -> Kit:
    """Write the kit as `folder/{name}_{bpm}bpm_kit/` (a free name: -2, -3... when taken): `hits/*.wav`,
    `{name}.mid` at `bpm` (default: the loop's), `{name}.sfz`, `{name}.dspreset`.

    Built in a temporary folder beside it and renamed into place: a failure leaves no kit, never half
    of one. A kit with no hits is refused.
    """
    from cratedigger.library import files
    from cratedigger.library.naming import format_bpm, sanitise_stem

    if not chopped.hits:
        raise AnalysisError("no hits to write: no kit made")
    if bits not in (16, 24):
        raise BadParameterError(f"bits must be 16 or 24, got {bits!r}")
    out_bpm = chopped.bpm if bpm is None else bpm
    if isinstance(out_bpm, bool) or not isinstance(out_bpm, (int, float)) or not math.isfinite(out_bpm) \
            or not 1 <= out_bpm <= 999:
        raise BadParameterError(f"kit tempo must be 1-999 BPM, got {out_bpm!r}")
    stem = sanitise_stem(name, fallback="kit")
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # mkdir, not mkdtemp: the kit folder keeps the user's umask (mkdtemp would make it private)
        staging = folder / f"{files.TEMP_PREFIX}{os.getpid()}-kit-{uuid.uuid4().hex[:12]}"
        staging.mkdir()
    except OSError as exc:
        raise LibraryError(f"cannot write a kit into {folder}: {files.describe_os_error(exc)}") from exc
    try:
        hit_names = [f"hits/{stem}_{i + 1:02d}.wav" for i in range(len(chopped.hits))]
        (staging / "hits").mkdir()
        subtype = "PCM_24" if bits == 24 else "PCM_16"
        for hit, rel in zip(chopped.hits, hit_names):
            files.write_new_file(staging / rel, files.encode_wav(_fit(hit.audio), sample_rate=chopped.sample_rate,
                                                                 subtype=subtype))
        files.write_new_file(staging / f"{stem}.mid", midi_bytes(chopped, bpm=out_bpm, name=stem))
        files.write_new_file(staging / f"{stem}.sfz", sfz_text(chopped, hit_names, name=stem).encode("utf-8"))
        files.write_new_file(staging / f"{stem}.dspreset", dspreset_text(chopped, hit_names).encode("utf-8"))
        target = _move_into_place(staging, folder, f"{stem}_{format_bpm(out_bpm)}bpm_kit")
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise LibraryError(f"cannot write a kit into {folder}: {files.describe_os_error(exc)}") from exc
        raise
    return Kit(target, target / f"{stem}.mid", target / f"{stem}.sfz", target / f"{stem}.dspreset",
               tuple(target / rel for rel in hit_names), float(out_bpm))


def _move_into_place(staging: Path, folder: Path, base: str) -> Path:
    for n in range(1, 10_000):
        target = folder / (base if n == 1 else f"{base}-{n}")
        if target.exists():
            continue
        try:
            os.rename(staging, target)  # atomic; fails rather than merge into a folder made meanwhile
        except OSError:
            if target.exists():
                continue
            raise
        return target
    raise LibraryError(f"{folder}: no free folder name left for {base!r}")


def _fit(audio: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return audio * (0.999 / peak) if peak > 0.999 else audio


def midi_bytes(chopped: ChoppedLoop, *, bpm: float, name: str = "kit") -> bytes:
    """A type-0 MIDI file replaying the loop from its hits at `bpm`, one note per hit, lasting
    exactly the loop (the end-of-track sits on the loop's last tick, so a DAW loops it cleanly)."""
    import io

    import mido

    beats_per_frame = chopped.bpm / 60.0 / chopped.sample_rate
    count = len(chopped.hits)
    events: list[tuple[int, int, mido.Message]] = []
    for i, hit in enumerate(chopped.hits):
        on = int(round(hit.start * beats_per_frame * TICKS_PER_BEAT))
        off = max(on + 1, int(round((hit.start + hit.audio.shape[0]) * beats_per_frame * TICKS_PER_BEAT)))
        note = note_of(i, count)
        events.append((on, 1, mido.Message("note_on", note=note, velocity=VELOCITY, channel=9)))
        events.append((off, 0, mido.Message("note_off", note=note, velocity=0, channel=9)))
    events.sort(key=lambda e: (e[0], e[1]))  # at one tick, note-offs before note-ons
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    now = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    end = max(now, int(round(chopped.frames * beats_per_frame * TICKS_PER_BEAT)))
    track.append(mido.MetaMessage("end_of_track", time=end - now))
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    buf = io.BytesIO()
    midi.save(file=buf)
    return buf.getvalue()


def sfz_text(chopped: ChoppedLoop, hit_names: list[str], *, name: str) -> str:
    """An SFZ instrument: one region per hit on its own key, one-shot, velocity ignored, one voice per key."""
    lines = [
        f"// {name}: {len(hit_names)} hits chopped from a {chopped.bpm:.2f} BPM loop; play {name}.mid through it",
        "<control>",
        "default_path=./",
        "<global>",
        "loop_mode=one_shot",
        "amp_veltrack=0",
        "pitch_keytrack=0",
    ]
    for i, rel in enumerate(hit_names):
        note = note_of(i, len(hit_names))
        lines.append(f"<region> sample={rel} key={note} pitch_keycenter={note}")
    return "\n".join(lines) + "\n"


def dspreset_text(chopped: ChoppedLoop, hit_names: list[str]) -> str:
    """A Decent Sampler preset: one zone per hit; the amp envelope off so each plays to its end."""
    root = ElementTree.Element("DecentSampler", minVersion="1.0.0")
    groups = ElementTree.SubElement(root, "groups")
    group = ElementTree.SubElement(groups, "group", ampVelTrack="0", pitchKeyTrack="0", trigger="attack")
    for i, rel in enumerate(hit_names):
        note = str(note_of(i, len(hit_names)))
        ElementTree.SubElement(group, "sample", path=rel, rootNote=note, loNote=note, hiNote=note,
                               loopEnabled="false", ampEnvEnabled="false")
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


__all__ = ["ChoppedLoop", "Hit", "Kit", "chop_loop", "dspreset_text", "find_attacks", "midi_bytes", "note_of",
           "sfz_text", "write_kit"]
