"""The result of analysing one clip: a frozen, JSON-ready value that can cross threads and be stored."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class AnalysisResult:
    """Tempo, beat grid and meter of a clip. Times are seconds from the clip's first sample.

    bpm is None when no steady beat was found; beats and downbeats are then empty. Nothing here is
    ever a made-up tempo.
    """

    bpm: float | None
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    beat_positions: tuple[int, ...]  # 1-based position in the bar of each beat
    beats_per_bar: int | None  # meter guess
    confidence: float  # 0..1
    backend: str  # "madmom" or "librosa"
    duration: float  # seconds

    @property
    def found(self) -> bool:
        return self.bpm is not None

    def to_dict(self) -> dict:
        """Plain JSON types only (lists, floats rounded to the microsecond, None)."""
        d = asdict(self)
        d["bpm"] = None if self.bpm is None else round(float(self.bpm), 3)
        for key in ("beats", "downbeats"):
            d[key] = [round(float(t), 6) for t in d[key]]
        d["beat_positions"] = [int(p) for p in self.beat_positions]
        d["confidence"] = round(float(self.confidence), 3)
        d["duration"] = round(float(self.duration), 6)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> AnalysisResult:
        return cls(
            bpm=None if d.get("bpm") is None else float(d["bpm"]),
            beats=tuple(float(t) for t in d.get("beats", ())),
            downbeats=tuple(float(t) for t in d.get("downbeats", ())),
            beat_positions=tuple(int(p) for p in d.get("beat_positions", ())),
            beats_per_bar=None if d.get("beats_per_bar") is None else int(d["beats_per_bar"]),
            confidence=float(d.get("confidence", 0.0)),
            backend=str(d.get("backend", "")),
            duration=float(d.get("duration", 0.0)),
        )
