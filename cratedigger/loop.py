"""A loop as the engine hands it on: audio as stored, its grid, its analysis, and where it came from.

    loop = best_loop(audio, sample_rate=sr)                 # analyse, cut the longest whole-bar loop
    loop = loop_on_grid(audio, sample_rate=sr, bpm=133.4, first_downbeat=0.21)   # a producer's grid
    library.add_loop(loop, name="Dusty", tags=["amen"], rating=4)

One value for the app, the CLI and the library: the Fresh tray shows a `Loop`, Keep stores it, and
`origin.kind` is the library's `source` column, so "where did this come from" has one name.
`audio` keeps every channel it was made with; a display copy is `loop.mono()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

# The bar rules live below the loop, slicer and regrid modules that all use them; named here too.
from cratedigger.bars import DEFAULT_BEATS_PER_BAR, WHOLE_BAR_TOLERANCE, grid_beats, loop_beats_per_bar, whole_bars  # noqa: F401
from cratedigger.errors import AnalysisError, BadParameterError

if TYPE_CHECKING:  # the analysis pulls in its backends (~0.6 s); the library imports this module
    from cratedigger.analysis.result import AnalysisResult

ORIGIN_KINDS = ("generated", "variation", "extended", "sliced", "imported")
# A derived loop whose source bar is longer than its audio by more than this is the whole window, not a loop.
BAR_SLACK_S = 0.025


@dataclass(frozen=True, eq=False)
class Origin:
    """Where a loop came from: `kind` (one of ORIGIN_KINDS) and its provenance (model, seed, steps,
    parent name...), plain JSON data."""

    kind: str
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ORIGIN_KINDS:
            raise BadParameterError(f"unknown origin {self.kind!r}; origins are {', '.join(ORIGIN_KINDS)}")
        object.__setattr__(self, "provenance", {k: v for k, v in dict(self.provenance).items() if v is not None})

    def with_(self, **more: Any) -> Origin:
        """The same origin with more provenance (None values are dropped)."""
        return Origin(self.kind, {**self.provenance, **more})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Origin) and (self.kind, dict(self.provenance)) == (other.kind, dict(other.provenance))


@dataclass(frozen=True, eq=False)
class Loop:
    """audio: float32 [n] or [n, ch] at sample_rate Hz, as it will be stored. Times in seconds from
    its first sample. `bars` is set only when the audio spans exactly that many bars at `bpm`.
    `analysis` describes this audio (cut loops get their own grid, with the analysis' confidence);
    `whole` is the clip it was cut from, for re-cutting; `note` says why there are no whole bars."""

    audio: np.ndarray
    sample_rate: int
    origin: Origin
    bpm: float | None = None
    bars: int | None = None
    beats_per_bar: int = DEFAULT_BEATS_PER_BAR
    beats: tuple[float, ...] = ()
    downbeats: tuple[float, ...] = ()
    analysis: AnalysisResult | None = None
    note: str = ""
    whole: np.ndarray | None = None

    @property
    def frames(self) -> int:
        return int(self.audio.shape[0])

    @property
    def channels(self) -> int:
        return 1 if self.audio.ndim == 1 else int(self.audio.shape[1])

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    @property
    def has_whole_bars(self) -> bool:
        return bool(self.bpm and self.bars)

    @property
    def unsure(self) -> tuple[str, ...]:
        return () if self.analysis is None else self.analysis.unsure

    def mono(self) -> np.ndarray:
        """A mono copy for drawing and thumbnails (never for storing or model work)."""
        from cratedigger.audio.dsp import to_mono

        return np.ascontiguousarray(to_mono(self.audio), dtype=np.float32)

    def with_(self, **changes: Any) -> Loop:
        return replace(self, **changes)


def _float_audio(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim not in (1, 2) or audio.shape[0] == 0:
        raise BadParameterError(f"audio must be [samples] or [samples, channels], got shape {audio.shape}")
    return np.ascontiguousarray(audio, dtype=np.float32)


def loop_from_slice(cut: Any, *, origin: Origin, analysis: AnalysisResult | None = None,
                    whole: np.ndarray | None = None, note: str = "") -> Loop:
    """A slicing.LoopSlice as a Loop, its grid starting at the loop's first sample. The analysis of
    the clip it was cut from becomes one of the cut: same backend and confidence, the loop's grid."""
    bpb = int(cut.beats_per_bar)
    beats = grid_beats(bpm=cut.bpm, n_beats=cut.beats)
    downbeats = beats[::bpb]
    if analysis is not None:
        analysis = replace(analysis, bpm=float(cut.bpm), beats=beats, downbeats=downbeats,
                           beat_positions=tuple(i % bpb + 1 for i in range(len(beats))), beats_per_bar=bpb,
                           duration=float(cut.duration))
    return Loop(audio=_float_audio(cut.audio), sample_rate=int(cut.sample_rate), origin=origin, bpm=float(cut.bpm),
                bars=int(cut.bars), beats_per_bar=bpb, beats=beats, downbeats=downbeats, analysis=analysis,
                note=note, whole=None if whole is None else _float_audio(whole))


def _uncut(audio: np.ndarray, sample_rate: int, origin: Origin, analysis: AnalysisResult | None, note: str,
           beats_per_bar: int = DEFAULT_BEATS_PER_BAR) -> Loop:
    """The clip as is, with its tempo and beats when the analysis found them."""
    if analysis is None:
        return Loop(audio=audio, sample_rate=sample_rate, origin=origin, beats_per_bar=beats_per_bar, note=note)
    return Loop(audio=audio, sample_rate=sample_rate, origin=origin,
                bpm=None if analysis.bpm is None else float(analysis.bpm),
                beats_per_bar=int(analysis.beats_per_bar or beats_per_bar), beats=tuple(analysis.beats),
                downbeats=tuple(analysis.downbeats), analysis=analysis, note=note)


def best_loop(audio: np.ndarray, *, sample_rate: int, origin: Origin | None = None,
              analysis: AnalysisResult | None = None, bars: int = 4, backend: str = "auto") -> Loop:
    """The longest whole-bar loop (1, 2 or 4 bars, at most `bars`) of `audio` (float32 [n] or [n, ch]
    at sample_rate Hz), cut by slicing.plan_loop on the analysis (run here when not given) as loops
    count bars (regrid.loop_meter). Audio that has no tempo or not one whole bar is returned whole,
    with `note` saying why; it is never an error to have no loop."""
    from cratedigger.regrid import loop_meter
    from cratedigger.slicing import slice_loop

    audio = _float_audio(audio)
    sample_rate = int(sample_rate)
    origin = origin or Origin("sliced")
    if analysis is None:
        try:
            from cratedigger.analysis import Analyzer

            analysis = Analyzer(backend=backend).analyze(audio, sample_rate=sample_rate)
        except ImportError as exc:
            return _uncut(audio, sample_rate, origin, None, f"beat analysis unavailable ({exc})")
        except (AnalysisError, BadParameterError) as exc:
            return _uncut(audio, sample_rate, origin, None, f"no beat found ({exc})")
    analysis = loop_meter(analysis)  # one bar count everywhere: a 2/4 reading of a 4/4 break is 4/4
    if not analysis.bpm:
        return _uncut(audio, sample_rate, origin, analysis, "no tempo found")
    try:
        cut = slice_loop(audio, sample_rate=sample_rate, analysis=analysis, bars=bars)
    except (AnalysisError, BadParameterError) as exc:
        return _uncut(audio, sample_rate, origin, analysis, f"no whole bar to cut ({exc})")
    return loop_from_slice(cut, origin=origin, analysis=analysis, whole=audio)


def best_loop_from_file(path: Any, *, bars: int = 4, backend: str = "auto") -> Loop:
    """best_loop for a file of any length (analysed and cut in bounded memory); raises AnalysisError
    when there is no whole bar, since a file asked to be sliced has nothing else to give."""
    from pathlib import Path

    from cratedigger.analysis import Analyzer
    from cratedigger.regrid import loop_meter
    from cratedigger.slicing import slice_file

    analysis, _info = Analyzer(backend=backend).analyze_file(path)
    analysis = loop_meter(analysis)
    cut = slice_file(path, analysis=analysis, bars=bars)
    origin = Origin("sliced", {"sliced_from": str(Path(path).absolute()), "start": int(cut.start), "end": int(cut.end)})
    return loop_from_slice(cut, origin=origin, analysis=analysis)


def loop_on_grid(audio: np.ndarray, *, sample_rate: int, bpm: float, first_downbeat: float = 0.0,
                 beats_per_bar: int = DEFAULT_BEATS_PER_BAR, bars: int = 8, origin: Origin) -> Loop:
    """Whole bars of `audio` on a steady grid the producer (or a source loop) set (regrid.recut).
    Raises AnalysisError, in a producer's words, when not one bar fits."""
    from cratedigger.regrid import recut, steady_grid

    audio = _float_audio(audio)
    cut = recut(audio, sample_rate=sample_rate, bpm=bpm, first_downbeat=first_downbeat,
                beats_per_bar=beats_per_bar, bars=bars)
    grid = steady_grid(bpm=bpm, duration=audio.shape[0] / sample_rate, first_downbeat=first_downbeat,
                       beats_per_bar=beats_per_bar)
    return loop_from_slice(cut, origin=origin, analysis=grid, whole=audio)


def loop_on_source_grid(audio: np.ndarray, *, sample_rate: int, bpm: float, beats_per_bar: int,
                        first_downbeat: float = 0.0, source_name: str, origin: Origin) -> Loop:
    """A variation cut on its source's grid (the model keeps the source's time positions). A window
    shorter than one of the source's bars is returned whole, with a note saying so."""
    audio = _float_audio(audio)
    window = audio.shape[0] / sample_rate
    bar = beats_per_bar * 60.0 / bpm
    if bar > window + BAR_SLACK_S:
        note = (f"the model's window ({window:.2f} s) is shorter than one bar of “{source_name}” "
                f"({bar:.2f} s at {bpm:.1f} BPM), so the variation is the whole window, not a loop")
        return _uncut(audio, sample_rate, origin, None, note, beats_per_bar)
    try:
        return loop_on_grid(audio, sample_rate=sample_rate, bpm=bpm, first_downbeat=first_downbeat,
                            beats_per_bar=beats_per_bar, origin=origin)
    except (AnalysisError, BadParameterError) as exc:
        return _uncut(audio, sample_rate, origin, None, str(exc), beats_per_bar)


@dataclass(frozen=True)
class SourceGrid:
    """What loops derived from a source inherit: its name, library id and tempo grid."""

    name: str
    sample_id: int | None
    bpm: float | None
    beats_per_bar: int = DEFAULT_BEATS_PER_BAR
    first_downbeat: float = 0.0


def candidate_origin(candidate: Any, *, model_info: Mapping[str, Any] | None = None,
                     source: SourceGrid | None = None) -> Origin:
    """The origin of a generated or varied candidate (generate.Candidate): its kind from its params,
    its provenance the model, device, seed and every parameter that made it."""
    params = dict(getattr(candidate, "params", {}) or {})
    kind = "variation" if params.get("kind") == "variation" or source is not None else "generated"
    info = dict(model_info or {})
    provenance = {"model": info.get("ref"), "device": info.get("device"), "seed": getattr(candidate, "seed", None),
                  **params}
    if source is not None:
        provenance["parent_name"] = source.name
    return Origin(kind, provenance)


def loop_from_candidate(candidate: Any, *, model_info: Mapping[str, Any] | None = None,
                        source: SourceGrid | None = None) -> Loop:
    """A candidate as a loop: cut on its source's grid when it is a variation of a loop with a tempo,
    else analysed and cut by best_loop. Why it has no whole bars goes in its provenance too."""
    origin = candidate_origin(candidate, model_info=model_info, source=source)
    if source is not None and source.bpm:
        loop = loop_on_source_grid(candidate.audio, sample_rate=candidate.sample_rate, bpm=source.bpm,
                                   beats_per_bar=source.beats_per_bar, first_downbeat=source.first_downbeat,
                                   source_name=source.name, origin=origin)
    else:
        loop = best_loop(candidate.audio, sample_rate=candidate.sample_rate, origin=origin)
    if loop.note:
        loop = loop.with_(origin=loop.origin.with_(analysis_note=loop.note))
    return loop


def extended_loop(result: Any, *, beats_per_bar: int = DEFAULT_BEATS_PER_BAR, source_name: str | None = None,
                  model_info: Mapping[str, Any] | None = None) -> Loop:
    """An extend.ExtendResult as a loop: whole bars at the source tempo (no re-analysis), every channel
    the source had."""
    audio = _float_audio(result.audio)
    bpm = float(result.bpm)
    bar = beats_per_bar * 60.0 / bpm
    bars = max(1, int(round(audio.shape[0] / result.sample_rate / bar)))
    beats = grid_beats(bpm=bpm, n_beats=bars * beats_per_bar)
    params = dict(result.params or {})
    params.pop("kind", None)
    info = dict(model_info or {})
    origin = Origin("extended", {"model": info.get("ref"), "device": info.get("device"), "parent_name": source_name,
                                 "seeds": list(result.seeds), **params})
    return Loop(audio=audio, sample_rate=int(result.sample_rate), origin=origin, bpm=bpm, bars=bars,
                beats_per_bar=beats_per_bar, beats=beats, downbeats=beats[::beats_per_bar])


__all__ = [
    "ORIGIN_KINDS", "Loop", "Origin", "SourceGrid", "best_loop", "best_loop_from_file", "candidate_origin",
    "extended_loop", "grid_beats", "loop_beats_per_bar", "loop_from_candidate", "loop_from_slice", "loop_on_grid", "loop_on_source_grid",
    "whole_bars",
]
