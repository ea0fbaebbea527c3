"""`Library`: a folder holding `library.db` and the audio files it points at.

Threads: every thread that calls a `Library` gets its own SQLite connection (made on first use);
writes from any thread serialise on SQLite's write lock (BEGIN IMMEDIATE with a busy timeout), so
the app may write from its library worker while other threads read. `close()` closes them all.

Order of every file operation keeps one promise: a row only ever points at a complete file.
add:   journal the new path in `pending_files` -> write the file atomically -> insert the row and
       clear the journal in one transaction.
purge: delete the row and journal the path in one transaction -> unlink -> clear the journal.
A process killed between steps leaves a journal entry that `check --repair` finishes.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import math
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

import soundfile as sf

from cratedigger.audio.io import AudioInfo, audio_info, iter_blocks, read_audio, validate_audio
from cratedigger.errors import AnalysisError, AudioFileError, BadParameterError, LibraryError
from cratedigger.library import db, files
from cratedigger.library.models import CheckReport, ImportResult, Sample, SampleQuery
from cratedigger.library.naming import clean_name, clean_tags, name_from_stem, resolve_root
from cratedigger.loop import WHOLE_BAR_TOLERANCE, whole_bars  # noqa: F401  (one rule, re-exported)

log = logging.getLogger(__name__)

LOST_AND_FOUND = "lost+found"
# Imports longer than this are hashed, analysed and copied block by block (bounded memory).
LONG_IMPORT_S = 120.0
MAX_WAV_BYTES = 0xFFFFFFFF - 1024  # a RIFF size field is 32 bits
_KNOWN_ENTRIES = {db.DB_NAME, f"{db.DB_NAME}-wal", f"{db.DB_NAME}-shm", files.AUDIO_DIR, db.BACKUP_DIR, LOST_AND_FOUND}
_COLUMNS = (
    "s.id, s.uid, s.path, s.name, s.source, s.sample_rate, s.channels, s.frames, s.bpm, s.bars, s.beats_per_bar, "
    "s.parent_id, s.content_hash, s.created, s.rating, s.favourite, s.notes, s.trashed_at, "
    "d.beats, d.downbeats, d.provenance"
)
_FROM = "samples s JOIN sample_data d ON d.sample_id = s.id"
_SORT_SQL = {
    "created": "s.created",
    "name": "s.name COLLATE NOCASE",
    "bpm": "s.bpm",
    "bars": "s.bars",
    "rating": "s.rating",
    "duration": "(CAST(s.frames AS REAL) / s.sample_rate)",
    "id": "s.id",
}

Analyzer = Callable[[np.ndarray, int], Any]
SampleRef = int | Sample


def default_analyzer(audio: np.ndarray, sample_rate: int) -> Any:
    """The engine's tempo/beat analysis (imported lazily: it pulls in heavy backends)."""
    from cratedigger.analysis import analyze

    return analyze(audio, sample_rate=sample_rate)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _loop_meter(analysis: Any) -> Any:
    """The analysis as loops count bars (regrid.loop_meter, the app's and the CLI's rule too): a 2/4
    reading of a one-bar 4/4 break is 4/4, so it is stored, listed and exported as one bar; so is a
    3/4 reading of a clip that is whole bars of 4 only."""
    get = analysis.get if isinstance(analysis, Mapping) else (lambda k, d=None: getattr(analysis, k, d))
    bpb = get("beats_per_bar")
    if get("bpm") is None or not isinstance(bpb, int) or isinstance(bpb, bool) or bpb not in (1, 2, 3):
        return analysis
    from cratedigger.regrid import loop_meter

    if not isinstance(analysis, Mapping):
        return loop_meter(analysis)
    from cratedigger.analysis import AnalysisResult

    met = loop_meter(AnalysisResult.from_dict(dict(analysis)))
    return {**analysis, "beats_per_bar": met.beats_per_bar, "downbeats": list(met.downbeats),
            "beat_positions": list(met.beat_positions)}


def _analysis_fields(analysis: Any) -> dict[str, Any]:
    """Pull what the library stores out of an AnalysisResult (or a mapping shaped like its to_dict),
    its meter as loops count it."""
    analysis = None if analysis is None else _loop_meter(analysis)
    if analysis is None:
        return {"bpm": None, "beats": (), "downbeats": (), "beats_per_bar": None, "analysis": None}
    get = analysis.get if isinstance(analysis, Mapping) else (lambda k, d=None: getattr(analysis, k, d))
    bpm = get("bpm")
    if bpm is not None and not (math.isfinite(float(bpm)) and 1.0 <= float(bpm) <= 999.0):
        bpm = None  # no tempo rather than one no DAW or acid chunk can carry
    if isinstance(analysis, Mapping):
        as_dict = dict(analysis)
    elif hasattr(analysis, "to_dict"):
        as_dict = analysis.to_dict()
    else:
        as_dict = None
    return {
        "bpm": None if bpm is None else float(bpm),
        "beats": tuple(float(t) for t in (get("beats") or ())),
        "downbeats": tuple(float(t) for t in (get("downbeats") or ())),
        "beats_per_bar": get("beats_per_bar"),
        "analysis": as_dict,
    }


def pack_times(times: Sequence[float]) -> bytes:
    """Seconds as float64 little-endian: unpacks far faster than JSON when listing thousands."""
    return struct.pack(f"<{len(times)}d", *times)


def unpack_times(blob: bytes) -> tuple[float, ...]:
    return struct.unpack(f"<{len(blob) // 8}d", blob)


def _numpy_to_plain(value: Any) -> Any:
    # Seeds, tempos and beat times often arrive as numpy scalars or arrays; store them as JSON numbers.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON data")


def _finite_or_none(value: Any) -> Any:
    """Analysis results may hold NaN (an undefined confidence): stored as null rather than refused."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=False, sort_keys=True, separators=(",", ":"), default=_numpy_to_plain)
    except (TypeError, ValueError) as exc:
        raise BadParameterError(f"{what} must be plain JSON data (text, numbers, lists, dicts): {exc}") from exc


def _row_values(
    shape: tuple[int, ...],
    sample_rate: int,
    *,
    digest: str,
    name: str,
    source: str,
    provenance: Mapping[str, Any] | None,
    analysis: Any,
    bpm: float | None = None,
    bars: int | None = None,
    parent_id: int | None = None,
    notes: str = "",
    grid: tuple[Sequence[float], Sequence[float], int] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validated column values for a new `samples` row (all but uid, path, created) and its `sample_data`.

    grid: (beats, downbeats, beats_per_bar) of the stored audio when they are not the analysis' own
    (a Loop's grid); else they come from the analysis."""
    if source not in db.SOURCES:
        raise BadParameterError(f"unknown source {source!r}; sources are {', '.join(db.SOURCES)}")
    if not isinstance(notes, str):
        raise BadParameterError(f"notes must be text, got {type(notes).__name__}")
    fields = _analysis_fields(analysis)
    if grid is not None:
        fields["beats"] = tuple(float(t) for t in grid[0])
        fields["downbeats"] = tuple(float(t) for t in grid[1])
        fields["beats_per_bar"] = grid[2]
    if fields["analysis"] is not None:
        # Beats are stored once, in the sample_data columns; Library.analysis() puts them back.
        fields["analysis"] = {k: v for k, v in fields["analysis"].items() if k not in ("beats", "downbeats")}
    if bpm is not None:
        if isinstance(bpm, bool) or not isinstance(bpm, (int, float)) or not math.isfinite(bpm) or not 1 <= bpm <= 999:
            raise BadParameterError(f"bpm must be 1-999, got {bpm!r}")
        fields["bpm"] = float(bpm)
    bpb = fields["beats_per_bar"]
    bpb = int(bpb) if isinstance(bpb, (int, np.integer)) and not isinstance(bpb, bool) and 1 <= bpb <= 32 else None
    if bars is not None:
        if isinstance(bars, bool) or not isinstance(bars, int) or bars < 1:
            raise BadParameterError(f"bars must be a whole number >= 1, got {bars!r}")
        if fields["bpm"] is None:
            raise BadParameterError("bars given without a tempo: pass bpm or an analysis with one")
        bpb = bpb or 4
    elif fields["bpm"] is not None:
        found = whole_bars(shape[0], sample_rate, fields["bpm"], bpb or 4)
        if found is not None:
            bars, fields["bpm"] = found
            bpb = bpb or 4
    return {
        "name": clean_name(name), "source": source, "sample_rate": sample_rate,
        "channels": 1 if len(shape) == 1 else int(shape[1]), "frames": int(shape[0]),
        "bpm": fields["bpm"], "bars": bars, "beats_per_bar": bpb, "parent_id": parent_id,
        "content_hash": digest, "notes": notes,
    }, {
        "beats": pack_times(fields["beats"]), "downbeats": pack_times(fields["downbeats"]),
        "analysis": None if fields["analysis"] is None else _dumps(_finite_or_none(fields["analysis"]), "analysis"),
        "provenance": _dumps(dict(provenance or {}), "provenance"),
    }


class Library:
    """A sample library on disk. Open with `Library.open(root)`, use as a context manager.

    root: the library folder (None: --root/$CRATEDIGGER_LIBRARY/platform default, see `resolve_root`).
    analyzer: `f(audio, sample_rate) -> AnalysisResult` used on import; None disables analysis.
    busy_timeout_s: how long a write waits for another program's lock before failing clearly.
    A library in a folder we cannot write to opens read-only (`read_only` is True): queries and
    exports work, every change raises LibraryError.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        *,
        analyzer: Analyzer | None = default_analyzer,
        busy_timeout_s: float = 5.0,
        migrations: Sequence[db.Migration] = db.MIGRATIONS,
    ) -> None:
        self.root = resolve_root(root).absolute()
        self.db_path = self.root / db.DB_NAME
        self.analyzer = analyzer
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        self.read_only = False
        self._prepare_root()
        self._refuse_empty_database()
        try:
            conn = self._conn()
        except LibraryError as exc:
            # A library on a read-only folder or medium, or on a full disk, can still be browsed and
            # exported from: reading needs no free space.
            if not self.db_path.is_file() or (os.access(self.root, os.W_OK) and not db.is_full_or_failing(exc)):
                raise
            self.read_only = True
            try:
                conn = self._conn()
            except LibraryError:
                raise exc from None
        if self.read_only:
            version, latest = db.schema_version(conn), migrations[-1].version
            if version != latest:
                self.close()
                raise LibraryError(
                    f"{self.root}: the library folder is read-only and its database (schema {version}) "
                    f"needs schema {latest}; open it once from a writable location"
                )
            self.backups = ()
            return
        try:
            self.backups = tuple(db.migrate(conn, self.db_path, migrations))
        except sqlite3.Error as exc:
            self.close()
            raise db.translate(exc, self.db_path, "open the library") from exc
        except BaseException:
            self.close()
            raise
        db.rolling_backup(conn, self.db_path)  # a way back when library.db is ever damaged

    def _refuse_empty_database(self) -> None:
        """A 0-byte library.db beside audio or backups lost its contents: damaged, not a new library.
        (A new library's schema may sit in the WAL before the first checkpoint, so that counts too.)"""
        try:
            if self.db_path.stat().st_size > 0:
                return
        except OSError:
            return
        wal = self.db_path.with_name(self.db_path.name + "-wal")
        if wal.is_file() and wal.stat().st_size > 0:
            return
        has_audio = next(iter(files.iter_audio_files(self.root)), None) is not None
        has_backups = (self.root / db.BACKUP_DIR).is_dir() and any((self.root / db.BACKUP_DIR).glob("*.db"))
        if has_audio or has_backups:
            reason = db.damaged_reason(self.db_path, "the database file is empty (0 bytes) but the library holds audio")
            raise LibraryError(f"{self.db_path}: cannot open the library: {reason}")

    @classmethod
    def open(cls, root: str | os.PathLike | None = None, **kwargs: Any) -> Library:
        """Open (creating if needed) the library at `root`; see the class docstring for options."""
        return cls(root, **kwargs)

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Library({str(self.root)!r})"

    # -- connections -------------------------------------------------------------------------

    def _prepare_root(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise LibraryError(f"{self.root}: is a file, not a library folder")
        if self.db_path.exists():
            return
        if self.root.is_dir():
            stray = [p.name for p in self.root.iterdir() if not p.name.startswith(".") and p.name not in _KNOWN_ENTRIES]
            if stray:
                raise LibraryError(
                    f"{self.root}: not a CrateDigger library (no {db.DB_NAME}) and not empty "
                    f"(holds {', '.join(sorted(stray)[:3])}...); choose an empty or new folder"
                )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(f"{self.root}: cannot create the library folder: {files.describe_os_error(exc)}") from exc

    def _conn(self) -> sqlite3.Connection:
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

    def close(self) -> None:
        """Close every connection this library opened (from any thread)."""
        self._closed = True
        with self._conns_lock:
            conns, self._all_conns = self._all_conns, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _tx(self, action: str):
        if self.read_only:
            raise LibraryError(f"{self.root}: cannot {action}: the library folder is read-only (browsing only)")
        return db.transaction(self._conn(), self.db_path, action)

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise db.translate(exc, self.db_path, "read the library") from exc

    # -- reading -----------------------------------------------------------------------------

    def get(self, sample: SampleRef) -> Sample:
        """The sample with this id (trashed or not). Raises LibraryError when there is none."""
        sid = self._id(sample)
        rows = self._read(f"SELECT {_COLUMNS} FROM {_FROM} WHERE s.id = ?", (sid,))
        if not rows:
            raise LibraryError(f"no sample with id {sid} in {self.root}")
        return self._samples(rows)[0]

    def find_by_hash(self, digest: str) -> Sample | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM {_FROM} WHERE s.content_hash = ? ORDER BY s.id LIMIT 1", (digest,))
        return self._samples(rows)[0] if rows else None

    def query(self, query: SampleQuery | None = None, **filters: Any) -> list[Sample]:
        """Samples matching `query` (or keyword filters, see SampleQuery), sorted and paged."""
        return self.get_many(self.query_ids(query, **filters))

    def query_ids(self, query: SampleQuery | None = None, **filters: Any) -> list[int]:
        """Just the ids of `query`'s page, in order: cheap even for the whole library (a view can
        hold every id and fetch Samples with `get_many` as rows scroll into sight)."""
        q = query if query is not None else SampleQuery(**filters)
        where, params = self._where(q)
        direction = "DESC" if q.descending else "ASC"
        sort = _SORT_SQL[q.sort]
        nulls_last = f"{sort} IS NULL, " if q.sort in ("bpm", "bars") else ""
        sql = (
            f"SELECT s.id FROM samples s WHERE {where} "
            f"ORDER BY {nulls_last}{sort} {direction}, s.id {direction} LIMIT ? OFFSET ?"
        )
        return [r[0] for r in self._read(sql, (*params, -1 if q.limit is None else q.limit, q.offset))]

    def get_many(self, ids: Iterable[SampleRef]) -> list[Sample]:
        """Samples for these ids, in the same order; ids with no sample are left out."""
        wanted = [self._id(i) for i in ids]
        if not wanted:
            return []
        rows = self._read(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE s.id IN (SELECT value FROM json_each(?))", (json.dumps(wanted),)
        )
        by_id = {s.id: s for s in self._samples(rows)}
        return [by_id[i] for i in wanted if i in by_id]

    def analysis(self, sample: SampleRef) -> dict[str, Any] | None:
        """The stored analysis result (AnalysisResult.to_dict()) of a sample, or None."""
        sid = self._id(sample)
        rows = self._read("SELECT analysis, beats, downbeats FROM sample_data WHERE sample_id = ?", (sid,))
        if not rows:
            raise LibraryError(f"no sample with id {sid} in {self.root}")
        if not rows[0][0]:
            return None
        stored = json.loads(rows[0][0])
        # Rows written before beats were stored once carry them in the JSON too; those are kept.
        stored.setdefault("beats", list(unpack_times(rows[0][1])))
        stored.setdefault("downbeats", list(unpack_times(rows[0][2])))
        return stored

    def count(self, query: SampleQuery | None = None, **filters: Any) -> int:
        """How many samples match, ignoring paging (for a results header or a pager)."""
        q = query if query is not None else SampleQuery(**filters)
        where, params = self._where(q)
        return int(self._read(f"SELECT COUNT(*) FROM samples s WHERE {where}", params)[0][0])

    def all_tags(self) -> tuple[str, ...]:
        """Every tag in use by a sample (trashed ones included), sorted, for completion."""
        rows = self._read(
            "SELECT t.name FROM tags t WHERE EXISTS (SELECT 1 FROM sample_tags st WHERE st.tag_id = t.id) "
            "ORDER BY t.name COLLATE NOCASE"
        )
        return tuple(r[0] for r in rows)

    def tag_counts(self) -> dict[str, int]:
        """Tag -> number of live (not trashed) samples carrying it."""
        rows = self._read(
            "SELECT t.name, COUNT(*) FROM tags t JOIN sample_tags st ON st.tag_id = t.id "
            "JOIN samples s ON s.id = st.sample_id WHERE s.trashed_at IS NULL GROUP BY t.id ORDER BY t.name"
        )
        return {r[0]: int(r[1]) for r in rows}

    def read_audio(self, sample: SampleRef) -> tuple[np.ndarray, int]:
        """The stored audio: float32 [n] (mono) or [n, ch], and its rate in Hz."""
        s = sample if isinstance(sample, Sample) else self.get(sample)
        try:
            return read_audio(s.path)
        except AudioFileError as exc:
            raise LibraryError(f"sample {s.id}: its file cannot be read ({exc}); run `check`") from exc

    def _where(self, q: SampleQuery) -> tuple[str, list[Any]]:
        clauses = ["s.trashed_at IS NOT NULL" if q.trashed else "s.trashed_at IS NULL"]
        params: list[Any] = []
        for word in (q.text or "").casefold().split():
            clauses.append("s.search LIKE ? ESCAPE '\\'")
            params.append(_like(word))
        if q.tags:
            marks = ", ".join("?" * len(q.tags))
            having = f" GROUP BY st.sample_id HAVING COUNT(*) = {len(q.tags)}" if q.tag_mode == "all" else ""
            clauses.append(
                f"s.id IN (SELECT st.sample_id FROM sample_tags st JOIN tags t ON t.id = st.tag_id "
                f"WHERE t.name IN ({marks}){having})"
            )
            params += q.tags
        if q.bpm_min is not None:
            clauses.append("s.bpm >= ?")
            params.append(float(q.bpm_min))
        if q.bpm_max is not None:
            clauses.append("s.bpm <= ?")
            params.append(float(q.bpm_max))
        if q.bars:
            clauses.append(f"s.bars IN ({', '.join('?' * len(q.bars))})")
            params += q.bars
        if q.rating_min is not None:
            clauses.append("s.rating >= ?")
            params.append(q.rating_min)
        if q.favourite is not None:
            clauses.append("s.favourite = ?")
            params.append(1 if q.favourite else 0)
        if q.sources:
            clauses.append(f"s.source IN ({', '.join('?' * len(q.sources))})")
            params += q.sources
        if q.parent_id is not None:
            clauses.append("s.parent_id = ?")
            params.append(int(q.parent_id))
        return " AND ".join(clauses), params

    def _samples(self, rows: Sequence[sqlite3.Row]) -> list[Sample]:
        if not rows:
            return []
        tags: dict[int, list[str]] = {}
        # json_each keeps this one statement however many ids there are (no 999-variable limit).
        ids = json.dumps([r["id"] for r in rows])
        for sid, name in self._read(
            "SELECT st.sample_id, t.name FROM sample_tags st JOIN tags t ON t.id = st.tag_id "
            "WHERE st.sample_id IN (SELECT value FROM json_each(?)) ORDER BY t.name",
            (ids,),
        ):
            tags.setdefault(sid, []).append(name)
        return [self._sample(r, tuple(tags.get(r["id"], ()))) for r in rows]

    def _sample(self, r: sqlite3.Row, tags: tuple[str, ...]) -> Sample:
        rel = r["path"]
        return Sample(
            id=r["id"],
            uid=r["uid"],
            root=self.root,
            rel_path=files.check_rel(rel),
            name=r["name"],
            source=r["source"],
            sample_rate=r["sample_rate"],
            channels=r["channels"],
            frames=r["frames"],
            bpm=r["bpm"],
            bars=r["bars"],
            beats_per_bar=r["beats_per_bar"],
            beats=unpack_times(r["beats"]),
            downbeats=unpack_times(r["downbeats"]),
            provenance_json=r["provenance"],
            parent_id=r["parent_id"],
            content_hash=r["content_hash"],
            created=datetime.fromisoformat(r["created"]),
            tags=tags,
            rating=r["rating"],
            favourite=bool(r["favourite"]),
            notes=r["notes"],
            trashed=r["trashed_at"] is not None,
        )

    @staticmethod
    def _id(sample: SampleRef) -> int:
        if isinstance(sample, Sample):
            return sample.id
        if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)):
            raise BadParameterError(f"sample id must be a whole number, got {sample!r}")
        return int(sample)

    # -- adding ------------------------------------------------------------------------------

    def add_audio(
        self,
        audio: np.ndarray,
        sample_rate: int,
        *,
        name: str,
        source: str,
        provenance: Mapping[str, Any] | None = None,
        analysis: Any = None,
        tags: Iterable[str] = (),
        parent_id: int | None = None,
        bpm: float | None = None,
        bars: int | None = None,
        notes: str = "",
    ) -> Sample:
        """Store `audio` (float32 [n] or [n, ch] at `sample_rate` Hz) as a new sample.

        analysis: an AnalysisResult (bpm, beats, downbeats, beats_per_bar) or None.
        bpm/bars: override the analysis, e.g. from a LoopSlice; give `bars` only when the audio spans
        exactly that many whole bars. Without `bars`, a length within 3% of a bar of whole bars at the
        analysed tempo counts as a loop of that many bars (and its exact tempo is taken from the length).
        The WAV is written atomically first; the row is inserted only once the file is complete.
        """
        audio = validate_audio(audio, sample_rate=sample_rate, what="sample audio")
        sample_rate = int(sample_rate)
        tag_list = clean_tags(tags)
        values, data = _row_values(
            audio.shape, sample_rate, digest=files.content_hash(audio, sample_rate), name=name, source=source,
            provenance=provenance, analysis=analysis, bpm=bpm, bars=bars,
            parent_id=None if parent_id is None else self._id(parent_id), notes=notes,
        )
        sid, _ = self._store(files.encode_wav(audio, sample_rate=sample_rate), values, data, tag_list)
        self._store_features(sid, audio, sample_rate, values, data)
        return self.get(sid)

    def add_loop(
        self,
        loop: Any,
        *,
        name: str,
        tags: Iterable[str] = (),
        rating: int = 0,
        favourite: bool = False,
        notes: str = "",
        parent_id: int | None = None,
    ) -> Sample:
        """Store a `cratedigger.loop.Loop` as a new sample, with its rating, tags and favourite mark in
        the same commit as the row (so a failure leaves no half-curated sample).

        source is the loop's origin kind, provenance its origin's provenance, the analysis column its
        AnalysisResult (describing the stored audio), beats and downbeats its grid.
        """
        if isinstance(rating, bool) or not isinstance(rating, (int, np.integer)) or not 0 <= rating <= 5:
            raise BadParameterError(f"rating must be a whole number 0-5, got {rating!r}")
        audio = validate_audio(loop.audio, sample_rate=loop.sample_rate, what="loop audio")
        sample_rate = int(loop.sample_rate)
        values, data = _row_values(
            audio.shape, sample_rate, digest=files.content_hash(audio, sample_rate), name=name,
            source=loop.origin.kind, provenance=loop.origin.provenance, analysis=loop.analysis,
            bpm=loop.bpm, bars=loop.bars if loop.bpm else None,
            parent_id=None if parent_id is None else self._id(parent_id), notes=notes,
            grid=(loop.beats, loop.downbeats, int(loop.beats_per_bar)),
        )
        values["rating"] = int(rating)
        values["favourite"] = 1 if favourite else 0
        blob = self._features_blob(audio, sample_rate, values, data)

        def with_features(conn: sqlite3.Connection, sid: int) -> None:
            if blob is not None:
                from cratedigger import similarity

                similarity.save_vector(conn, sid, blob)

        sid, _ = self._store(files.encode_wav(audio, sample_rate=sample_rate), values, data, clean_tags(tags),
                             also=with_features)
        return self.get(sid)

    @staticmethod
    def _features_blob(audio: np.ndarray, sample_rate: int, values: Mapping[str, Any],
                       data: Mapping[str, Any]) -> bytes | None:
        from cratedigger import similarity

        return similarity.vector_on_add(audio, sample_rate, bpm=values["bpm"], bars=values["bars"],
                                        downbeats=unpack_times(data["downbeats"]), beats=unpack_times(data["beats"]))

    def _store_features(self, sid: int, audio: np.ndarray, sample_rate: int, values: Mapping[str, Any],
                        data: Mapping[str, Any]) -> None:
        """A new sample's similarity vector (cratedigger.similarity); on failure only a log line: the
        first search fills it in."""
        from cratedigger import similarity

        blob = similarity.vector_on_add(audio, sample_rate, bpm=values["bpm"], bars=values["bars"],
                                        downbeats=unpack_times(data["downbeats"]), beats=unpack_times(data["beats"]))
        with contextlib.suppress(LibraryError):
            if blob is not None:
                with self._tx("store similarity features") as conn:
                    similarity.save_vector(conn, sid, blob)

    def _store(self, payload: files.atomic.Payload, values: Mapping[str, Any], data: Mapping[str, Any],
               tag_list: Sequence[str], *, dedupe: bool = False,
               also: Callable[[sqlite3.Connection, int], None] | None = None) -> tuple[int, bool]:
        """Journal the path, write the file, insert the row (and run `also(conn, id)` in its transaction):
        returns (id, False).

        dedupe=True (imports): when a sample with the same content hash exists by the time the row
        would go in, no row is added and the new file is removed: returns (that id, True). The look
        happens inside the write transaction, so two processes adding the same file cannot both add it.
        """
        uid = files.new_uid()
        rel = files.new_rel_path(uid)
        target = files.resolve_rel(self.root, rel)
        with self._tx("start adding a sample") as conn:
            conn.execute(
                "INSERT INTO pending_files (path, op, pid, started) VALUES (?, 'add', ?, ?)",
                (rel, os.getpid(), time.time()),
            )
        try:
            files.guard_write(f"sample file {target}", lambda: files.write_new_file(target, payload))
        except BaseException:
            self._clear_pending(rel)
            raise
        duplicate_of = None
        try:
            with self._tx("add the sample") as conn:
                if dedupe:
                    row = conn.execute("SELECT id FROM samples WHERE content_hash = ? ORDER BY id LIMIT 1",
                                       (values["content_hash"],)).fetchone()
                    duplicate_of = None if row is None else int(row[0])
                if duplicate_of is None:
                    sid = self._insert_row(conn, uid, rel, values, data, tag_list)
                    if also is not None:  # more of the same sample, in the same commit
                        also(conn, sid)
                    conn.execute("DELETE FROM pending_files WHERE path = ?", (rel,))
        except BaseException:
            # The row never made it, so the file must not linger. Unless an interrupt landed just
            # after COMMIT: look before deleting, and when the database cannot say, leave the file
            # and its journal entry for `check --repair`.
            with contextlib.suppress(LibraryError, sqlite3.Error):
                if not self._read("SELECT 1 FROM samples WHERE path = ?", (rel,)):
                    files.remove_quietly(target)
                    self._clear_pending(rel)
            raise
        if duplicate_of is not None:  # another writer stored the same audio first: ours goes
            files.remove_quietly(target)
            self._clear_pending(rel)
            return duplicate_of, True
        return sid, False

    @staticmethod
    def _insert_row(
        conn: sqlite3.Connection, uid: str, rel: str, values: Mapping[str, Any], data: Mapping[str, Any], tags: Sequence[str]
    ) -> int:
        parent_id = values["parent_id"]
        if parent_id is not None and not conn.execute("SELECT 1 FROM samples WHERE id = ?", (parent_id,)).fetchone():
            raise LibraryError(f"parent sample {parent_id} does not exist")
        columns = ["uid", "path", "created", *values]
        cur = conn.execute(
            f"INSERT INTO samples ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            (uid, rel, _now(), *values.values()),
        )
        sid = int(cur.lastrowid)
        Library._insert_tags(conn, sid, tags)
        Library._refresh_search(conn, sid)
        conn.execute(
            f"INSERT INTO sample_data (sample_id, {', '.join(data)}) VALUES (?, {', '.join('?' * len(data))})",
            (sid, *data.values()),
        )
        return sid

    def _clear_pending(self, rel: str) -> None:
        # Best effort: if the database itself is failing, `check --repair` clears the entry later.
        with contextlib.suppress(LibraryError, sqlite3.Error):
            with self._tx("clear a journal entry") as conn:
                conn.execute("DELETE FROM pending_files WHERE path = ?", (rel,))

    def import_file(self, path: str | os.PathLike, *, tags: Iterable[str] = (), name: str | None = None) -> Sample:
        """Import any file libsndfile reads (WAV, FLAC, AIFF, OGG, MP3...), any rate and channel count.

        The audio is analysed (tempo, beats) with the library's analyzer. Audio already in the
        library (same decoded content) is not stored twice: that sample is returned, given the new
        tags, and brought back from the trash if it was there.
        """
        return self.import_file_detailed(path, tags=tags, name=name).sample

    def import_file_detailed(
        self, path: str | os.PathLike, *, tags: Iterable[str] = (), name: str | None = None
    ) -> ImportResult:
        """Like `import_file`, also saying whether the audio was already in the library."""
        path = Path(path)
        tag_list = clean_tags(tags)
        info = audio_info(path)
        display = clean_name(name) if name is not None else name_from_stem(path.stem)
        provenance = {"imported_from": str(path.absolute()), "original_format": path.suffix.lstrip(".").lower()}
        if info.duration > LONG_IMPORT_S:
            sid, duplicate = self._import_long(path, info, tag_list, display, provenance)
        else:
            audio, sample_rate = read_audio(path)
            digest = files.content_hash(audio, sample_rate)
            if self.find_by_hash(digest) is not None:
                sid, duplicate = self.find_by_hash(digest).id, True
            else:
                values, data = _row_values(
                    audio.shape, sample_rate, digest=digest, name=display, source="imported", provenance=provenance,
                    analysis=self._analyse(audio, sample_rate, what=str(path)), bpm=None, bars=None, parent_id=None,
                )
                sid, duplicate = self._store(files.encode_wav(audio, sample_rate=sample_rate), values, data, tag_list,
                                             dedupe=True)
                if not duplicate:
                    self._store_features(sid, audio, sample_rate, values, data)
        if duplicate:
            if tag_list:
                self.tag(sid, tag_list)
            if self.get(sid).trashed:
                self.restore(sid)
        return ImportResult(self.get(sid), duplicate=duplicate)

    def _import_long(self, path: Path, info: AudioInfo, tag_list: Sequence[str], name: str,
                     provenance: Mapping[str, Any]) -> tuple[int, bool]:
        """A long recording, block by block: hashed, analysed and copied without holding it whole."""
        payload_bytes = 44 + info.frames * info.channels * 4  # float WAV
        if payload_bytes > MAX_WAV_BYTES:
            raise AudioFileError(
                f"{path}: {info.duration / 3600:.1f} h of {info.channels}-channel audio at {info.sample_rate} Hz is too "
                f"long to store as one WAV (4 GiB limit, about {MAX_WAV_BYTES / (info.channels * 4 * info.sample_rate * 3600):.1f} h); "
                "cut it into parts")
        digest = hashlib.sha256(f"{info.sample_rate}:{info.channels}:".encode())
        for block in iter_blocks(path):
            if not np.all(np.isfinite(block)):
                raise AudioFileError(f"{path}: contains NaN or infinite samples")
            digest.update(np.ascontiguousarray(block, dtype="<f4").tobytes())  # = files.content_hash
        existing = self.find_by_hash(digest.hexdigest())
        if existing is not None:
            return existing.id, True
        if self.analyzer is None:
            analysis = None
        elif self.analyzer is default_analyzer:
            analysis = self._analyse_file(path)
        else:  # a caller's own analyzer takes arrays: it gets the whole record
            audio, _ = read_audio(path)
            analysis = self._analyse(audio, info.sample_rate, what=str(path))
        shape = (info.frames,) if info.channels == 1 else (info.frames, info.channels)
        values, data = _row_values(shape, info.sample_rate, digest=digest.hexdigest(), name=name, source="imported",
                                   provenance=provenance, analysis=analysis)

        def write(fd: int) -> None:
            try:
                with sf.SoundFile(fd, "w", samplerate=info.sample_rate, channels=info.channels,
                                  subtype=files.STORE_SUBTYPE, format="WAV", closefd=False) as out:
                    for block in iter_blocks(path):
                        out.write(block)
            except (RuntimeError, AssertionError) as exc:  # libsndfile reports a short write, not its errno
                full = os.fstatvfs(fd).f_bavail == 0
                raise OSError(errno.ENOSPC if full else errno.EIO, f"writing the library copy failed ({exc})") from exc
            if os.fstat(fd).st_size < payload_bytes:
                raise OSError(errno.ENOSPC, "the library copy came out short")

        return self._store(write, values, data, tag_list, dedupe=True)

    def _analyse_file(self, path: Path) -> Any:
        try:
            from cratedigger.analysis import analyze_file

            return analyze_file(path)[0]
        except ImportError as exc:
            log.warning("%s: analysis is not available (%s); stored without tempo", path, exc)
        except (AnalysisError, BadParameterError, AudioFileError) as exc:
            log.warning("%s: could not be analysed (%s); stored without tempo", path, exc)
        return None

    def _analyse(self, audio: np.ndarray, sample_rate: int, *, what: str) -> Any:
        """Run the analyzer; a sample that cannot be analysed is still kept, just without a tempo."""
        if self.analyzer is None:
            return None
        mono = audio if audio.ndim == 1 else audio.mean(axis=1, dtype=np.float32)
        try:
            return self.analyzer(mono, sample_rate)
        except ImportError as exc:
            log.warning("%s: analysis is not available (%s); stored without tempo", what, exc)
        except (AnalysisError, BadParameterError, AudioFileError) as exc:
            log.warning("%s: could not be analysed (%s); stored without tempo", what, exc)
        return None

    # -- editing -----------------------------------------------------------------------------

    def _update(self, sample: SampleRef, action: str, sql: str, params: Sequence[Any], *, search: bool = False) -> Sample:
        sid = self._id(sample)
        with self._tx(action) as conn:
            if conn.execute(sql + " WHERE id = ?", (*params, sid)).rowcount == 0:
                raise LibraryError(f"no sample with id {sid} in {self.root}")
            if search:
                self._refresh_search(conn, sid)
        return self.get(sid)

    def tag(self, sample: SampleRef, tags: Iterable[str]) -> Sample:
        """Add tags (cleaned: lower case, single spaces, no commas); existing ones are kept."""
        sid, tag_list = self._id(sample), clean_tags(tags)
        with self._tx("tag the sample") as conn:
            self._require(conn, sid)
            self._insert_tags(conn, sid, tag_list)
            self._refresh_search(conn, sid)
        return self.get(sid)

    def untag(self, sample: SampleRef, tags: Iterable[str]) -> Sample:
        """Remove tags; tags the sample does not carry are ignored."""
        sid, tag_list = self._id(sample), clean_tags(tags)
        with self._tx("untag the sample") as conn:
            self._require(conn, sid)
            conn.executemany(
                "DELETE FROM sample_tags WHERE sample_id = ? AND tag_id = (SELECT id FROM tags WHERE name = ?)",
                [(sid, t) for t in tag_list],
            )
            conn.execute("DELETE FROM tags WHERE id NOT IN (SELECT tag_id FROM sample_tags)")
            self._refresh_search(conn, sid)
        return self.get(sid)

    def rate(self, sample: SampleRef, rating: int) -> Sample:
        """Set the rating, 0 (unrated) to 5."""
        if isinstance(rating, bool) or not isinstance(rating, (int, np.integer)) or not 0 <= rating <= 5:
            raise BadParameterError(f"rating must be a whole number 0-5, got {rating!r}")
        return self._update(sample, "rate the sample", "UPDATE samples SET rating = ?", (int(rating),))

    def set_favourite(self, sample: SampleRef, favourite: bool = True) -> Sample:
        return self._update(sample, "mark the favourite", "UPDATE samples SET favourite = ?", (1 if favourite else 0,))

    def rename(self, sample: SampleRef, name: str) -> Sample:
        """Change the display name; the stored file keeps its stable name (export names come from this)."""
        return self._update(sample, "rename the sample", "UPDATE samples SET name = ?", (clean_name(name),), search=True)

    def set_notes(self, sample: SampleRef, notes: str) -> Sample:
        if not isinstance(notes, str):
            raise BadParameterError(f"notes must be text, got {type(notes).__name__}")
        return self._update(sample, "save the notes", "UPDATE samples SET notes = ?", (notes,), search=True)

    def trash(self, sample: SampleRef) -> Sample:
        """Move to the trash: hidden from queries, file kept, `restore` brings it back."""
        return self._update(sample, "trash the sample", "UPDATE samples SET trashed_at = COALESCE(trashed_at, ?)", (_now(),))

    def restore(self, sample: SampleRef) -> Sample:
        return self._update(sample, "restore the sample", "UPDATE samples SET trashed_at = NULL", ())

    def purge(self, samples: Iterable[SampleRef] | None = None) -> int:
        """Delete trashed samples for good (all of the trash when `samples` is None); returns how many.

        Only trashed samples can be purged, so nothing live disappears by a slip of an id.
        """
        with self._tx("purge the trash") as conn:
            if samples is None:
                rows = conn.execute("SELECT id, path FROM samples WHERE trashed_at IS NOT NULL").fetchall()
            else:
                ids = [self._id(s) for s in samples]
                rows = []
                for sid in ids:
                    row = conn.execute("SELECT id, path, trashed_at FROM samples WHERE id = ?", (sid,)).fetchone()
                    if row is None:
                        raise LibraryError(f"no sample with id {sid} in {self.root}")
                    if row["trashed_at"] is None:
                        raise LibraryError(f"sample {sid} is not in the trash; trash it before purging")
                    rows.append(row)
            for row in rows:
                # Refuse up front rather than drop the row and keep the file (which `check --repair`
                # would then bring back as "recovered"): nothing changes when any file cannot go.
                path = files.resolve_rel(self.root, row["path"])
                if path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
                    raise LibraryError(f"cannot purge sample {row['id']}: its folder {path.parent} is read-only; "
                                       "nothing was purged")
            started = time.time()
            for row in rows:
                conn.execute(
                    "INSERT OR REPLACE INTO pending_files (path, op, pid, started) VALUES (?, 'purge', ?, ?)",
                    (row["path"], os.getpid(), started),
                )
                conn.execute("DELETE FROM samples WHERE id = ?", (row["id"],))
            conn.execute("DELETE FROM tags WHERE id NOT IN (SELECT tag_id FROM sample_tags)")
        kept = []
        for row in rows:
            path = files.resolve_rel(self.root, row["path"])
            files.remove_quietly(path)
            if path.exists():
                kept.append(row["path"])
        with self._tx("finish purging") as conn:  # a file that stayed keeps its journal entry for check --repair
            conn.executemany("DELETE FROM pending_files WHERE path = ?", [(row["path"],) for row in rows
                                                                          if row["path"] not in kept])
        if kept:
            raise LibraryError(
                f"purged {len(rows)} sample(s) from the library, but {len(kept)} file(s) could not be deleted "
                f"({', '.join(kept[:3])}); `library check --repair` deletes them once their folder is writable")
        return len(rows)

    @staticmethod
    def _require(conn: sqlite3.Connection, sid: int) -> None:
        if not conn.execute("SELECT 1 FROM samples WHERE id = ?", (sid,)).fetchone():
            raise LibraryError(f"no sample with id {sid}")

    @staticmethod
    def _refresh_search(conn: sqlite3.Connection, sid: int) -> None:
        """Rebuild the one column text search scans: casefolded here, because SQLite's LIKE only
        folds ASCII ("Über" must find "über")."""
        name, notes = conn.execute("SELECT name, notes FROM samples WHERE id = ?", (sid,)).fetchone()
        tags = [r[0] for r in conn.execute(
            "SELECT t.name FROM sample_tags st JOIN tags t ON t.id = st.tag_id WHERE st.sample_id = ?", (sid,))]
        text = "\n".join([name, notes, *tags]).casefold()
        conn.execute("UPDATE samples SET search = ? WHERE id = ?", (text, sid))

    @staticmethod
    def _insert_tags(conn: sqlite3.Connection, sid: int, tags: Sequence[str]) -> None:
        for tag in tags:
            conn.execute("INSERT OR IGNORE INTO tags (name) VALUES (?)", (tag,))
            conn.execute(
                "INSERT OR IGNORE INTO sample_tags (sample_id, tag_id) SELECT ?, id FROM tags WHERE name = ?",
                (sid, tag),
            )

    # -- integrity ---------------------------------------------------------------------------

    def check(self, *, repair: bool = False, deep: bool = False) -> CheckReport:
        """Compare rows and files. repair=True re-adds readable orphan files as samples, moves
        unreadable ones to lost+found/, finishes interrupted adds/purges, deletes dead temp files and
        removes rows whose file is gone or damaged (their metadata, and any damaged file, are saved
        to lost+found/ first). deep=True also compares each file's audio with its stored content
        hash (reads every file). See `cratedigger.library.integrity`."""
        from cratedigger.library.integrity import check_library

        return check_library(self, repair=repair, deep=deep)

    def _adopt(self, rel: str, audio: np.ndarray, sample_rate: int) -> int:
        """Give a complete file that no row owns a row of its own, where it lies (nothing is copied,
        so a crash here cannot duplicate it)."""
        values, data = _row_values(
            audio.shape, sample_rate, digest=files.content_hash(audio, sample_rate),
            name=f"recovered {PurePosixPath(rel).stem[:12]}", source="imported",
            provenance={"recovered_file": rel}, analysis=self._analyse(audio, sample_rate, what=rel),
        )
        with self._tx("re-add an orphan file") as conn:
            return self._insert_row(conn, files.new_uid(), rel, values, data, ())
