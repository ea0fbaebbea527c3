"""Frozen values the library hands out and takes in: samples (and references to them), queries, check reports."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from cratedigger.errors import BadParameterError
from cratedigger.library.db import SOURCES
from cratedigger.library.naming import clean_tags

SORT_KEYS = ("created", "name", "bpm", "bars", "rating", "duration", "id")
TAG_MODES = ("all", "any")


@dataclass(frozen=True)
class Sample:
    """One sample in the library. `path` is absolute; `rel_path` is POSIX text relative to `root`.

    Times (`beats`, `downbeats`, `duration`) are in seconds; `frames` counts samples per channel.
    The full analysis result is `Library.analysis(id)` (kept out of here so big lists stay fast).
    """

    id: int
    uid: str
    root: Path = field(repr=False)  # the library folder; `path` is built from it on first use
    rel_path: str
    name: str
    source: str
    sample_rate: int
    channels: int
    frames: int
    bpm: float | None
    bars: int | None
    beats_per_bar: int | None
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    provenance_json: str = field(repr=False)  # parsed on first use of `provenance`: lists stay fast
    parent_id: int | None
    content_hash: str
    created: datetime
    tags: tuple[str, ...]
    rating: int
    favourite: bool
    notes: str
    trashed: bool

    # Provenance is a dict, so the generated hash would fail; a sample is identified by its id and uid.
    def __hash__(self) -> int:
        return hash((self.id, self.uid))

    @cached_property
    def path(self) -> Path:
        """Absolute path of the stored file."""
        return self.root / self.rel_path

    @cached_property
    def provenance(self) -> dict[str, Any]:
        """Where the sample came from: model, revision, scheduler, steps, seed, parameters..."""
        return json.loads(self.provenance_json)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate

    @property
    def is_whole_bar_loop(self) -> bool:
        """True when the stored audio already spans `bars` whole bars at `bpm`."""
        return bool(self.bars and self.bpm)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (the CLI's `list --json`)."""
        return {
            "id": self.id,
            "uid": self.uid,
            "path": self.rel_path,
            "abs_path": str(self.path),
            "name": self.name,
            "source": self.source,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "frames": self.frames,
            "duration": round(self.duration, 6),
            "bpm": self.bpm,
            "bars": self.bars,
            "beats_per_bar": self.beats_per_bar,
            "beats": list(self.beats),
            "downbeats": list(self.downbeats),
            "provenance": dict(self.provenance),
            "parent_id": self.parent_id,
            "created": self.created.isoformat(),
            "tags": list(self.tags),
            "rating": self.rating,
            "favourite": self.favourite,
            "notes": self.notes,
            "trashed": self.trashed,
        }


SampleRef = int | Sample  # what operations on one sample take: the Sample or its id


def sample_id(sample: SampleRef) -> int:
    """The id of `sample` (a Sample, or an id as a Python or numpy whole number)."""
    if isinstance(sample, Sample):
        return sample.id
    if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)):
        raise BadParameterError(f"sample id must be a whole number, got {sample!r}")
    return int(sample)


def _int_tuple(values: int | Iterable[int] | None, what: str) -> tuple[int, ...]:
    if values is None:
        return ()
    if isinstance(values, int):
        values = (values,)
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise BadParameterError(f"{what} must be positive whole numbers, got {v!r}")
        out.append(v)
    return tuple(out)


@dataclass(frozen=True)
class SampleQuery:
    """What to find. Every filter given must match; `tags` match all of them or any (`tag_mode`).

    text: words that must each appear in the name, notes or a tag (case-insensitive).
    bpm_min/bpm_max: inclusive BPM range; samples without a tempo never match a BPM filter.
    bars: any of these bar counts. sources: any of these sources. trashed: search the trash instead.
    sort: one of SORT_KEYS; limit None returns everything after `offset`.
    """

    text: str | None = None
    tags: tuple[str, ...] = ()
    tag_mode: str = "all"
    bpm_min: float | None = None
    bpm_max: float | None = None
    bars: tuple[int, ...] = ()
    rating_min: int | None = None
    favourite: bool | None = None
    sources: tuple[str, ...] = ()
    parent_id: int | None = None
    trashed: bool = False
    sort: str = "created"
    descending: bool = True
    limit: int | None = 100
    offset: int = 0

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise once, here
        set_(self, "tags", clean_tags(self.tags))
        set_(self, "bars", _int_tuple(self.bars, "bars"))
        sources = (self.sources,) if isinstance(self.sources, str) else tuple(self.sources)
        for s in sources:
            if s not in SOURCES:
                raise BadParameterError(f"unknown source {s!r}; sources are {', '.join(SOURCES)}")
        set_(self, "sources", sources)
        if self.tag_mode not in TAG_MODES:
            raise BadParameterError(f"tag_mode must be 'all' or 'any', got {self.tag_mode!r}")
        for label, value in (("bpm_min", self.bpm_min), ("bpm_max", self.bpm_max)):
            if value is not None and (not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0):
                raise BadParameterError(f"{label} must be a positive number, got {value!r}")
        if self.bpm_min is not None and self.bpm_max is not None and self.bpm_min > self.bpm_max:
            raise BadParameterError(f"BPM range is empty: {self.bpm_min} > {self.bpm_max}")
        if self.rating_min is not None and (isinstance(self.rating_min, bool) or self.rating_min not in range(6)):
            raise BadParameterError(f"rating_min must be 0-5, got {self.rating_min!r}")
        if self.sort not in SORT_KEYS:
            raise BadParameterError(f"sort must be one of {', '.join(SORT_KEYS)}, got {self.sort!r}")
        if self.limit is not None and (isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 0):
            raise BadParameterError(f"limit must be a whole number >= 0 or None, got {self.limit!r}")
        if isinstance(self.offset, bool) or not isinstance(self.offset, int) or self.offset < 0:
            raise BadParameterError(f"offset must be a whole number >= 0, got {self.offset!r}")
        if self.text is not None and not isinstance(self.text, str):
            raise BadParameterError(f"text must be a string, got {type(self.text).__name__}")


@dataclass(frozen=True)
class ImportResult:
    """What `Library.import_file_detailed` did: `duplicate` is True when the audio was already there."""

    sample: Sample
    duplicate: bool


@dataclass(frozen=True)
class CheckReport:
    """What `Library.check` found (and, with repair, fixed). Paths are relative to the root.

    missing_files: (id, rel_path) rows whose file is gone or not the length the row says.
    orphan_files: files under audio/ that no row owns.
    interrupted: files of adds/purges whose process died before finishing.
    temp_files: temporary files left by a process that died mid-write.
    integrity: SQLite's quick_check verdict, "ok" when the database is sound.
    """

    missing_files: tuple[tuple[int, str], ...]
    orphan_files: tuple[str, ...]
    interrupted: tuple[str, ...]
    temp_files: tuple[str, ...]
    integrity: str
    repaired: bool = False
    adopted: tuple[int, ...] = ()
    moved_to_lost_found: tuple[str, ...] = ()
    removed_rows: tuple[int, ...] = ()
    changed_files: tuple[tuple[int, str], ...] = ()  # deep check: audio differs from what was stored
    deep: bool = False
    removed_temps: tuple[str, ...] = ()
    finished_writes: tuple[str, ...] = ()
    undeletable: tuple[str, ...] = ()  # purged files a read-only folder kept; their journal entries stay

    @property
    def ok(self) -> bool:
        return self.integrity == "ok" and not (
            self.missing_files or self.orphan_files or self.interrupted or self.temp_files or self.changed_files
        )

    @property
    def fixed_anything(self) -> bool:
        return bool(self.adopted or self.moved_to_lost_found or self.removed_rows or self.removed_temps
                    or self.finished_writes)

    def lines(self) -> list[str]:
        """Human-readable summary, one finding per line; after a repair, one line per thing fixed."""
        out = [f"database: {self.integrity}"]
        out += [f"missing file: sample {sid} -> {rel}" for sid, rel in self.missing_files]
        out += [f"changed file: sample {sid} -> {rel} (its audio is not what was stored)" for sid, rel in self.changed_files]
        out += [f"orphan file: {rel}" for rel in self.orphan_files]
        out += [f"interrupted write: {rel}" for rel in self.interrupted]
        out += [f"temporary file: {rel}" for rel in self.temp_files]
        if self.repaired:
            out += [f"repaired: deleted temporary file {rel} left by a killed write" for rel in self.removed_temps]
            out += [f"repaired: finished an interrupted add or purge (removed {rel})" for rel in self.finished_writes]
            out += [f"repaired: re-added orphan as sample {sid}" for sid in self.adopted]
            out += [f"repaired: moved {rel} to lost+found/" for rel in self.moved_to_lost_found]
            out += [f"repaired: removed row of sample {sid} (its file was gone or damaged; metadata saved in lost+found/)"
                    for sid in self.removed_rows]
            out += [f"not repaired: {rel} cannot be deleted (read-only folder?); make it writable and run check --repair again"
                    for rel in self.undeletable]
            if not self.fixed_anything and not self.undeletable:
                out.append("nothing needed repair")
        if self.ok:
            out.append("library is consistent" + (" (audio hashes checked)" if self.deep else ""))
        return out
