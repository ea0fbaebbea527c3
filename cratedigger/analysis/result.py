"""The result of analysing one clip: a frozen, JSON-ready value that can cross threads and be stored."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Below these the answer is a guess worth checking: set on benchmarks/groove_corpus.py's tune split,
# where most wrong tempi (x2, /2, x3/2) and most wrong beat-1 picks fall below them and few right ones do.
LOW_TEMPO_CONFIDENCE = 0.5
LOW_BEAT_ONE_CONFIDENCE = 0.35


@dataclass(frozen=True)
class AnalysisResult:
    """Tempo, beat grid and meter of a clip. Times are seconds from the clip's first sample.

    bpm is None when no steady beat was found; beats and downbeats are then empty. Nothing here is
    ever a made-up tempo.

    confidence (0..1) is how sure the tempo is; beat_one_confidence how sure the bar phase is (which
    beat is 1). `unsure` names what is worth a producer's check; None where it was not measured
    (results stored before it existed, or set by hand).
    """

    bpm: float | None
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    beat_positions: tuple[int, ...]  # 1-based position in the bar of each beat
    beats_per_bar: int | None  # meter guess
    confidence: float  # 0..1
    backend: str  # "madmom" or "librosa"
    duration: float  # seconds
    beat_one_confidence: float | None = None  # 0..1

    @property
    def found(self) -> bool:
        return self.bpm is not None

    @property
    def unsure(self) -> tuple[str, ...]:
        """What the analysis is not sure of: () or some of ("tempo", "beat 1"). Empty with no tempo."""
        if self.bpm is None or self.backend == "manual":
            return ()
        out = []
        if self.confidence < LOW_TEMPO_CONFIDENCE:
            out.append("tempo")
        if self.beat_one_confidence is not None and self.beat_one_confidence < LOW_BEAT_ONE_CONFIDENCE:
            out.append("beat 1")
        return tuple(out)

    @property
    def low_confidence(self) -> bool:
        return bool(self.unsure)

    def to_dict(self) -> dict:
        """Plain JSON types only (lists, floats rounded to the microsecond, None)."""
        d = asdict(self)
        d["bpm"] = None if self.bpm is None else round(float(self.bpm), 3)
        for key in ("beats", "downbeats"):
            d[key] = [round(float(t), 6) for t in d[key]]
        d["beat_positions"] = [int(p) for p in self.beat_positions]
        d["confidence"] = round(float(self.confidence), 3)
        d["duration"] = round(float(self.duration), 6)
        if self.beat_one_confidence is not None:
            d["beat_one_confidence"] = round(float(self.beat_one_confidence), 3)
        d["low_confidence"] = self.low_confidence
        d["unsure"] = list(self.unsure)
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
            beat_one_confidence=None if d.get("beat_one_confidence") is None else float(d["beat_one_confidence"]),
        )
