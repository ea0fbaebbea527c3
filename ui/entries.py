"""What a row in the Fresh tray or the library browser shows and plays: one `Entry` per loop.

Fresh entries hold their audio in memory (they are not stored yet); library entries load theirs on
demand. Built on pool threads, handed to the GUI thread whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

OVERVIEW_BINS = 160  # thumbnail columns: enough for a 1280-wide list at 2x


@dataclass(frozen=True, eq=False)
class Entry:
    key: str  # "fresh:<n>" or "lib:<id>": stable while the row exists
    name: str
    sample_rate: int
    duration: float  # seconds
    bpm: float | None = None
    bars: int | None = None
    beats_per_bar: int = 4
    beats: tuple[float, ...] = ()
    downbeats: tuple[float, ...] = ()
    tags: tuple[str, ...] = ()
    rating: int = 0
    favourite: bool = False
    sample_id: int | None = None  # set once the loop is in the library
    parent_id: int | None = None
    source: str = "generated"
    provenance: dict[str, Any] = field(default_factory=dict)
    overview: np.ndarray | None = None  # float32 [bins, 2] min/max
    audio: np.ndarray | None = None  # float32 [n] or [n, ch] as made: fresh entries only
    drag_path: Path | None = None  # a ready WAV for drag-out, made on a pool thread
    kept: bool = False  # fresh entries: already added to the library
    whole: np.ndarray | None = None  # float32, channels as audio: fresh entries, the clip before it was cut
    notes: str = ""
    unsure: tuple[str, ...] = ()  # what the analysis was not sure of: "tempo", "beat 1" (AnalysisResult.unsure)
    # fresh entries: the engine's AnalysisResult of `audio` (cratedigger.loop.Loop.analysis), what Keep stores
    analysis: Any = None

    @property
    def is_fresh(self) -> bool:
        return self.key.startswith("fresh:")

    def with_(self, **changes: Any) -> "Entry":
        return replace(self, **changes)

    def bar_seconds(self) -> float | None:
        if not self.bpm:
            return None
        return self.beats_per_bar * 60.0 / self.bpm

    def bar_times(self) -> tuple[float, ...]:
        """Bar starts in seconds: the downbeats, or a grid from 0 at the tempo, or nothing."""
        if self.downbeats:
            return self.downbeats
        bar = self.bar_seconds()
        if not bar:
            return ()
        return tuple(float(t) for t in np.arange(0.0, self.duration + 1e-6, bar))

    @property
    def number(self) -> int | None:
        """n of a "fresh:<n>" key."""
        return int(self.key.split(":", 1)[1]) if self.is_fresh else None

    def first_downbeat(self) -> float:
        return float(self.downbeats[0]) if self.downbeats else 0.0

    def clip(self) -> np.ndarray | None:
        """The audio to re-cut from: the uncut clip when there is one."""
        return self.whole if self.whole is not None else self.audio

    def summary(self) -> str:
        bpm = f"{self.bpm:.1f} BPM" if self.bpm else "no tempo"
        bars = f"{self.bars} bar{'s' if self.bars != 1 else ''}" if self.bars else f"{self.duration:.2f} s"
        return f"{bpm} · {bars}"

    # -- the Fresh tray on disk (cratedigger.fresh_store) ---------------------------------------

    def to_record(self) -> dict[str, Any]:
        """What a fresh entry needs besides its audio, as JSON data."""
        return {
            "key": self.key, "name": self.name, "sample_rate": self.sample_rate, "bpm": self.bpm, "bars": self.bars,
            "beats_per_bar": self.beats_per_bar, "beats": list(self.beats), "downbeats": list(self.downbeats),
            "tags": list(self.tags), "rating": self.rating, "favourite": self.favourite, "parent_id": self.parent_id,
            "source": self.source, "provenance": dict(self.provenance), "notes": self.notes,
            "unsure": list(self.unsure),
            "analysis": None if self.analysis is None else self.analysis.to_dict(),
        }


def entry_from_record(meta: dict[str, Any], audio: np.ndarray, sample_rate: int, whole: np.ndarray | None,
                      overview: np.ndarray | None) -> Entry:
    """A Fresh tray record back as an entry (on a pool thread: the analysis import is not for the GUI's)."""
    analysis = None
    if meta.get("analysis"):
        from cratedigger.analysis.result import AnalysisResult

        analysis = AnalysisResult.from_dict(meta["analysis"])
    return Entry(
        key=str(meta["key"]), name=str(meta["name"]), sample_rate=int(sample_rate), duration=audio.shape[0] / sample_rate,
        bpm=meta.get("bpm"), bars=meta.get("bars"), beats_per_bar=int(meta.get("beats_per_bar") or 4),
        beats=tuple(meta.get("beats") or ()), downbeats=tuple(meta.get("downbeats") or ()),
        tags=tuple(meta.get("tags") or ()), rating=int(meta.get("rating") or 0), favourite=bool(meta.get("favourite")),
        parent_id=meta.get("parent_id"), source=str(meta.get("source") or "generated"),
        provenance=dict(meta.get("provenance") or {}), overview=overview, audio=audio, whole=whole,
        notes=str(meta.get("notes") or ""), unsure=tuple(meta.get("unsure") or ()), analysis=analysis,
    )


def entry_from_sample(sample: Any, overview: np.ndarray | None = None) -> Entry:
    """A library Sample (cratedigger.library.Sample) as a browser row."""
    return Entry(
        key=f"lib:{sample.id}",
        name=sample.name,
        sample_rate=sample.sample_rate,
        duration=sample.duration,
        bpm=sample.bpm,
        bars=sample.bars,
        beats_per_bar=sample.beats_per_bar or 4,
        beats=tuple(sample.beats),
        downbeats=tuple(sample.downbeats),
        tags=tuple(sample.tags),
        rating=sample.rating,
        favourite=sample.favourite,
        sample_id=sample.id,
        parent_id=sample.parent_id,
        source=sample.source,
        provenance=dict(sample.provenance),
        overview=overview,
        notes=sample.notes or "",
    )
