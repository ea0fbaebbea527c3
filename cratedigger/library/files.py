"""Files in and out of the library, written so that a crash never leaves half a file.

On Linux a file is written into an anonymous O_TMPFILE inode, fsynced, then linked into place under
its final name: killed at any instant, there is either no file at all or the complete one (the
kernel frees the anonymous inode). Elsewhere, a hidden temp file `.tmp-<pid>-*` in the target folder
is fsynced and renamed; `Library.check` finds temp files of dead processes and `--repair` deletes them.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

import numpy as np
import soundfile as sf

from cratedigger.errors import LibraryError

AUDIO_DIR = "audio"
TEMP_PREFIX = ".tmp-"
_TEMP_NAME = re.compile(r"^\.tmp-(\d+)-")
# Stored files are float WAV: lossless for anything we decode (16/24-bit PCM, MP3, generated float).
STORE_SUBTYPE = "FLOAT"


def describe_os_error(exc: OSError) -> str:
    """A producer-readable reason for a failed write."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "the disk is full (or the file is too large for it)"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the folder is read-only or not writable by you"
    return exc.strerror or str(exc)


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


def _fsync_dir(folder: Path) -> None:
    # The new name is only durable once its directory entry is; not every OS lets us open a folder.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def _supports_tmpfile() -> bool:
    return hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")


def write_new_file(path: Path, payload: bytes, *, overwrite: bool = False) -> Path:
    """Write `payload` to `path` atomically and durably.

    overwrite=False: fail with FileExistsError when `path` exists (never clobbers; safe against races).
    overwrite=True: replace an existing file in one rename.
    Raises OSError for disk full, permissions and so on; leaves no partial file behind.
    """
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    if _supports_tmpfile():
        try:
            fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o644)
        except OSError as exc:
            # Filesystems without O_TMPFILE say so in one of these ways; then use a named temp file.
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                raise
        else:
            try:
                _write_all(fd, payload)
                _link_tmpfile(fd, path, overwrite=overwrite)
            finally:
                os.close(fd)
            _fsync_dir(folder)
            return path
    _write_via_named_temp(path, payload, overwrite=overwrite)
    _fsync_dir(folder)
    return path


def _link_tmpfile(fd: int, path: Path, *, overwrite: bool) -> None:
    source = f"/proc/self/fd/{fd}"
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        # A dir_fd makes Python call linkat(AT_SYMLINK_FOLLOW), which links the anonymous inode
        # itself; plain link() would try to link the /proc symlink and fail with EXDEV.
        if not overwrite:
            os.link(source, path.name, dst_dir_fd=dir_fd, follow_symlinks=True)  # EEXIST when taken
            return
        # linkat cannot replace, so link under a unique temp name and rename that over the target.
        for _ in range(100):
            tmp = f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}"
            try:
                os.link(source, tmp, dst_dir_fd=dir_fd, follow_symlinks=True)
            except FileExistsError:
                continue
            try:
                os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dir_fd)
                raise
            return
        raise OSError(errno.EEXIST, "could not find a free temporary name", str(path.parent))
    finally:
        os.close(dir_fd)


def _write_via_named_temp(path: Path, payload: bytes, *, overwrite: bool) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=path.suffix, dir=path.parent)
    try:
        try:
            _write_all(fd, payload)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, path)
        else:
            _rename_if_absent(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise


def _rename_if_absent(tmp: str, path: Path) -> None:
    """Give the complete temp file its real name, or raise FileExistsError when that name is taken."""
    try:
        os.link(tmp, path)  # atomic "create if absent"
    except FileExistsError:
        raise
    except OSError as exc:
        # FAT/exFAT sticks and some network shares have no hard links: look, then rename
        # (a tiny race with another writer, which such filesystems give no way to avoid).
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS):
            raise
        if path.exists():
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from exc
        os.rename(tmp, path)
        return
    remove_quietly(tmp)  # the complete file now has its real name; drop the temporary one


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


def remove_quietly(path: str | os.PathLike) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


def temp_owner_pid(name: str) -> int | None:
    match = _TEMP_NAME.match(name)
    return int(match.group(1)) if match else None


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


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
