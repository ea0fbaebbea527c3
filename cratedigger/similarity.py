"""More like this: a small, documented feature vector per sample and the distance that ranks them.

    near = similar(library, sample_id, limit=10)     # [Neighbour(id, distance, rhythm, timbre, tempo)]

The vector (FEATURE_VERSION 1, DIM = 90 float32, computed from the audio alone: no trained weights)
is worked out at 22.05 kHz mono (the audio is resampled on purpose when it is stored at another rate):

  [0:48)   rhythm: onset strength on the 16th-note grid of one 4/4 bar, for three bands (low < 150 Hz:
           kicks; 150 Hz-3 kHz: snares, toms; > 3 kHz: hats, cymbals), 16 steps each, averaged over
           every bar of the sample; the whole 48 scaled to unit length. Zero when there is no tempo.
           The grid starts at 0 for whole-bar loops, else on the first downbeat (else the first beat).
  [48:68)  timbre, level: mean log energy (dB) of 20 mel bands (40 Hz-11 kHz), minus its own mean
           so that turning a loop down or up does not move it.
  [68:88)  timbre, movement: standard deviation (dB) of the same bands over time (punch vs. wash).
  [88]     tempo: log2(BPM), NaN when unknown.
  [89]     1.0 when the rhythm part is filled in, else 0.0.

Distance between samples a and b (smaller is nearer; 0 for the same audio):

  d = 0.5 * rhythm + 0.35 * timbre + 0.15 * tempo, where
  rhythm = 1 - max cosine(a, b shifted by 0, 1, 2 or 3 beats): a loop cut from another downbeat, or
           whose downbeat the analysis placed one beat off, still matches its own pattern;
           0.5 when either has no rhythm;
  timbre = (RMS of the level difference + RMS of the movement difference) / 10 dB;
  tempo  = |log2(bpm_a / bpm_b)| after moving one by an octave when that is nearer (85 ~ 170),
           divided by log2(1.25), at most 1; 0.5 when either tempo is unknown.

Vectors live in a table this module owns (`sample_features`, made on first use, rows removed with
their sample): written when a sample is added, filled in for older samples on the first search.
A search also keeps all of them as one blob (`similarity_matrix`, valid for one generation and
sample count), so the next cold search loads 10,000 vectors in one read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sqlite3
from dataclasses import dataclass
from typing import Any

import numpy as np

from cratedigger.errors import BadParameterError, CrateDiggerError, LibraryError
from cratedigger.library.models import sample_id

log = logging.getLogger(__name__)

FEATURE_VERSION = 1
DIM = 90
RATE = 22050
N_FFT = 1024
HOP = 256  # 11.6 ms: a 16th at 180 BPM is 83 ms, so seven frames a step
BANDS_HZ = ((0.0, 150.0), (150.0, 3000.0), (3000.0, RATE / 2))
N_MELS = 20
MEL_RANGE_HZ = (40.0, 11000.0)
STEPS = 16
MAX_SECONDS = 60.0  # a whole record would only cost time: its first minute says what it is
WEIGHTS = {"rhythm": 0.5, "timbre": 0.35, "tempo": 0.15}
TIMBRE_DB = 10.0
TEMPO_SPAN = math.log2(1.25)
NEUTRAL = 0.5

_TABLE = """CREATE TABLE IF NOT EXISTS sample_features (
    sample_id INTEGER PRIMARY KEY REFERENCES samples(id) ON DELETE CASCADE,
    version   INTEGER NOT NULL,
    vector    BLOB    NOT NULL      -- DIM float32 little-endian, see cratedigger.similarity
)"""
# One counter bumped with every vector written: an index in memory reloads when it moves.
_META = "CREATE TABLE IF NOT EXISTS similarity_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
# Every current vector as one blob, sorted by id, valid for one (generation, sample count): a cold
# search (the CLI) reads it in ~3 ms where 10,000 row blobs took ~40 ms to fetch one by one.
_MATRIX = """CREATE TABLE IF NOT EXISTS similarity_matrix (
    key        INTEGER PRIMARY KEY CHECK (key = 1),
    generation INTEGER NOT NULL,
    samples    INTEGER NOT NULL,    -- COUNT(*) FROM samples when it was built
    version    INTEGER NOT NULL,
    ids        BLOB    NOT NULL,    -- int64 little-endian, ascending
    vectors    BLOB    NOT NULL     -- float32 little-endian [len(ids), DIM]
)"""


@dataclass(frozen=True)
class Neighbour:
    """One result of `similar`: the sample id, its distance and the three parts it is made of."""

    id: int
    distance: float
    rhythm: float
    timbre: float
    tempo: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "distance": round(self.distance, 6), "rhythm": round(self.rhythm, 6),
                "timbre": round(self.timbre, 6), "tempo": round(self.tempo, 6)}


# -- the vector --------------------------------------------------------------------------------------


def features(audio: np.ndarray, *, sample_rate: int, bpm: float | None = None, origin: float = 0.0) -> np.ndarray:
    """The feature vector (float32 [DIM]) of `audio` (float32 [n] or [n, ch] at `sample_rate` Hz).

    bpm: the tempo, None when unknown (the rhythm part is then left empty). origin: seconds of a downbeat.
    """
    from cratedigger.audio.dsp import to_mono
    from cratedigger.audio.io import validate_audio
    from cratedigger.audio.resample import resample

    audio = validate_audio(audio, sample_rate=sample_rate, what="audio")
    mono = to_mono(audio)[: int(MAX_SECONDS * sample_rate)]
    mono = resample(mono, from_rate=int(sample_rate), to_rate=RATE)
    power = _power_spectrogram(mono)  # [frames, bins]
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / RATE)
    out = np.zeros(DIM, dtype=np.float32)
    if bpm is not None and math.isfinite(bpm) and 1 <= bpm <= 999:
        rhythm = _rhythm(power, freqs, bpm=float(bpm), origin=float(origin))
        norm = float(np.linalg.norm(rhythm))
        if norm > 1e-9:
            out[0:48] = rhythm / norm
            out[89] = 1.0
        out[88] = math.log2(bpm)
    else:
        out[88] = np.nan
    mel_db = 10.0 * np.log10(power @ _mel_filters(freqs).T + 1e-10)  # [frames, N_MELS]
    level = mel_db.mean(axis=0)
    out[48:68] = level - level.mean()
    out[68:88] = mel_db.std(axis=0)
    return out


def _power_spectrogram(mono: np.ndarray) -> np.ndarray:
    x = np.concatenate([np.zeros(N_FFT // 2, np.float32), mono, np.zeros(N_FFT, np.float32)])
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP] * np.hanning(N_FFT).astype(np.float32)
    return np.square(np.abs(np.fft.rfft(frames, axis=1))).astype(np.float32)


def _rhythm(power: np.ndarray, freqs: np.ndarray, *, bpm: float, origin: float) -> np.ndarray:
    """[48]: per band, the mean onset strength at each of 16 steps of the bar."""
    log_mag = np.log1p(100.0 * np.sqrt(power))
    flux = np.maximum(np.diff(log_mag, axis=0, prepend=log_mag[:1]), 0.0)  # [frames, bins]
    step_s = 60.0 / bpm / 4.0
    frame_s = HOP / RATE
    n_frames = flux.shape[0]
    duration = (n_frames - N_FFT // HOP) * frame_s
    first = math.ceil((0.0 - origin) / step_s - 1e-9)
    last = math.floor((duration - origin) / step_s)
    out = np.zeros((len(BANDS_HZ), STEPS), dtype=np.float64)
    counts = np.zeros(STEPS)
    band_flux = [flux[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) for lo, hi in BANDS_HZ]
    for k in range(first, last + 1):
        centre = (origin + k * step_s) / frame_s
        lo, hi = int(math.floor(centre - 1)), int(math.ceil(centre + 1)) + 1  # +-1 frame: the attack's frame
        if lo < 0 or hi > n_frames:
            continue
        slot = k % STEPS
        counts[slot] += 1
        for b, f in enumerate(band_flux):
            out[b, slot] += f[lo:hi].max()
    out /= np.maximum(counts, 1)
    # each band on its own scale, so quiet hats count as much as loud kicks
    out /= np.maximum(out.max(axis=1, keepdims=True), 1e-9)
    return out.reshape(-1).astype(np.float32)


def _mel_filters(freqs: np.ndarray) -> np.ndarray:
    """Triangular mel filters [N_MELS, bins] (HTK mel scale), each summing to one."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    edges = 700.0 * (10 ** (np.linspace(mel(MEL_RANGE_HZ[0]), mel(MEL_RANGE_HZ[1]), N_MELS + 2) / 2595.0) - 1.0)
    filters = np.zeros((N_MELS, freqs.size), dtype=np.float32)
    for m in range(N_MELS):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        rise = (freqs - lo) / (mid - lo)
        fall = (hi - freqs) / (hi - mid)
        filters[m] = np.maximum(0.0, np.minimum(rise, fall))
        filters[m] /= max(float(filters[m].sum()), 1e-9)
    return filters


def grid_origin(*, bars: int | None, downbeats: tuple[float, ...] | list[float], beats: tuple[float, ...] | list[float] = ()) -> float:
    """Where a stored sample's 16th grid starts: 0 for a whole-bar loop, else its first downbeat or beat."""
    if bars:
        return 0.0
    if downbeats:
        return float(downbeats[0])
    return float(beats[0]) if beats else 0.0


# -- the distance ------------------------------------------------------------------------------------


def distances(query: np.ndarray, matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Distance of every row of `matrix` (float32 [n, DIM]) from `query` ([DIM]), and its parts:
    {"distance", "rhythm", "timbre", "tempo"}, each float [n]. See the module docstring."""
    return _Blocks.of(np.asarray(matrix, dtype=np.float32).reshape(-1, DIM)).distances(query)


@dataclass(frozen=True, eq=False)
class _Blocks:
    """The vectors of n samples split into contiguous blocks, with the squared norms the timbre
    distance needs, so a query is three small matrix products (a few milliseconds at 10,000)."""

    rhythm: np.ndarray  # [n, 48]
    level: np.ndarray  # [n, 20]
    movement: np.ndarray  # [n, 20]
    level_sq: np.ndarray  # [n]
    movement_sq: np.ndarray  # [n]
    log_bpm: np.ndarray  # [n], NaN unknown
    has_rhythm: np.ndarray  # [n] bool

    @classmethod
    def of(cls, matrix: np.ndarray) -> _Blocks:
        level = np.ascontiguousarray(matrix[:, 48:68], dtype=np.float64)
        movement = np.ascontiguousarray(matrix[:, 68:88], dtype=np.float64)
        return cls(np.ascontiguousarray(matrix[:, 0:48]), level, movement, np.einsum("ij,ij->i", level, level),
                   np.einsum("ij,ij->i", movement, movement), np.ascontiguousarray(matrix[:, 88]), matrix[:, 89] > 0.5)

    def distances(self, query: np.ndarray) -> dict[str, np.ndarray]:
        query = np.asarray(query, dtype=np.float32).reshape(DIM)
        pattern = query[0:48].reshape(len(BANDS_HZ), STEPS)
        shifted = np.stack([np.roll(pattern, 4 * beat, axis=1).reshape(-1) for beat in range(4)])  # [4, 48]
        # einsum, not `@`: on a busy 2-core machine OpenBLAS's threads make this 10000x48 product
        # 60x slower (16 ms against 0.5 ms, measured); einsum stays on this thread
        cosine = np.einsum("ij,kj->ik", self.rhythm, shifted).max(axis=1)
        both = self.has_rhythm & bool(query[89] > 0.5)
        rhythm = np.where(both, 1.0 - np.clip(cosine, -1.0, 1.0), NEUTRAL)
        timbre = (self._rms(self.level, self.level_sq, query[48:68])
                  + self._rms(self.movement, self.movement_sq, query[68:88])) / TIMBRE_DB
        octave = self.log_bpm - query[88]
        with np.errstate(invalid="ignore"):
            nearest = np.minimum(np.abs(octave), np.minimum(np.abs(octave - 1.0), np.abs(octave + 1.0)))
        tempo = np.where(np.isnan(nearest), NEUTRAL, np.minimum(nearest / TEMPO_SPAN, 1.0))
        total = WEIGHTS["rhythm"] * rhythm + WEIGHTS["timbre"] * timbre + WEIGHTS["tempo"] * tempo
        return {"distance": total, "rhythm": rhythm, "timbre": timbre, "tempo": tempo}

    @staticmethod
    def _rms(rows: np.ndarray, rows_sq: np.ndarray, q: np.ndarray) -> np.ndarray:
        # mean((r - q)^2) = (|r|^2 - 2 r.q + |q|^2) / k, in float64 so the cancellation stays exact enough
        q = q.astype(np.float64)
        return np.sqrt(np.maximum(rows_sq - 2.0 * np.einsum("ij,j->i", rows, q) + float(q @ q), 0.0) / q.size)


# -- the library side --------------------------------------------------------------------------------


def ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(_TABLE)
    conn.execute(_META)
    conn.execute(_MATRIX)
    conn.execute("INSERT OR IGNORE INTO similarity_meta (key, value) VALUES ('generation', 0)")


def vector_on_add(audio: np.ndarray, sample_rate: int, *, bpm: float | None, bars: int | None,
                  downbeats: tuple[float, ...], beats: tuple[float, ...] = ()) -> bytes | None:
    """The stored form of a new sample's vector; None (logged) if it cannot be made, so an add never
    fails for it (the first search fills it in)."""
    try:
        origin = grid_origin(bars=bars, downbeats=downbeats, beats=beats)
        return features(audio, sample_rate=sample_rate, bpm=bpm, origin=origin).astype("<f4").tobytes()
    except (CrateDiggerError, ValueError, MemoryError) as exc:
        log.warning("similarity features not computed (%s); the first search will retry", exc)
        return None


def save_vector(conn: sqlite3.Connection, sample_id: int, blob: bytes) -> None:
    """Store a vector inside the caller's transaction (and bump the generation indexes watch)."""
    ensure_table(conn)
    conn.execute("INSERT OR REPLACE INTO sample_features (sample_id, version, vector) VALUES (?, ?, ?)",
                 (int(sample_id), FEATURE_VERSION, blob))
    conn.execute("UPDATE similarity_meta SET value = value + 1 WHERE key = 'generation'")


def _has_table(library: Any) -> bool:
    return len(library.connection.read("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                             "name IN ('sample_features', 'similarity_meta')")) == 2


def _has_matrix_table(library: Any) -> bool:
    return bool(library.connection.read("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'similarity_matrix'"))


def cached_matrix(library: Any, signature: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
    """(ids, vectors) from the one-blob cache when it was built at `signature` (generation, sample
    count), else None. The blobs are read only when the small header matches."""
    if not _has_matrix_table(library):
        return None
    head = library.connection.read("SELECT generation, samples, version FROM similarity_matrix WHERE key = 1")
    if not head or (int(head[0][0]), int(head[0][1])) != tuple(signature) or int(head[0][2]) != FEATURE_VERSION:
        return None
    row = library.connection.read("SELECT ids, vectors FROM similarity_matrix WHERE key = 1")
    if not row:
        return None
    id_blob, vector_blob = bytes(row[0][0]), bytes(row[0][1])
    if len(id_blob) % 8 or len(vector_blob) != len(id_blob) // 8 * DIM * 4:
        return None  # a torn or foreign row: rebuild it
    ids = np.frombuffer(id_blob, dtype="<i8").astype(np.int64)
    return ids, np.frombuffer(vector_blob, dtype="<f4").reshape(ids.size, DIM)


def store_matrix(library: Any, signature: tuple[int, int], ids: np.ndarray, vectors: np.ndarray) -> None:
    """Keep (ids ascending, vectors) as the cache for `signature`; skipped (logged) when the library
    is read-only or busy: the cache only saves time."""
    if library.read_only:
        return
    try:
        with library.connection.transaction("cache similarity vectors") as conn:
            ensure_table(conn)
            now = conn.execute("SELECT value FROM similarity_meta WHERE key = 'generation'").fetchone()
            count = conn.execute("SELECT COUNT(*) FROM samples").fetchone()
            if (int(now[0]) if now else 0, int(count[0])) != tuple(signature):
                return  # a vector was written meanwhile: this matrix is already stale
            conn.execute(
                "INSERT OR REPLACE INTO similarity_matrix (key, generation, samples, version, ids, vectors) "
                "VALUES (1, ?, ?, ?, ?, ?)",
                (int(signature[0]), int(signature[1]), FEATURE_VERSION, np.asarray(ids, "<i8").tobytes(),
                 np.ascontiguousarray(vectors, dtype="<f4").tobytes()))
    except LibraryError as exc:
        log.info("similarity cache not written (%s)", exc)


def _vector_of_sample(library: Any, sample: Any) -> np.ndarray:
    import soundfile as sf

    # Only the first MAX_SECONDS: a library may hold hours-long recordings (imported block by block).
    try:
        audio, rate = sf.read(str(sample.path), frames=min(int(sample.frames), int(MAX_SECONDS * sample.sample_rate)),
                              dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise LibraryError(f"sample {sample.id}: its file cannot be read ({exc}); run `check`") from exc
    origin = grid_origin(bars=sample.bars, downbeats=sample.downbeats, beats=sample.beats)
    return features(audio, sample_rate=rate, bpm=sample.bpm, origin=origin)


def ensure_features(library: Any, *, limit: int | None = None) -> int:
    """Compute and store the vectors that are missing or stale (older FEATURE_VERSION), live samples
    first; returns how many were made. A read-only library is left as it is (returns 0)."""
    if library.read_only:
        return 0
    if not _has_table(library):
        with library.connection.transaction("prepare similarity search") as conn:
            ensure_table(conn)
    rows = library.connection.read(
        "SELECT s.id FROM samples s LEFT JOIN sample_features f ON f.sample_id = s.id "
        "WHERE f.sample_id IS NULL OR f.version != ? ORDER BY s.trashed_at IS NOT NULL, s.id"
        + ("" if limit is None else f" LIMIT {int(limit)}"),
        (FEATURE_VERSION,),
    )
    made = 0
    for sample in library.get_many([r[0] for r in rows]):
        try:
            blob = _vector_of_sample(library, sample).astype("<f4").tobytes()
        except CrateDiggerError as exc:  # an unreadable file: `check` reports it; skip it here
            log.warning("sample %s: no similarity features (%s)", sample.id, exc)
            continue
        with library.connection.transaction("store similarity features") as conn:
            if conn.execute("SELECT 1 FROM samples WHERE id = ?", (sample.id,)).fetchone():
                save_vector(conn, sample.id, blob)
                made += 1
    return made


def load_vectors(library: Any) -> tuple[np.ndarray, np.ndarray]:
    """(ids int64 [n], vectors float32 [n, DIM]) of every sample with a current vector, trashed included."""
    if not _has_table(library):
        return np.zeros(0, np.int64), np.zeros((0, DIM), np.float32)
    rows = library.connection.read("SELECT sample_id, vector FROM sample_features WHERE version = ?", (FEATURE_VERSION,))
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    blob = b"".join(r[1] for r in rows)
    return ids, np.frombuffer(blob, dtype="<f4").reshape(len(rows), DIM)


class SimilarityIndex:
    """Every sample's vector held in memory for one library, so a search does only arithmetic.

    Each search first asks the database three cheap questions (the vectors' generation, how many
    samples there are, which are in the trash) and reloads only when vectors were added or samples
    purged. The app keeps one per library; a one-off search (the CLI) may make a fresh one.
    """

    def __init__(self, library: Any) -> None:
        self.library = library
        self._signature: tuple[int, int] | None = None
        self._ids = np.zeros(0, np.int64)
        self._blocks = _Blocks.of(np.zeros((0, DIM), np.float32))
        self._vectors = np.zeros((0, DIM), np.float32)

    def _current_signature(self) -> tuple[int, int]:
        if not _has_table(self.library):
            return (-1, -1)
        generation = self.library.connection.read("SELECT value FROM similarity_meta WHERE key = 'generation'")
        total = self.library.connection.read("SELECT COUNT(*) FROM samples")[0][0]
        return (int(generation[0][0]) if generation else 0, int(total))

    def refresh(self, *, backfill: bool = True) -> None:
        """Reload when stale; backfill: first compute vectors that samples lack (writable libraries)."""
        signature = self._current_signature()
        if signature == self._signature:
            return
        cached = cached_matrix(self.library, signature) if signature[0] >= 0 else None
        # A cache holding a vector for every sample (rows go with their sample) leaves nothing to backfill.
        complete = cached is not None and cached[0].size == signature[1]
        if backfill and not complete and not self.library.read_only:
            if ensure_features(self.library):
                signature = self._current_signature()
                cached = None
        if cached is None:
            ids, vectors = load_vectors(self.library)
            order = np.argsort(ids)
            ids, vectors = ids[order], np.ascontiguousarray(vectors[order])
            if signature[0] >= 0:
                store_matrix(self.library, signature, ids, vectors)
        else:
            ids, vectors = cached
        self._ids, self._vectors = ids, vectors
        self._blocks = _Blocks.of(self._vectors)
        self._signature = signature

    def vector(self, sample_id: int) -> np.ndarray:
        """One sample's vector: from memory, else computed from its audio (and stored if writable)."""
        at = int(np.searchsorted(self._ids, sample_id))
        if at < self._ids.size and self._ids[at] == sample_id:
            return self._vectors[at]
        sample = self.library.get(sample_id)
        vector = _vector_of_sample(self.library, sample)
        if not self.library.read_only:
            with contextlib.suppress(LibraryError), self.library.connection.transaction("store similarity features") as conn:
                save_vector(conn, sample.id, vector.astype("<f4").tobytes())
        return vector

    def similar(self, sample: Any, *, limit: int = 10, backfill: bool = True) -> list[Neighbour]:
        """See `similar`."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise BadParameterError(f"limit must be a whole number >= 1, got {limit!r}")
        sid = sample_id(sample)
        self.refresh(backfill=backfill)
        if not self.library.connection.read("SELECT 1 FROM samples WHERE id = ?", (sid,)):
            raise LibraryError(f"no sample with id {sid} in {self.library.root}")
        query = self.vector(sid)
        if self._ids.size == 0:
            return []
        parts = self._blocks.distances(query)
        total = parts["distance"].copy()
        trashed = [r[0] for r in self.library.connection.read("SELECT id FROM samples WHERE trashed_at IS NOT NULL")]
        total[np.isin(self._ids, [sid, *trashed])] = np.inf
        k = min(limit, int(np.isfinite(total).sum()))
        if k == 0:
            return []
        top = np.argpartition(total, k - 1)[:k] if k < total.size else np.arange(total.size)
        top = top[np.lexsort((self._ids[top], total[top]))]  # nearest first; ties by id, so the order is stable
        top = top[np.isfinite(total[top])]
        return [Neighbour(int(self._ids[i]), float(total[i]), float(parts["rhythm"][i]), float(parts["timbre"][i]),
                          float(parts["tempo"][i])) for i in top]


def vector_of(library: Any, sample_id: int) -> np.ndarray:
    """The stored vector of one sample, computed (and stored where the library is writable) when missing."""
    if _has_table(library):
        rows = library.connection.read("SELECT vector FROM sample_features WHERE sample_id = ? AND version = ?",
                             (int(sample_id), FEATURE_VERSION))
        if rows:
            return np.frombuffer(rows[0][0], dtype="<f4").copy()
    return SimilarityIndex(library).vector(int(sample_id))


def similar(library: Any, sample: Any, *, limit: int = 10, backfill: bool = True,
            index: SimilarityIndex | None = None) -> list[Neighbour]:
    """The `limit` live samples nearest to `sample` (an id or Sample), nearest first, itself left out.

    backfill: first compute the vectors older samples lack (once per library; then it is free).
    index: a SimilarityIndex kept between searches (the app's); None builds one for this search.
    """
    return (index or SimilarityIndex(library)).similar(sample, limit=limit, backfill=backfill)


def neighbours_json(neighbours: list[Neighbour], samples: dict[int, Any]) -> str:
    """The CLI's --json: a list of {id, distance, rhythm, timbre, tempo, name, bpm, bars}, nearest first."""
    out = []
    for n in neighbours:
        item = n.to_dict()
        s = samples.get(n.id)
        if s is not None:
            item.update(name=s.name, bpm=s.bpm, bars=s.bars)
        out.append(item)
    return json.dumps(out, indent=2, ensure_ascii=False)


__all__ = ["DIM", "FEATURE_VERSION", "Neighbour", "SimilarityIndex", "distances", "ensure_features", "features", "grid_origin",
           "load_vectors", "save_vector", "similar", "vector_of", "vector_on_add"]
