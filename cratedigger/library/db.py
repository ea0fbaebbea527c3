"""The library database: connection settings, numbered migrations and the write transaction.

Schema version lives in `PRAGMA user_version`. Opening a library migrates it forward one numbered
step at a time, each step in its own transaction, after copying the database to `backups/`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cratedigger.errors import LibraryError
from cratedigger.loop import ORIGIN_KINDS

DB_NAME = "library.db"
BACKUP_DIR = "backups"
LOST_AND_FOUND = "lost+found"  # where check --repair puts what it will not delete: damaged audio, removed rows
ROLLING_PREFIX = "rolling-"
ROLLING_KEEP = 3
ROLLING_EVERY_S = 24 * 3600.0
SOURCES = ORIGIN_KINDS  # the `source` column holds a Loop's origin kind: one name for one fact


@dataclass(frozen=True)
class Migration:
    """Takes a database from `version - 1` to `version`. `apply` runs inside a transaction."""

    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run statements one by one: `executescript` would COMMIT the migration's transaction first."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        raise LibraryError(f"incomplete SQL statement in a migration: {statement.strip()[:60]!r}")


def _v1_initial(conn: sqlite3.Connection) -> None:
    sources = ", ".join(f"'{s}'" for s in SOURCES)
    run_script(
        conn,
        f"""
        CREATE TABLE samples (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            uid           TEXT    NOT NULL UNIQUE,
            path          TEXT    NOT NULL UNIQUE,      -- POSIX, relative to the library root
            name          TEXT    NOT NULL,
            source        TEXT    NOT NULL CHECK (source IN ({sources})),
            sample_rate   INTEGER NOT NULL CHECK (sample_rate > 0),
            channels      INTEGER NOT NULL CHECK (channels > 0),
            frames        INTEGER NOT NULL CHECK (frames > 0),
            bpm           REAL    CHECK (bpm IS NULL OR bpm > 0),
            bars          INTEGER CHECK (bars IS NULL OR bars > 0),
            beats_per_bar INTEGER CHECK (beats_per_bar IS NULL OR beats_per_bar > 0),
            parent_id     INTEGER REFERENCES samples(id) ON DELETE SET NULL,
            content_hash  TEXT    NOT NULL,
            created       TEXT    NOT NULL,              -- ISO 8601 UTC, sorts as text
            rating        INTEGER NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
            favourite     INTEGER NOT NULL DEFAULT 0 CHECK (favourite IN (0, 1)),
            notes         TEXT    NOT NULL DEFAULT '',
            trashed_at    TEXT,
            search        TEXT    NOT NULL DEFAULT ''   -- casefolded name, notes and tags, for text search
        );
        -- The bulky per-sample data lives apart so that filtering and sorting scan small rows.
        CREATE TABLE sample_data (
            sample_id  INTEGER PRIMARY KEY REFERENCES samples(id) ON DELETE CASCADE,
            beats      BLOB NOT NULL,                    -- float64 little-endian seconds
            downbeats  BLOB NOT NULL,                    -- float64 little-endian seconds
            provenance TEXT NOT NULL DEFAULT '{{}}',      -- JSON: model, revision, scheduler, steps, seed...
            analysis   TEXT                              -- JSON of AnalysisResult.to_dict()
        );
        -- Partial: serves the default view (live samples, newest first) without steering
        -- the planner away from a plain scan for other sorts.
        CREATE INDEX samples_live_created ON samples(created) WHERE trashed_at IS NULL;
        CREATE INDEX samples_bpm ON samples(bpm);
        CREATE INDEX samples_rating ON samples(rating);
        CREATE INDEX samples_name ON samples(name COLLATE NOCASE);
        CREATE INDEX samples_hash ON samples(content_hash);
        CREATE INDEX samples_parent ON samples(parent_id);
        CREATE TABLE tags (
            id   INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE
        );
        CREATE TABLE sample_tags (
            sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
            tag_id    INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
            PRIMARY KEY (sample_id, tag_id)
        ) WITHOUT ROWID;
        CREATE INDEX sample_tags_tag ON sample_tags(tag_id, sample_id);
        -- Files being written or deleted right now. A row left here by a killed process tells
        -- `check` that the file at `path` belongs to no sample and may be removed.
        CREATE TABLE pending_files (
            path    TEXT PRIMARY KEY,
            op      TEXT NOT NULL CHECK (op IN ('add', 'purge')),
            pid     INTEGER NOT NULL,
            started REAL NOT NULL
        );
        """
    )


MIGRATIONS: tuple[Migration, ...] = (Migration(1, "initial schema", _v1_initial),)


def _switch_to_wal(conn: sqlite3.Connection, busy_timeout_s: float) -> str:
    # SQLite answers "database is locked" at once, without its busy handler, when another process is
    # creating the file at this moment: wait for it as for any other lock, up to the busy timeout.
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            return conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def connect(db_path: Path, *, busy_timeout_s: float = 5.0) -> sqlite3.Connection:
    """Open one connection: autocommit (we BEGIN ourselves), WAL, foreign keys, busy timeout."""
    try:
        conn = sqlite3.connect(db_path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise translate(exc, db_path, "open") from exc
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        mode = _switch_to_wal(conn, busy_timeout_s)
        if str(mode).lower() != "wal":
            raise LibraryError(f"{db_path}: cannot switch the database to WAL mode (got {mode!r})")
        # FULL: a commit is on disk before we touch files after it (purge unlinks only once the row is
        # durably gone), so even a power cut cannot leave a row whose file was deleted.
        conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.Error as exc:
        conn.close()
        raise translate(exc, db_path, "open") from exc
    except LibraryError:
        conn.close()
        raise
    return conn


def connect_read_only(db_path: Path) -> sqlite3.Connection:
    """Open a library in a folder we cannot write to, for browsing only.

    immutable=1 because SQLite cannot create the WAL index (-shm) there; nobody without write
    access can change the database meanwhile, and a stale WAL only means we see the last checkpoint.
    """
    try:
        conn = sqlite3.connect(f"{db_path.absolute().as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise translate(exc, db_path, "open the library read-only") from exc
    return conn


def damaged_reason(db_path: Path, what: str = "the database file is damaged or not a CrateDigger library") -> str:
    """What to say about a damaged database: where the way out is (rebuild; backups only when there are some)."""
    backups = sorted((db_path.parent / BACKUP_DIR).glob("*.db")) if (db_path.parent / BACKUP_DIR).is_dir() else []
    kept = f"; the newest of the {len(backups)} backup(s) in {BACKUP_DIR}/ is used" if backups else ""
    return (f"{what}; it was left untouched. "
            f"`cratedigger library --root {db_path.parent} check --rebuild` rebuilds it from the audio files{kept}")


def translate(exc: sqlite3.Error, db_path: Path, action: str) -> LibraryError:
    """One readable LibraryError for each way SQLite fails."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        reason = "the database is locked by another program (is CrateDigger running elsewhere?); try again"
    elif "not a database" in text or "malformed" in text or "corrupt" in text:
        reason = damaged_reason(db_path)
    elif "readonly" in text or "read-only" in text:
        reason = "the library folder or database is read-only"
    elif "disk is full" in text or "disk i/o" in text or "full" in text:
        reason = "the disk is full or failing"
    elif "unable to open" in text:
        reason = "the database cannot be opened (missing folder or no permission)"
    else:
        reason = str(exc)
    error = LibraryError(f"{db_path}: cannot {action}: {reason}")
    error.full_or_failing = reason == "the disk is full or failing"
    return error


def is_full_or_failing(exc: LibraryError) -> bool:
    """True for the error translate() gives when SQLite could not write (disk full, I/O error)."""
    return bool(getattr(exc, "full_or_failing", False))


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, db_path: Path, action: str) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error. IMMEDIATE takes the write lock up front,
    so two writers queue on the busy timeout instead of failing half-way."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise translate(exc, db_path, action) from exc
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise translate(exc, db_path, action) from exc
        raise


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def backup(conn: sqlite3.Connection, db_path: Path, *, version: int) -> Path:
    """Copy the live database (consistent, WAL included) to backups/library-v<N>-<time>.db."""
    folder = db_path.parent / BACKUP_DIR
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = folder / f"library-v{version}-{stamp}.db"
    n = 1
    while target.exists():
        n += 1
        target = folder / f"library-v{version}-{stamp}-{n}.db"
    dest = sqlite3.connect(target)
    try:
        conn.backup(dest)
    finally:
        dest.close()
    return target


def migrate(conn: sqlite3.Connection, db_path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> list[Path]:
    """Bring the schema to the newest version; returns the backups made (none for a new library)."""
    latest = migrations[-1].version if migrations else 0
    current = schema_version(conn)
    if current > latest:
        raise LibraryError(
            f"{db_path}: made by a newer CrateDigger (schema {current}, this version knows up to {latest}); "
            "update CrateDigger to open it"
        )
    backups: list[Path] = []
    for step in migrations:
        if step.version <= current:
            continue
        if current > 0:
            try:
                backups.append(backup(conn, db_path, version=current))
            except (OSError, sqlite3.Error) as exc:
                raise LibraryError(f"{db_path}: cannot back up before upgrading the library, left as is: {exc}") from exc
        try:
            with transaction(conn, db_path, f"upgrade the library to schema {step.version} ({step.description})"):
                # Read the version again under the write lock: another process opening the same new
                # library may have applied this step while we waited ("table samples already exists").
                current = schema_version(conn)
                if step.version <= current:
                    continue
                if step.version != current + 1:
                    raise LibraryError(f"migration to schema {step.version} does not follow schema {current}")
                step.apply(conn)
                conn.execute(f"PRAGMA user_version = {int(step.version)}")
        except LibraryError:
            raise
        except Exception as exc:  # a bug in a migration: the transaction rolled back, say so plainly
            saved = f"; a backup is in {backups[-1]}" if backups else ""
            raise LibraryError(
                f"{db_path}: upgrading to schema {step.version} failed ({exc}); the library was left at schema {current}{saved}"
            ) from exc
        current = step.version
    return backups


def rolling_backup(conn: sqlite3.Connection, db_path: Path, *, now: float | None = None) -> Path | None:
    """Keep backups/rolling-<time>.db: a fresh copy when the newest is over a day old, the last
    ROLLING_KEEP kept. A library with no samples yet is not backed up. Best effort: a failure here
    never stops the library from opening."""
    now = time.time() if now is None else now
    folder = db_path.parent / BACKUP_DIR
    try:
        existing = sorted(folder.glob(f"{ROLLING_PREFIX}*.db")) if folder.is_dir() else []
        if existing and now - existing[-1].stat().st_mtime < ROLLING_EVERY_S:
            return None
        if not conn.execute("SELECT 1 FROM samples LIMIT 1").fetchone():
            return None
        folder.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        target = folder / f"{ROLLING_PREFIX}{stamp}.db"
        partial = folder / f".{target.name}.part"
        dest = sqlite3.connect(partial)
        try:
            conn.backup(dest)
        finally:
            dest.close()
        os.replace(partial, target)
        for old in sorted(folder.glob(f"{ROLLING_PREFIX}*.db"))[:-ROLLING_KEEP]:
            old.unlink(missing_ok=True)
        return target
    except (OSError, sqlite3.Error):
        return None
