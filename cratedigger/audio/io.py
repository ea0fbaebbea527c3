"""Read and write audio files. Writes are atomic: temp file in the target folder, fsync, rename.

Audio arrays are float32, shaped [n_samples] (mono) or [n_samples, channels]; the sample rate always
travels with them and nothing is resampled unless asked.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from cratedigger.errors import AudioFileError, BadParameterError

PCM_SUBTYPES = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}


def validate_audio(audio: np.ndarray, *, sample_rate: int, what: str = "audio") -> np.ndarray:
    """Return `audio` as float32 [n] or [n, ch]; raise AudioFileError for empty or non-finite data."""
    if sample_rate is None or int(sample_rate) <= 0:
        raise BadParameterError(f"{what}: sample rate must be positive, got {sample_rate!r}")
    arr = np.asarray(audio)
    if arr.ndim not in (1, 2):
        raise AudioFileError(f"{what}: expected [samples] or [samples, channels], got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.size == 0:
        raise AudioFileError(f"{what}: holds no samples")
    arr = arr.astype(np.float32, copy=False)
    if not np.all(np.isfinite(arr)):
        raise AudioFileError(f"{what}: contains NaN or infinite samples")
    return arr


def read_audio(path: str | os.PathLike, *, always_2d: bool = False) -> tuple[np.ndarray, int]:
    """Read any file libsndfile reads. Returns (float32 [n] or [n, ch], sample rate Hz)."""
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioFileError(f"{path}: not a readable audio file ({exc})") from exc
    if data.shape[0] == 0:
        raise AudioFileError(f"{path}: holds no audio")
    if not always_2d and data.shape[1] == 1:
        data = data[:, 0]
    return validate_audio(data, sample_rate=sr, what=str(path)), int(sr)


def write_audio_atomic(
    path: str | os.PathLike,
    audio: np.ndarray,
    *,
    sample_rate: int,
    bits: int = 16,
    fmt: str = "WAV",
) -> Path:
    """Write audio to `path` through a temp file in the same folder, fsynced, then renamed into place.

    A crash at any instant leaves either the old file or the complete new one, never half a file.
    """
    if bits not in PCM_SUBTYPES:
        raise BadParameterError(f"bits must be one of {sorted(PCM_SUBTYPES)}, got {bits}")
    audio = validate_audio(audio, sample_rate=sample_rate)
    return _write_atomic(
        path, lambda handle: sf.write(handle, audio, int(sample_rate), subtype=PCM_SUBTYPES[bits], format=fmt)
    )


def write_bytes_atomic(path: str | os.PathLike, payload: bytes) -> Path:
    """Write raw bytes atomically (temp file, fsync, rename)."""
    return _write_atomic(path, lambda handle: handle.write(payload))


def _write_atomic(path: str | os.PathLike, write) -> Path:
    """write(handle) into a temp file beside `path`, fsync, rename over `path`; no temp file survives a failure."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix or ".wav", dir=path.parent)
    except OSError as exc:
        raise AudioFileError(f"{path.parent}: cannot write here ({exc.strerror or exc})") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        _remove_quietly(tmp_name)
        raise AudioFileError(f"{path}: write failed ({exc.strerror or exc})") from exc
    except BaseException:
        _remove_quietly(tmp_name)
        raise
    return path


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass
