"""Samples to rows and back: the column values of a new sample, a stored row as a `Sample`, and the
encodings both sides share (beat times as float64 blobs, JSON without NaN, ISO 8601 UTC times).

Pure: nothing here opens the database; `store.Library` runs the SQL.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from cratedigger.errors import BadParameterError
from cratedigger.library import db, files
from cratedigger.library.models import Sample
from cratedigger.library.naming import clean_name
from cratedigger.loop import whole_bars

# The select list `sample_from_row` reads, and the tables it comes from.
SAMPLE_COLUMNS = (
    "s.id, s.uid, s.path, s.name, s.source, s.sample_rate, s.channels, s.frames, s.bpm, s.bars, s.beats_per_bar, "
    "s.parent_id, s.content_hash, s.created, s.rating, s.favourite, s.notes, s.trashed_at, "
    "d.beats, d.downbeats, d.provenance"
)
SAMPLE_TABLES = "samples s JOIN sample_data d ON d.sample_id = s.id"


def now_text() -> str:
    """The current time as the `created` and `trashed_at` columns hold it (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def pack_times(times: Sequence[float]) -> bytes:
    """Seconds as float64 little-endian: unpacks far faster than JSON when listing thousands."""
    return struct.pack(f"<{len(times)}d", *times)


def unpack_times(blob: bytes) -> tuple[float, ...]:
    return struct.unpack(f"<{len(blob) // 8}d", blob)


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


def row_values(
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

    shape: the audio's (frames,) or (frames, channels). grid: (beats, downbeats, beats_per_bar) of
    the stored audio when they are not the analysis' own (a Loop's grid); else they come from the
    analysis."""
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


def sample_from_row(r: Mapping[str, Any], *, root: Path, tags: tuple[str, ...]) -> Sample:
    """A row selected with SAMPLE_COLUMNS as a Sample of the library at `root`; its stored path is
    refused when it would leave the root."""
    rel = r["path"]
    return Sample(
        id=r["id"],
        uid=r["uid"],
        root=root,
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
