"""Export a clip "as is": the whole audio as a plain PCM WAV, no tempo chunks.

For what has no whole bars (a one-shot, a loop whose tempo was not found): a DAW gets the sound
and no claim about its tempo. Named `{name}.wav`, written atomically, levels fitted like loops.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from cratedigger.audio.io import validate_audio
from cratedigger.errors import BadParameterError
from cratedigger.library import files, riff
from cratedigger.library.export import EXPORT_BITS, MAX_PEAK, check_export_options, ensure_export_folder, resample
from cratedigger.library.naming import sanitise_stem


def clip_names(name: str, *, suffix: str = ".wav") -> Iterable[str]:
    """`{name}.wav`, then `{name}-2.wav`, ... (the stem made safe on every OS)."""
    base = sanitise_stem(name)
    yield f"{base}{suffix}"
    n = 2
    while True:
        yield f"{base}-{n}{suffix}"
        n += 1


def build_clip_wav(audio: np.ndarray, *, sample_rate: int, bits: int = 16) -> bytes:
    """A whole plain WAV in memory (fmt + data only). audio: float32 [n] or [n, ch]."""
    audio = validate_audio(audio, sample_rate=sample_rate, what="clip audio")
    if bits not in EXPORT_BITS:
        raise BadParameterError(f"bits must be 16 or 24, got {bits!r}")
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > MAX_PEAK:  # turn down rather than clip, as loop exports do
        audio = (audio * (MAX_PEAK / peak)).astype(np.float32)
    channels = 1 if audio.ndim == 1 else int(audio.shape[1])
    chunks = riff.fmt_chunk(sample_rate=int(sample_rate), channels=channels, bits=bits) + riff.chunk(
        b"data", riff.quantise(audio, bits=bits))
    if len(chunks) + 4 > 0xFFFFFFFF:
        raise BadParameterError("clip is too long for a WAV file (over 4 GiB)")
    return b"RIFF" + struct.pack("<I", len(chunks) + 4) + b"WAVE" + chunks


def export_clip(audio: np.ndarray, *, sample_rate: int, name: str, folder: str | os.PathLike,
                rate: int | None = None, bits: int = 16) -> Path:
    """Write the whole clip into `folder` under a free name; returns the path."""
    check_export_options(rate=rate, bits=bits)
    folder = Path(folder).expanduser()
    audio, out_rate = resample(np.asarray(audio, dtype=np.float32), sample_rate=sample_rate, rate=rate)
    payload = build_clip_wav(audio, sample_rate=out_rate, bits=bits)
    return files.guard_write(f"into {folder}", lambda: files.write_unique(ensure_export_folder(folder), clip_names(name), payload))


def write_clip(path: str | os.PathLike, audio: np.ndarray, *, sample_rate: int, bits: int = 16) -> Path:
    """Write the whole clip to exactly `path` (replacing it): drag files."""
    path = Path(path)
    payload = build_clip_wav(audio, sample_rate=sample_rate, bits=bits)
    return files.guard_write(str(path), lambda: files.write_new_file(path, payload, overwrite=True))

