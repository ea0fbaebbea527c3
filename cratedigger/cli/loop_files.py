"""Loops as files for the commands that make them (`generate --cut`, `vary`, `extend`): one writer,
one sidecar layout, so a loop from any command reads the same on disk.

    path = write_loop_files(out, loop, stem="break_000_seed7", rate=44100, fields={...}, overwrite=False)

Whole bars get their tempo and bars in the name ("break_000_seed7_93bpm_2bar.wav") and acid/smpl
chunks; a loop without whole bars is written as it is, its name without a tempo, and its sidecar says
why. The sidecar holds the loop's origin (kind and provenance), as the library would store it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def loop_sidecar(loop: Any, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON beside a loop: the command's own `fields`, the loop's origin and its grid (or, without
    whole bars, why there are none). bpm and bars describe the audio as `loop` holds it."""
    sidecar = {**dict(fields or {}), "origin": loop.origin.kind, "provenance": dict(loop.origin.provenance)}
    if loop.has_whole_bars:
        sidecar.update(bpm=round(float(loop.bpm), 3), bars=int(loop.bars), beats_per_bar=int(loop.beats_per_bar))
    else:
        sidecar.update(bpm=None, bars=None, analysis_note=loop.note)
    return sidecar


def write_sidecar(path: Path, sidecar: Mapping[str, Any], *, overwrite: bool) -> Path:
    from cratedigger.audio.io import write_bytes_atomic

    return write_bytes_atomic(path, (json.dumps(dict(sidecar), indent=2) + "\n").encode(), overwrite=overwrite)


def write_loop_files(out: Path, loop: Any, *, stem: str, rate: int | None = None,
                     fields: Mapping[str, Any] | None = None, overwrite: bool = False) -> Path:
    """`loop` as a 16-bit WAV at `rate` Hz (default: its own) plus a JSON sidecar in `out`. Returns
    the WAV's path. A taken name gets a -2, -3... suffix unless `overwrite`."""
    from cratedigger.audio.io import fit_pcm, write_bytes_atomic
    from cratedigger.audio.resample import resample
    from cratedigger.clip_export import build_clip_wav
    from cratedigger.library.naming import format_bpm
    from cratedigger.library.riff import build_loop_wav

    rate = int(rate or loop.sample_rate)
    audio = resample(loop.audio, from_rate=loop.sample_rate, to_rate=rate)  # what the producer's project runs at
    audio = fit_pcm(audio)[0]
    sidecar = loop_sidecar(loop, fields)
    if loop.has_whole_bars:
        beats = loop.bars * loop.beats_per_bar
        bpm = beats * 60.0 * rate / audio.shape[0]  # from the written length, as a DAW reads it
        stem = f"{stem}_{format_bpm(bpm)}bpm_{loop.bars}bar"
        payload = build_loop_wav(audio, sample_rate=rate, bits=16, beats=beats, tempo=bpm,
                                 meter=(loop.beats_per_bar, 4))
        sidecar["bpm"] = round(bpm, 3)
    else:
        payload = build_clip_wav(audio, sample_rate=rate, bits=16)
    if not overwrite:
        stem = unique_stem(out, stem, (".wav", ".json"))
    wav = write_bytes_atomic(out / f"{stem}.wav", payload, overwrite=overwrite)
    sidecar.update(file=wav.name, duration=round(audio.shape[0] / rate, 6))
    write_sidecar(out / f"{stem}.json", sidecar, overwrite=overwrite)
    return wav


def unique_stem(out: Path, stem: str, suffixes: tuple[str, ...]) -> str:
    """`stem`, or stem-2, stem-3, ... : the first for which no file with any of `suffixes` exists."""
    candidate, n = stem, 1
    while any((out / f"{candidate}{s}").exists() for s in suffixes):
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def say_once(note: str, said: set[str]) -> None:
    """A loop's note (why it has no whole bars) on stderr, once per run however many loops share it."""
    if note and note not in said:
        said.add(note)
        print(f"cratedigger: {note}", file=sys.stderr, flush=True)
