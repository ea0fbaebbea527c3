"""A library folder's database as one object: opening it, a connection per thread, reads and
write transactions.

`LibraryConnection.open(root)` makes a new folder, refuses one that is not a library, brings the
schema up to date (`db.migrate`, a backup first) and, on a folder or disk we cannot write to, opens
the database read-only for browsing. Every thread that calls it gets its own SQLite connection (made
on first use); writes from any thread queue on SQLite's write lock. `close()` closes them all.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from cratedigger.errors import LibraryError
from cratedigger.library import db, files

# What a library folder may hold besides dot files; anything else means it is someone else's folder.
_KNOWN_ENTRIES = {
    db.DB_NAME, f"{db.DB_NAME}-wal", f"{db.DB_NAME}-shm", files.AUDIO_DIR, db.BACKUP_DIR, db.LOST_AND_FOUND,
}


class LibraryConnection:
    """The SQLite side of the library at `root` (an absolute folder). Open with `open`.

    read_only: True when the folder could not be written and the database was opened for browsing;
    then every `transaction` raises LibraryError. backups: what opening's migrations copied aside.
    """

    def __init__(self, root: Path, *, busy_timeout_s: float = 5.0, read_only: bool = False) -> None:
        self.root = root
        self.db_path = root / db.DB_NAME
        self.busy_timeout_s = busy_timeout_s
        self.read_only = read_only
        self.backups: tuple[Path, ...] = ()
        self._local = threading.local()
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(
        cls, root: Path, *, busy_timeout_s: float = 5.0, migrations: Sequence[db.Migration] = db.MIGRATIONS
    ) -> LibraryConnection:
        """Open (creating if needed) the database of the library folder `root`, migrated to the newest
        schema, or read-only when the folder cannot be written (it must be at that schema already)."""
        connection = cls(root, busy_timeout_s=busy_timeout_s)
        _prepare_root(root, connection.db_path)
        _refuse_empty_database(root, connection.db_path)
        try:
            conn = connection.for_this_thread()
        except LibraryError as exc:
            # A library on a read-only folder or medium, or on a full disk, can still be browsed and
            # exported from: reading needs no free space.
            if not connection.db_path.is_file() or (os.access(root, os.W_OK) and not db.is_full_or_failing(exc)):
                raise
            connection.read_only = True
            try:
                conn = connection.for_this_thread()
            except LibraryError:
                raise exc from None
        if connection.read_only:
            version, latest = db.schema_version(conn), migrations[-1].version
            if version != latest:
                connection.close()
                raise LibraryError(
                    f"{root}: the library folder is read-only and its database (schema {version}) "
                    f"needs schema {latest}; open it once from a writable location"
                )
            return connection
        try:
            connection.backups = tuple(db.migrate(conn, connection.db_path, migrations))
        except sqlite3.Error as exc:
            connection.close()
            raise db.translate(exc, connection.db_path, "open the library") from exc
        except BaseException:
            connection.close()
            raise
        db.rolling_backup(conn, connection.db_path)  # a way back when library.db is ever damaged
        return connection

    def for_this_thread(self) -> sqlite3.Connection:
        """The calling thread's own connection, made on first use."""
        if self._closed:
            raise LibraryError(f"{self.root}: the library is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.read_only:
                conn = db.connect_read_only(self.db_path)
            else:
                conn = db.connect(self.db_path, busy_timeout_s=self.busy_timeout_s)
            self._local.conn = conn
            with self._conns_lock:
                self._all_conns.append(conn)
        return conn

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Every row of one statement; SQLite's errors come back as one readable LibraryError."""
        try:
            return self.for_this_thread().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise db.translate(exc, self.db_path, "read the library") from exc

    def transaction(self, action: str) -> AbstractContextManager[sqlite3.Connection]:
        """`with connection.transaction("tag the sample") as conn:` one write transaction (db.transaction);
        `action` names it in the error a failure raises."""
        if self.read_only:
            raise LibraryError(f"{self.root}: cannot {action}: the library folder is read-only (browsing only)")
        return db.transaction(self.for_this_thread(), self.db_path, action)

    def close(self) -> None:
        """Close every connection this object opened (from any thread); later use raises LibraryError."""
        self._closed = True
        with self._conns_lock:
            conns, self._all_conns = self._all_conns, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()


def _prepare_root(root: Path, db_path: Path) -> None:
    if root.exists() and not root.is_dir():
        raise LibraryError(f"{root}: is a file, not a library folder")
    if db_path.exists():
        return
    if root.is_dir():
        stray = [p.name for p in root.iterdir() if not p.name.startswith(".") and p.name not in _KNOWN_ENTRIES]
        if stray:
            raise LibraryError(
                f"{root}: not a CrateDigger library (no {db.DB_NAME}) and not empty "
                f"(holds {', '.join(sorted(stray)[:3])}...); choose an empty or new folder"
            )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LibraryError(f"{root}: cannot create the library folder: {files.describe_os_error(exc)}") from exc


def _refuse_empty_database(root: Path, db_path: Path) -> None:
    """A 0-byte library.db beside audio or backups lost its contents: damaged, not a new library.
    (A new library's schema may sit in the WAL before the first checkpoint, so that counts too.)"""
    try:
        if db_path.stat().st_size > 0:
            return
    except OSError:
        return
    wal = db_path.with_name(db_path.name + "-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        return
    has_audio = next(iter(files.iter_audio_files(root)), None) is not None
    has_backups = (root / db.BACKUP_DIR).is_dir() and any((root / db.BACKUP_DIR).glob("*.db"))
    if has_audio or has_backups:
        reason = db.damaged_reason(db_path, "the database file is empty (0 bytes) but the library holds audio")
        raise LibraryError(f"{db_path}: cannot open the library: {reason}")
