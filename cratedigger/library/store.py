"""`Library`: the operations on a library folder (add, keep, import, tag, rate, trash, purge, check).

Built on `connection` (open, a connection per thread, reads, write transactions), `queries`
(SampleQuery -> SQL), `rows` (column values <-> Sample) and `integrity` (check and repair).

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
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

import soundfile as sf

from cratedigger.audio.io import AudioInfo, audio_info, iter_blocks, read_audio, validate_audio
from cratedigger.errors import AnalysisError, AudioFileError, BadParameterError, LibraryError
from cratedigger.library import db, files, queries
from cratedigger.library.connection import LibraryConnection
from cratedigger.library.db import LOST_AND_FOUND  # noqa: F401  (its old home)
from cratedigger.library.integrity import check_library
from cratedigger.library.models import CheckReport, ImportResult, Sample, SampleQuery, SampleRef, sample_id
from cratedigger.library.naming import clean_name, clean_tags, name_from_stem, resolve_root
from cratedigger.library.rows import (  # noqa: F401  (pack_times: its old home)
    SAMPLE_COLUMNS,
    SAMPLE_TABLES,
    now_text,
    pack_times,
    row_values,
    sample_from_row,
    unpack_times,
)
from cratedigger.loop import WHOLE_BAR_TOLERANCE, whole_bars  # noqa: F401  (one rule, re-exported)

log = logging.getLogger(__name__)

# Imports longer than this are hashed, analysed and copied block by block (bounded memory).
LONG_IMPORT_S = 120.0
MAX_WAV_BYTES = 0xFFFFFFFF - 1024  # a RIFF size field is 32 bits

Analyzer = Callable[[np.ndarray, int], Any]


def default_analyzer(audio: np.ndarray, sample_rate: int) -> Any:
    """The engine's tempo/beat analysis (imported lazily: it pulls in heavy backends)."""
    from cratedigger.analysis import analyze

    return analyze(audio, sample_rate=sample_rate)


class Library:
    """A sample library on disk. Open with `Library.open(root)`, use as a context manager.

    root: the library folder (None: --root/$CRATEDIGGER_LIBRARY/platform default, see `resolve_root`).
    analyzer: `f(audio, sample_rate) -> AnalysisResult` used on import; None disables analysis.
    busy_timeout_s: how long a write waits for another program's lock before failing clearly.
    A library in a folder we cannot write to opens read-only (`read_only` is True): queries and
    exports work, every change raises LibraryError.
    connection: the `LibraryConnection` every operation reads and writes through.
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
        # The database: connections per thread, reads, write transactions (see connection.py).
        self.connection = LibraryConnection.open(self.root, busy_timeout_s=busy_timeout_s, migrations=migrations)
        self.backups = self.connection.backups

    @property
    def read_only(self) -> bool:
        """True when the folder cannot be written: queries and exports work, every change raises."""
        return self.connection.read_only

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

    def close(self) -> None:
        """Close every connection this library opened (from any thread)."""
        self.connection.close()

    # The names callers used before the connection had its own object (cratedigger.similarity and
    # some tests still do); new code calls `self.connection` directly.
    def _conn(self) -> sqlite3.Connection:
        return self.connection.for_this_thread()

    def _tx(self, action: str) -> AbstractContextManager[sqlite3.Connection]:
        return self.connection.transaction(action)

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.connection.read(sql, params)

    _id = staticmethod(sample_id)

    # -- reading -----------------------------------------------------------------------------

    def get(self, sample: SampleRef) -> Sample:
        """The sample with this id (trashed or not). Raises LibraryError when there is none."""
        sid = sample_id(sample)
        rows = self.connection.read(f"SELECT {SAMPLE_COLUMNS} FROM {SAMPLE_TABLES} WHERE s.id = ?", (sid,))
        if not rows:
            raise LibraryError(f"no sample with id {sid} in {self.root}")
        return self._samples(rows)[0]

    def find_by_hash(self, digest: str) -> Sample | None:
        rows = self.connection.read(
            f"SELECT {SAMPLE_COLUMNS} FROM {SAMPLE_TABLES} WHERE s.content_hash = ? ORDER BY s.id LIMIT 1", (digest,)
        )
        return self._samples(rows)[0] if rows else None

    def query(self, query: SampleQuery | None = None, **filters: Any) -> list[Sample]:
        """Samples matching `query` (or keyword filters, see SampleQuery), sorted and paged."""
        return self.get_many(self.query_ids(query, **filters))

    def query_ids(self, query: SampleQuery | None = None, **filters: Any) -> list[int]:
        """Just the ids of `query`'s page, in order: cheap even for the whole library (a view can
        hold every id and fetch Samples with `get_many` as rows scroll into sight)."""
        q = query if query is not None else SampleQuery(**filters)
        return [r[0] for r in self.connection.read(*queries.page_ids_sql(q))]

    def get_many(self, ids: Iterable[SampleRef]) -> list[Sample]:
        """Samples for these ids, in the same order; ids with no sample are left out."""
        wanted = [sample_id(i) for i in ids]
        if not wanted:
            return []
        rows = self.connection.read(
            f"SELECT {SAMPLE_COLUMNS} FROM {SAMPLE_TABLES} WHERE s.id IN (SELECT value FROM json_each(?))",
            (json.dumps(wanted),),
        )
        by_id = {s.id: s for s in self._samples(rows)}
        return [by_id[i] for i in wanted if i in by_id]

    def analysis(self, sample: SampleRef) -> dict[str, Any] | None:
        """The stored analysis result (AnalysisResult.to_dict()) of a sample, or None."""
        sid = sample_id(sample)
        rows = self.connection.read("SELECT analysis, beats, downbeats FROM sample_data WHERE sample_id = ?", (sid,))
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
        return int(self.connection.read(*queries.count_sql(q))[0][0])

    def all_tags(self) -> tuple[str, ...]:
        """Every tag in use by a sample (trashed ones included), sorted, for completion."""
        rows = self.connection.read(
            "SELECT t.name FROM tags t WHERE EXISTS (SELECT 1 FROM sample_tags st WHERE st.tag_id = t.id) "
            "ORDER BY t.name COLLATE NOCASE"
        )
        return tuple(r[0] for r in rows)

    def tag_counts(self) -> dict[str, int]:
        """Tag -> number of live (not trashed) samples carrying it."""
        rows = self.connection.read(
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

    def _samples(self, rows: Sequence[sqlite3.Row]) -> list[Sample]:
        if not rows:
            return []
        tags: dict[int, list[str]] = {}
        # json_each keeps this one statement however many ids there are (no 999-variable limit).
        ids = json.dumps([r["id"] for r in rows])
        for sid, name in self.connection.read(
            "SELECT st.sample_id, t.name FROM sample_tags st JOIN tags t ON t.id = st.tag_id "
            "WHERE st.sample_id IN (SELECT value FROM json_each(?)) ORDER BY t.name",
            (ids,),
        ):
            tags.setdefault(sid, []).append(name)
        return [sample_from_row(r, root=self.root, tags=tuple(tags.get(r["id"], ()))) for r in rows]

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
        values, data = row_values(
            audio.shape, sample_rate, digest=files.content_hash(audio, sample_rate), name=name, source=source,
            provenance=provenance, analysis=analysis, bpm=bpm, bars=bars,
            parent_id=None if parent_id is None else sample_id(parent_id), notes=notes,
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
        values, data = row_values(
            audio.shape, sample_rate, digest=files.content_hash(audio, sample_rate), name=name,
            source=loop.origin.kind, provenance=loop.origin.provenance, analysis=loop.analysis,
            bpm=loop.bpm, bars=loop.bars if loop.bpm else None,
            parent_id=None if parent_id is None else sample_id(parent_id), notes=notes,
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

        blob = self._features_blob(audio, sample_rate, values, data)
        with contextlib.suppress(LibraryError):
            if blob is not None:
                with self.connection.transaction("store similarity features") as conn:
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
        with self.connection.transaction("start adding a sample") as conn:
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
            with self.connection.transaction("add the sample") as conn:
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
                if not self.connection.read("SELECT 1 FROM samples WHERE path = ?", (rel,)):
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
            (uid, rel, now_text(), *values.values()),
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
            with self.connection.transaction("clear a journal entry") as conn:
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
                values, data = row_values(
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
        values, data = row_values(shape, info.sample_rate, digest=digest.hexdigest(), name=name, source="imported",
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
        sid = sample_id(sample)
        with self.connection.transaction(action) as conn:
            if conn.execute(sql + " WHERE id = ?", (*params, sid)).rowcount == 0:
                raise LibraryError(f"no sample with id {sid} in {self.root}")
            if search:
                self._refresh_search(conn, sid)
        return self.get(sid)

    def tag(self, sample: SampleRef, tags: Iterable[str]) -> Sample:
        """Add tags (cleaned: lower case, single spaces, no commas); existing ones are kept."""
        sid, tag_list = sample_id(sample), clean_tags(tags)
        with self.connection.transaction("tag the sample") as conn:
            self._require(conn, sid)
            self._insert_tags(conn, sid, tag_list)
            self._refresh_search(conn, sid)
        return self.get(sid)

    def untag(self, sample: SampleRef, tags: Iterable[str]) -> Sample:
        """Remove tags; tags the sample does not carry are ignored."""
        sid, tag_list = sample_id(sample), clean_tags(tags)
        with self.connection.transaction("untag the sample") as conn:
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
        return self._update(sample, "trash the sample", "UPDATE samples SET trashed_at = COALESCE(trashed_at, ?)", (now_text(),))

    def restore(self, sample: SampleRef) -> Sample:
        return self._update(sample, "restore the sample", "UPDATE samples SET trashed_at = NULL", ())

    def purge(self, samples: Iterable[SampleRef] | None = None) -> int:
        """Delete trashed samples for good (all of the trash when `samples` is None); returns how many.

        Only trashed samples can be purged, so nothing live disappears by a slip of an id.
        """
        with self.connection.transaction("purge the trash") as conn:
            if samples is None:
                rows = conn.execute("SELECT id, path FROM samples WHERE trashed_at IS NOT NULL").fetchall()
            else:
                ids = [sample_id(s) for s in samples]
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
        with self.connection.transaction("finish purging") as conn:  # a file that stayed keeps its journal entry for check --repair
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
        return check_library(self, repair=repair, deep=deep)

    def adopt_orphan(self, rel: str, audio: np.ndarray, sample_rate: int) -> int:
        """Give a complete file that no row owns a row of its own, where it lies (nothing is copied,
        so a crash here cannot duplicate it); returns the new sample's id. `check --repair` calls this.

        rel: the file's POSIX path relative to the root; audio: its float32 [n] or [n, ch] at
        sample_rate Hz (analysed with the library's analyzer)."""
        values, data = row_values(
            audio.shape, sample_rate, digest=files.content_hash(audio, sample_rate),
            name=f"recovered {PurePosixPath(rel).stem[:12]}", source="imported",
            provenance={"recovered_file": rel}, analysis=self._analyse(audio, sample_rate, what=rel),
        )
        with self.connection.transaction("re-add an orphan file") as conn:
            return self._insert_row(conn, files.new_uid(), rel, values, data, ())
