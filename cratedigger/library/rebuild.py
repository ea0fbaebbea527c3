"""`rebuild_library`: a way out of a damaged library.db, from a backup and the audio files.

It opens the rebuilt library like any caller (`store.Library`) and repairs it with `Library.check`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from cratedigger.library import db
from cratedigger.library.integrity import mtime_or_zero
from cratedigger.library.models import CheckReport
from cratedigger.library.store import Library


def rebuild_library(root: Path) -> tuple[Path | None, Path | None, CheckReport]:
    """A way out of a damaged library.db: set it aside (in lost+found/), start again from the newest
    sound backup in backups/ (or an empty database), then `check --repair`: rows whose files are gone
    are dropped, files no row owns come back as samples (analysed again; their names, tags and
    ratings are those of the backup, or "recovered ..." for audio added after it).

    Returns (where the damaged database went, the backup used or None, the repair report).
    """
    root = Path(root).absolute()
    db_path = root / db.DB_NAME
    set_aside = None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    if db_path.exists():
        folder = root / db.LOST_AND_FOUND
        folder.mkdir(exist_ok=True)
        set_aside = folder / f"library-damaged-{stamp}.db"
        for suffix in ("", "-wal", "-shm"):
            part = db_path.with_name(db_path.name + suffix)
            if part.exists():
                os.replace(part, set_aside.with_name(set_aside.name + suffix))
    used = None
    for candidate in sorted((root / db.BACKUP_DIR).glob("*.db"), key=mtime_or_zero, reverse=True):
        try:
            src = sqlite3.connect(f"{candidate.absolute().as_uri()}?mode=ro", uri=True)
            try:
                if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                    continue
                dest = sqlite3.connect(db_path)
                try:
                    src.backup(dest)
                finally:
                    dest.close()
            finally:
                src.close()
        except sqlite3.Error:
            db_path.unlink(missing_ok=True)
            continue
        used = candidate
        break
    with Library.open(root) as lib:
        report = lib.check(repair=True)
    return set_aside, used, report
