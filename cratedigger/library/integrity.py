"""`Library.check`: compare rows with files, and put right what a killed process or a user left.

Finds rows whose file is gone or not the length the row says, files under audio/ that no row owns,
journal entries (`pending_files`) of adds and purges whose process died, and temp files of dead
writers. Repair never deletes audio that might be wanted: damaged and unreadable files go to
lost+found/, readable orphans become samples again, and the metadata of removed rows is saved.

It reaches the library only through `CheckedLibrary` (its folder, its `LibraryConnection`, and
`adopt_orphan`), so it never imports the store that calls it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile as sf

from cratedigger.audio.io import iter_blocks, read_audio
from cratedigger.errors import AudioFileError, LibraryError
from cratedigger.library import files
from cratedigger.library.connection import LibraryConnection
from cratedigger.library.db import LOST_AND_FOUND
from cratedigger.library.models import CheckReport
from cratedigger.library.rows import unpack_times


class CheckedLibrary(Protocol):
    """What checking and repairing need of a library (`store.Library` is one): its folder, its
    database, and a way to give an orphan file a row of its own (which needs the library's analyzer)."""

    root: Path
    connection: LibraryConnection

    def adopt_orphan(self, rel: str, audio: np.ndarray, sample_rate: int) -> int: ...


# No single write takes this long: a journal entry or temp file this old belongs to a dead writer.
STALE_AFTER_S = 3600.0


def mtime_or_zero(path: Path) -> float:
    """When `path` was last written (seconds since the epoch), 0 when it is gone or unreadable."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def check_library(lib: CheckedLibrary, *, repair: bool = False, deep: bool = False) -> CheckReport:
    """What is wrong (and with repair=True, what was fixed); see the module docstring.

    deep=True also hashes every file's audio against the stored content hash, so audio overwritten
    in place (same length, other sound) is found; it reads every file once.
    """
    integrity = "; ".join(r[0] for r in lib.connection.read("PRAGMA quick_check"))
    rows = lib.connection.read("SELECT id, path, frames, sample_rate, channels, content_hash FROM samples")
    pending = {r["path"]: r for r in lib.connection.read("SELECT path, op, pid, started FROM pending_files")}
    now = time.time()
    owned = {r["path"] for r in rows}

    missing: list[tuple[int, str]] = []
    changed: list[tuple[int, str]] = []
    for r in rows:
        if not _file_matches(lib, r):
            missing.append((int(r["id"]), r["path"]))
        elif deep and not _content_matches(lib, r):
            changed.append((int(r["id"]), r["path"]))
    # A writer is gone when its pid is; an entry older than STALE_AFTER_S is stale even if its pid
    # was reused (or belongs to another machine sharing the folder).
    interrupted = sorted(
        p for p, r in pending.items() if not files.pid_alive(int(r["pid"])) or now - r["started"] > STALE_AFTER_S
    )
    temps: list[str] = []
    orphans: list[str] = []
    for path in files.iter_audio_files(lib.root):
        rel = path.relative_to(lib.root).as_posix()
        if files.is_temp_name(path.name):
            pid = files.temp_owner_pid(path.name)
            if pid is None or not files.pid_alive(pid) or now - mtime_or_zero(path) > STALE_AFTER_S:
                temps.append(rel)
        elif rel not in owned and rel not in pending:
            orphans.append(rel)
    report = CheckReport(tuple(missing), tuple(sorted(orphans)), tuple(interrupted), tuple(sorted(temps)), integrity,
                         changed_files=tuple(changed), deep=deep)
    if not repair:
        return report
    return _repair(lib, report)


def _content_matches(lib: CheckedLibrary, row: sqlite3.Row) -> bool:
    """The file's decoded audio hashes to the stored content hash (read block by block)."""
    try:
        path = files.resolve_rel(lib.root, row["path"])
        digest = hashlib.sha256(f"{int(row['sample_rate'])}:{int(row['channels'])}:".encode())
        for block in iter_blocks(path):
            digest.update(np.ascontiguousarray(block, dtype="<f4").tobytes())
    except (LibraryError, AudioFileError, OSError):
        return False
    return digest.hexdigest() == row["content_hash"]


def _file_matches(lib: CheckedLibrary, row: sqlite3.Row) -> bool:
    """The row's file exists and its header says the rate, channels and length the row says."""
    try:
        path = files.resolve_rel(lib.root, row["path"])
        info = sf.info(str(path))
    except (LibraryError, RuntimeError, OSError, ValueError):
        return False
    return info.frames == row["frames"] and info.samplerate == row["sample_rate"] and info.channels == row["channels"]


def _repair(lib: CheckedLibrary, report: CheckReport) -> CheckReport:
    """Fix what `report` found, then check again; the new report says what is still wrong."""
    removed_temps: list[str] = []
    for rel in report.temp_files:
        files.remove_quietly(lib.root / rel)
        if not (lib.root / rel).exists():
            removed_temps.append(rel)
    finished: list[str] = []
    undeletable: list[str] = []
    for rel in report.interrupted:
        # An add that died before its row, or a purge that died after deleting its row:
        # either way no sample owns this file any more.
        target = files.resolve_rel(lib.root, rel)
        files.remove_quietly(target)
        if target.exists():  # a read-only folder: keep the journal entry, or the file would come back as "recovered"
            undeletable.append(rel)
            continue
        with lib.connection.transaction("finish an interrupted write") as conn:
            conn.execute("DELETE FROM pending_files WHERE path = ?", (rel,))
        finished.append(rel)
    damaged = (*report.missing_files, *report.changed_files)
    removed: list[int] = []
    if damaged:
        ids = [sid for sid, _ in damaged]
        saved = [
            {**dict(r), "beats": list(unpack_times(r["beats"] or b"")),
             "downbeats": list(unpack_times(r["downbeats"] or b""))}
            for r in lib.connection.read(
                "SELECT s.*, d.beats, d.downbeats, d.provenance, d.analysis FROM samples s "
                "LEFT JOIN sample_data d ON d.sample_id = s.id WHERE s.id IN (SELECT value FROM json_each(?))",
                (json.dumps(ids),),
            )
        ]
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        files.guard_write(
            "the removed rows' metadata",
            lambda: files.write_new_file(
                lib.root / LOST_AND_FOUND / f"rows-without-files-{stamp}-{os.getpid()}.json",
                json.dumps(saved, indent=2).encode(),
                overwrite=True,
            ),
        )
        with lib.connection.transaction("remove rows whose files are gone") as conn:
            conn.executemany("DELETE FROM samples WHERE id = ?", [(sid,) for sid in ids])
            conn.execute("DELETE FROM tags WHERE id NOT IN (SELECT tag_id FROM sample_tags)")
        removed = ids
    adopted: list[int] = []
    moved: list[str] = []
    for _sid, rel in damaged:
        # A damaged file (wrong length, or other audio than was stored) is kept for salvage, out of the library's way.
        with contextlib.suppress(LibraryError):
            if files.resolve_rel(lib.root, rel).is_file():
                _to_lost_and_found(lib, rel)
                moved.append(rel)
    for rel in report.orphan_files:
        path = lib.root / rel
        try:
            files.check_rel(rel)  # a name no row may hold (e.g. with ':') goes to lost+found too
            audio, sample_rate = read_audio(path)
        except (AudioFileError, LibraryError):
            _to_lost_and_found(lib, rel)
            moved.append(rel)
            continue
        adopted.append(lib.adopt_orphan(rel, audio, sample_rate))
    after = check_library(lib, deep=report.deep)
    return CheckReport(
        after.missing_files, after.orphan_files, after.interrupted, after.temp_files, after.integrity,
        changed_files=after.changed_files, deep=report.deep,
        repaired=True, adopted=tuple(adopted), moved_to_lost_found=tuple(moved), removed_rows=tuple(removed),
        removed_temps=tuple(removed_temps), finished_writes=tuple(finished), undeletable=tuple(undeletable),
    )


def _to_lost_and_found(lib: CheckedLibrary, rel: str) -> None:
    target = lib.root / LOST_AND_FOUND / rel
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(lib.root / rel), str(target))
    except OSError as exc:
        raise LibraryError(f"cannot move {rel} to {LOST_AND_FOUND}/: {files.describe_os_error(exc)}") from exc
