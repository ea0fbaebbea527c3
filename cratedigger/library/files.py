"""Files in and out of the library, written so that a crash never leaves half a file.

The writes themselves are cratedigger.atomic's (O_TMPFILE, or a `.tmp-<pid>-*` file renamed into
place); `Library.check` finds temp files of dead processes and `--repair` deletes them.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

import numpy as np
import soundfile as sf

from cratedigger import atomic
from cratedigger.audio.io import describe_write_error
from cratedigger.errors import LibraryError

AUDIO_DIR = "audio"
TEMP_PREFIX = atomic.TEMP_PREFIX
# Stored files are float WAV: lossless for anything we decode (16/24-bit PCM, MP3, generated float).
STORE_SUBTYPE = "FLOAT"


# One wording for a failed write, library or not (audio.io says it for every CLI output).
describe_os_error = describe_write_error


def new_rel_path(uid: str) -> str:
    """Stable stored name: audio/<2 hex>/<uid>.wav, POSIX text relative to the library root."""
    return str(PurePosixPath(AUDIO_DIR, uid[:2], f"{uid}.wav"))


def new_uid() -> str:
    return uuid.uuid4().hex


def check_rel(rel: str) -> str:
    """Refuse a stored relative path that could leave the library root (a tampered database)."""
    if not rel or rel.startswith("/") or "\\" in rel or ":" in rel or ".." in rel.split("/"):
        raise LibraryError(f"stored path {rel!r} points outside the library; run `check`")
    return rel


def resolve_rel(root: Path, rel: str) -> Path:
    """Absolute path of a stored relative path, refusing anything that would leave the root."""
    return root.joinpath(*PurePosixPath(check_rel(rel)).parts)


def content_hash(audio: np.ndarray, sample_rate: int) -> str:
    """SHA-256 of the decoded float32 frames plus rate and channel count, so the same audio in
    another container (a WAV and its FLAC) is recognised as the same sample."""
    arr = np.ascontiguousarray(audio, dtype="<f4")
    channels = 1 if arr.ndim == 1 else arr.shape[1]
    digest = hashlib.sha256(f"{int(sample_rate)}:{channels}:".encode())
    digest.update(arr.tobytes())
    return digest.hexdigest()


def encode_wav(audio: np.ndarray, *, sample_rate: int, subtype: str = STORE_SUBTYPE) -> bytes:
    """float32 [n] or [n, ch] -> WAV bytes (float by default, lossless for the library copy)."""
    buf = io.BytesIO()
    sf.write(buf, audio, int(sample_rate), subtype=subtype, format="WAV")
    return buf.getvalue()


def write_new_file(path: Path, payload: atomic.Payload, *, overwrite: bool = False) -> Path:
    """Write `payload` (bytes, or write(fd)) to `path` atomically; see cratedigger.atomic."""
    return atomic.write_new_file(path, payload, overwrite=overwrite)


def write_unique(folder: Path, names: Iterable[str], payload: bytes) -> Path:
    """Write `payload` under the first name from `names` that is free in `folder`; returns the path."""
    name = "?"
    for attempt, name in enumerate(names):
        if attempt > 10_000:
            break
        target = folder / name
        if target.exists():
            continue
        try:
            return write_new_file(target, payload)
        except FileExistsError:
            continue  # taken between our look and our link: try the next name
    raise LibraryError(f"{folder}: no free file name left for {name!r}")


remove_quietly = atomic.remove_quietly
is_temp_name = atomic.is_temp_name
temp_owner_pid = atomic.temp_owner_pid
pid_alive = atomic.pid_alive


def iter_audio_files(root: Path) -> Iterable[Path]:
    """Every regular file under <root>/audio, temp files included."""
    base = root / AUDIO_DIR
    if not base.is_dir():
        return
    for dirpath, _dirnames, filenames in os.walk(base):
        for name in filenames:
            yield Path(dirpath, name)


def guard_write(what: str, action: Callable[[], Path]) -> Path:
    """Run a file write, turning OSErrors into one clear LibraryError."""
    try:
        return action()
    except OSError as exc:
        raise LibraryError(f"cannot write {what}: {describe_os_error(exc)}") from exc
