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
    audio: np.ndarray | None = None  # float32 [n] mono: fresh entries only
    drag_path: Path | None = None  # a ready WAV for drag-out, made on a pool thread
    kept: bool = False  # fresh entries: already added to the library

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

    def summary(self) -> str:
        bpm = f"{self.bpm:.1f} BPM" if self.bpm else "no tempo"
        bars = f"{self.bars} bar{'s' if self.bars != 1 else ''}" if self.bars else f"{self.duration:.1f} s"
        return f"{bpm} · {bars}"


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
        overview=overview,
    )
