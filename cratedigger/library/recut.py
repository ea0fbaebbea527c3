"""A library loop cut again on the tempo and beat 1 a producer set, kept as a new sample derived from it.

    derived = recut_sample(lib, 12, bpm=92.5, first_downbeat=0.04, bars=4)

The original is never changed. The new sample keeps the original's origin kind (a re-cut generated
loop is still "generated") and provenance, adds who set the tempo and what it was cut from, carries
the original's tags and points at it as its parent. The app's re-cut and `cratedigger library recut`
both call this, so they make the same sample.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import TYPE_CHECKING

from cratedigger.bars import DEFAULT_BEATS_PER_BAR
from cratedigger.errors import BadParameterError

if TYPE_CHECKING:
    from cratedigger.library.models import Sample
    from cratedigger.library.store import Library


def recut_name(name: str, bpm: float) -> str:
    """The derived loop's name: its source's, with the tempo it was cut at ("Dusty · 92.5 BPM")."""
    from cratedigger.library.naming import MAX_NAME_CHARS

    return f"{name} · {bpm:.1f} BPM"[:MAX_NAME_CHARS]


def recut_sample(library: Library, sample: Sample | int, *, bpm: float, first_downbeat: float = 0.0,
                 bars: int = 8, beats_per_bar: int = DEFAULT_BEATS_PER_BAR) -> Sample:
    """Whole bars (1, 2, 4 or 8, at most `bars`) of the sample's stored audio on a steady grid at `bpm`
    through `first_downbeat` (seconds from its first sample), every channel kept (loop.loop_on_grid),
    added to `library` as a new sample. Returns the new sample.

    Raises LibraryError for an unknown sample, BadParameterError for a tempo or bar count out of range,
    AnalysisError (in a producer's words) when not one bar at that tempo fits the audio.
    """
    from cratedigger.loop import Origin, loop_on_grid

    # regrid.steady_grid folds beat 1 into the first bar but does not reject NaN or infinity itself.
    if isinstance(first_downbeat, bool) or not isinstance(first_downbeat, Real) or not math.isfinite(first_downbeat):
        raise BadParameterError(f"first_downbeat must be a number of seconds, got {first_downbeat!r}")
    source = library.get(sample)
    audio, rate = library.read_audio(source)
    origin = Origin(source.source, {**source.provenance, "tempo_set_by": "producer", "recut_from": source.id})
    loop = loop_on_grid(audio, sample_rate=rate, bpm=bpm, first_downbeat=first_downbeat,
                        beats_per_bar=beats_per_bar, bars=bars, origin=origin)
    return library.add_loop(loop, name=recut_name(source.name, loop.bpm), tags=source.tags, parent_id=source.id)
