"""Read and write audio files. Writes are atomic (cratedigger.atomic): complete or absent, never half.

Audio arrays are float32, shaped [n_samples] (mono) or [n_samples, channels]; the sample rate always
travels with them and nothing is resampled unless asked. Long recordings are read in blocks
(`iter_blocks`, `read_audio(start=, frames=)`) so that nothing holds a whole record in memory.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from cratedigger import atomic
from cratedigger.audio.validate import validate_audio  # noqa: F401  (the one check; callers import it from here too)
from cratedigger.errors import AudioFileError, BadParameterError

PCM_SUBTYPES = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}
# Leaves a hair of headroom so full-scale float audio does not hit the top PCM code.
MAX_PCM_PEAK = 0.999
BLOCK_FRAMES = 1 << 18  # ~6 s at 44.1 kHz per block when streaming


def check_readable(path: str | os.PathLike) -> Path:
    """Say plainly why `path` cannot be read as audio: missing, a folder, a pipe or device, no permission.

    Checked before libsndfile opens it: it would block on a FIFO and calls EACCES "System error.".
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise AudioFileError(f"{path}: no such file") from None
    except PermissionError:
        raise AudioFileError(f"{path}: permission denied (cannot look into its folder)") from None
    except OSError as exc:
        raise AudioFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioFileError(f"{path}: is a folder, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        raise AudioFileError(f"{path}: is not a regular file (a pipe, socket or device); give an audio file")
    if not os.access(path, os.R_OK):
        raise AudioFileError(f"{path}: permission denied (the file is not readable by you)")
    return path


@dataclass(frozen=True)
class AudioInfo:
    frames: int
    sample_rate: int
    channels: int
    subtype: str

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Frames, rate, channels and subtype from the header, without decoding the audio."""
    path = check_readable(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioFileError(f"{path}: not a readable audio file ({exc})") from exc
    if info.frames <= 0 or info.samplerate <= 0 or info.channels <= 0:
        raise AudioFileError(f"{path}: holds no audio")
    return AudioInfo(int(info.frames), int(info.samplerate), int(info.channels), str(info.subtype))


def read_audio(
    path: str | os.PathLike, *, always_2d: bool = False, start: int = 0, frames: int = -1
) -> tuple[np.ndarray, int]:
    """Read any file libsndfile reads. Returns (float32 [n] or [n, ch], sample rate Hz).

    start/frames: read only that span (frames -1: to the end), for long recordings.
    """
    path = check_readable(path)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True, start=int(start), frames=int(frames))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioFileError(f"{path}: not a readable audio file ({exc})") from exc
    if data.shape[0] == 0:
        raise AudioFileError(f"{path}: holds no audio" if start == 0 else f"{path}: no audio from frame {start}")
    if not always_2d and data.shape[1] == 1:
        data = data[:, 0]
    return validate_audio(data, sample_rate=sr, what=str(path)), int(sr)


def iter_blocks(
    path: str | os.PathLike, *, block_frames: int = BLOCK_FRAMES, start: int = 0, stop: int | None = None
) -> Iterator[np.ndarray]:
    """float32 [n, ch] blocks of the file from `start` to `stop` (exclusive; None: the end)."""
    path = check_readable(path)
    try:
        with sf.SoundFile(str(path)) as handle:
            if start:
                handle.seek(int(start))
            remaining = (handle.frames if stop is None else min(int(stop), handle.frames)) - int(start)
            while remaining > 0:
                block = handle.read(min(block_frames, remaining), dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                remaining -= block.shape[0]
                yield block
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioFileError(f"{path}: not a readable audio file ({exc})") from exc


def fit_pcm(audio: np.ndarray) -> tuple[np.ndarray, float]:
    """Turn audio peaking above full scale down to fit PCM, rather than clip it (clipped drum
    transients crackle). Returns (audio, gain applied, 1.0 when untouched)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= MAX_PCM_PEAK:
        return audio, 1.0
    gain = MAX_PCM_PEAK / peak
    return (audio * gain).astype(np.float32), gain


def encode_audio(audio: np.ndarray, *, sample_rate: int, bits: int = 16, fmt: str = "WAV") -> bytes:
    """The whole file in memory. PCM is turned down (fit_pcm) when it would clip; float is kept."""
    if bits not in PCM_SUBTYPES:
        raise BadParameterError(f"bits must be one of {sorted(PCM_SUBTYPES)}, got {bits}")
    audio = validate_audio(audio, sample_rate=sample_rate)
    if bits != 32:
        audio, _ = fit_pcm(audio)
    buf = io.BytesIO()
    sf.write(buf, audio, int(sample_rate), subtype=PCM_SUBTYPES[bits], format=fmt)
    return buf.getvalue()


def write_audio_atomic(
    path: str | os.PathLike,
    audio: np.ndarray,
    *,
    sample_rate: int,
    bits: int = 16,
    fmt: str = "WAV",
    overwrite: bool = True,
) -> Path:
    """Write audio to `path` atomically; audio above full scale is turned down for PCM (never clipped).

    overwrite=False raises AudioFileError when `path` exists.
    """
    return write_bytes_atomic(path, encode_audio(audio, sample_rate=sample_rate, bits=bits, fmt=fmt), overwrite=overwrite)


def write_bytes_atomic(path: str | os.PathLike, payload: bytes, *, overwrite: bool = True) -> Path:
    """Write raw bytes atomically. The bytes are made in memory first, so a full disk is one
    OSError here (no soundfile callbacks printing tracebacks), turned into one AudioFileError."""
    path = Path(path)
    atomic.sweep_stale_temps(path.parent)  # what a killed earlier run left in this folder
    try:
        return atomic.write_new_file(path, payload, overwrite=overwrite)
    except FileExistsError:
        raise AudioFileError(f"{path}: already exists (pass --overwrite to replace it)") from None
    except OSError as exc:
        raise AudioFileError(f"{path}: write failed ({describe_write_error(exc)})") from exc


def describe_write_error(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "the disk is full (or the file is too large for it)"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the folder is read-only or not writable by you"
    return exc.strerror or str(exc)


def check_writable_target(path: str | os.PathLike, *, overwrite: bool = False, folder: bool = False) -> Path:
    """Before long work: can `path` (a file, or a folder when folder=True) be written? One clear error if not."""
    path = Path(path)
    if folder:
        if path.exists() and not path.is_dir():
            raise BadParameterError(f"--out {path} is a file, not a folder")
        probe = path
    else:
        if path.is_dir():
            raise BadParameterError(f"--out {path} is a folder; give a file name")
        if path.exists() and not overwrite:
            raise BadParameterError(f"--out {path} already exists; pass --overwrite to replace it")
        probe = path.parent
    while not probe.exists():  # the nearest existing folder must let us create what is missing
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise BadParameterError(f"--out {path}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BadParameterError(f"--out {path}: {probe} is not writable by you")
    return path
