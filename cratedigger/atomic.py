"""Crash-safe file writes, shared by the library, exports and every CLI output.

On Linux a file is written into an anonymous O_TMPFILE inode, fsynced, then linked into place under
its final name: killed at any instant, there is either no file at all or the complete one (the
kernel frees the anonymous inode). Elsewhere a hidden temp file `.tmp-<pid>-*` in the target folder
is fsynced and renamed; `sweep_stale_temps` removes those of dead processes.

New files get mode 0666 minus the umask, like any file a program creates (a DAW running as another
user must be able to read an export), not mkstemp's 0600.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

TEMP_PREFIX = ".tmp-"
_TEMP_NAME = re.compile(r"^\.tmp-(\d+)-")
# A temp file without a pid in its name (written by older versions) counts as abandoned after this.
LEGACY_TEMP_AGE_S = 600.0

# payload: the bytes, or write(fd) that writes them to an open file descriptor
Payload = bytes | Callable[[int], None]


def _fsync_path(path: str | os.PathLike) -> None:
    # Best effort: not every OS lets us open (or fsync) every path, a folder especially.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    # The new name is only durable once its directory entry is.
    _fsync_path(folder)


def _write_payload(fd: int, payload: Payload) -> None:
    if callable(payload):
        payload(fd)
    else:
        view = memoryview(payload)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    os.fsync(fd)


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask would race with other threads)
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def supports_tmpfile() -> bool:
    return hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")


def write_new_file(path: Path, payload: Payload, *, overwrite: bool = False) -> Path:
    """Write `payload` to `path` atomically and durably.

    overwrite=False: fail with FileExistsError when `path` exists (never clobbers; safe against races).
    overwrite=True: replace an existing file in one rename.
    Raises OSError for disk full, permissions and so on; leaves no partial file behind.
    """
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    if supports_tmpfile():
        try:
            fd = os.open(folder, os.O_TMPFILE | os.O_RDWR, 0o666)
        except OSError as exc:
            # Filesystems without O_TMPFILE say so in one of these ways; then use a named temp file.
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                raise
        else:
            try:
                _write_payload(fd, payload)
                _link_tmpfile(fd, path, overwrite=overwrite)
            finally:
                os.close(fd)
            fsync_dir(folder)
            return path
    _write_via_named_temp(path, payload, overwrite=overwrite)
    fsync_dir(folder)
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


def _write_via_named_temp(path: Path, payload: Payload, *, overwrite: bool) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=path.suffix, dir=path.parent)
    try:
        try:
            with contextlib.suppress(OSError):  # mkstemp makes 0600; give the umask's usual mode
                os.fchmod(fd, 0o666 & ~_umask())
            _write_payload(fd, payload)
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


def temp_is_abandoned(path: Path, *, now: float | None = None, max_age_s: float = 3600.0) -> bool:
    """A temp file whose writer is gone: its pid is dead, or it is older than any write takes.
    Names without a pid (older versions' mkstemp names) count once LEGACY_TEMP_AGE_S old."""
    now = time.time() if now is None else now
    try:
        age = now - path.stat().st_mtime
    except OSError:
        return False
    pid = temp_owner_pid(path.name)
    if pid is None:
        return age > LEGACY_TEMP_AGE_S
    return not pid_alive(pid) or age > max_age_s


def sweep_stale_temps(folder: Path) -> list[Path]:
    """Remove abandoned `.tmp-*` files (a killed write) directly in `folder`; returns what went."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if is_temp_name(entry.name) and entry.is_file(follow_symlinks=False):
            path = Path(entry.path)
            if temp_is_abandoned(path):
                remove_quietly(path)
                removed.append(path)
    return removed


def _fsync_tree(folder: Path) -> None:
    # A folder's files and its entries must be on disk before the rename publishes it.
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            _fsync_path(os.path.join(dirpath, name))
        fsync_dir(Path(dirpath))


def replace_folder(staging: Path, target: Path) -> None:
    """Move the fully written folder `staging` to `target` (model folders, datasets), durably.

    Its files are fsynced first and the parent folder after each rename. An existing `target` is set
    aside first and removed only after the new folder is in place, so a crash leaves the old or the
    new folder, never a half-written one.
    """
    import shutil

    staging, target = Path(staging), Path(target)
    _fsync_tree(staging)
    if target.exists():
        backup = target.with_name(f".{target.name}-old")
        shutil.rmtree(backup, ignore_errors=True)
        os.replace(target, backup)
        os.replace(staging, target)
        fsync_dir(target.parent)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(staging, target)
        fsync_dir(target.parent)


def publish_file(partial: Path, target: Path) -> Path:
    """Give a file written by someone else (sqlite's backup, a download) its final name durably:
    fsync it, rename it over `target`, fsync the folder."""
    partial, target = Path(partial), Path(target)
    fd = os.open(partial, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, target)
    fsync_dir(target.parent)
    return target
