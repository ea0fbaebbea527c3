"""Export samples as WAVs that DAWs read as loops: whole bars, BPM and bars in the name, RIFF
`acid` (tempo, beats, meter) and `smpl` (loop points) chunks, 16- or 24-bit PCM."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cratedigger import tempo_fit
from cratedigger.audio import resample as audio_resample
from cratedigger.audio.io import MAX_PCM_PEAK, fit_pcm, validate_audio
from cratedigger.errors import AnalysisError, AudioFileError, BadParameterError, LibraryError
from cratedigger.library import files, riff
from cratedigger.library.naming import candidate_names
from cratedigger.library.store import Library, Sample, SampleRef

EXPORT_RATES = (44100, 48000)
EXPORT_BITS = riff.SUPPORTED_BITS
# Leaves a hair of headroom so full-scale float audio does not hit the top PCM code.
MAX_PEAK = MAX_PCM_PEAK


@dataclass(frozen=True)
class LoopAudio:
    """Audio ready to export: float32 [n] or [n, ch] at `sample_rate` Hz, spanning `bars` bars."""

    audio: np.ndarray
    sample_rate: int
    bpm: float
    bars: int
    beats_per_bar: int

    @property
    def beats(self) -> int:
        return self.bars * self.beats_per_bar


def check_export_options(*, rate: int | None, bits: int) -> None:
    if rate is not None and (isinstance(rate, bool) or rate not in EXPORT_RATES):
        raise BadParameterError(f"export rate must be the sample's own or one of {EXPORT_RATES} Hz, got {rate!r}")
    if bits not in EXPORT_BITS:
        raise BadParameterError(f"export bits must be 16 or 24, got {bits!r}")


def write_loop_wav(
    path: str | os.PathLike,
    audio: np.ndarray,
    *,
    sample_rate: int,
    bpm: float,
    beats: int,
    bits: int = 16,
    beats_per_bar: int = 4,
    overwrite: bool = True,
) -> Path:
    """Write `audio` (float32 [n] or [n, ch], `sample_rate` Hz) atomically as a looping WAV.

    The acid chunk says loop, `beats` beats of `beats_per_bar`/4 at `bpm`; the smpl chunk loops
    every frame. Audio peaking above full scale is turned down (not clipped) to fit PCM.
    overwrite=False raises FileExistsError instead of replacing an existing file.
    """
    audio = validate_audio(audio, sample_rate=sample_rate, what="loop audio")
    if bits not in EXPORT_BITS:
        raise BadParameterError(f"bits must be 16 or 24, got {bits!r}")
    payload = riff.build_loop_wav(
        _fit_pcm(audio), sample_rate=int(sample_rate), bits=bits, beats=int(beats), tempo=float(bpm), meter=(beats_per_bar, 4)
    )
    path = Path(path)
    return files.guard_write(str(path), lambda: files.write_new_file(path, payload, overwrite=overwrite))


def loop_audio(library: Library, sample: SampleRef, *, bars: int = 4) -> LoopAudio:
    """The sample's audio cut to whole bars: as stored when it already is a whole-bar loop,
    otherwise the engine's slicer's cut (the longest of 8/4/2/1 bars, at most `bars`, that fits).

    Only the loop is read from the file (slicing.slice_file), so exporting a cut of an imported
    2-hour record costs the loop's memory, not the record's.
    """
    if isinstance(bars, bool) or not isinstance(bars, int) or bars < 1:
        raise BadParameterError(f"bars must be a whole number >= 1, got {bars!r}")
    s = sample if isinstance(sample, Sample) else library.get(sample)
    if s.bars and s.bpm:
        audio, sample_rate = library.read_audio(s)
        return LoopAudio(audio, sample_rate, float(s.bpm), int(s.bars), int(s.beats_per_bar or 4))
    from cratedigger.regrid import loop_meter
    from cratedigger.slicing import BAR_CHOICES, slice_file

    analysis = loop_meter(_analysis_of(library, s))  # bars counted as every tool counts them
    if analysis.bpm is None:
        raise LibraryError(f"sample {s.id} ({s.name}): no tempo found, so it cannot be cut to whole bars")
    most = max(b for b in BAR_CHOICES if b <= bars)  # the slicer cuts 1/2/4/8 bars and falls back by itself
    try:
        loop = slice_file(s.path, analysis=analysis, bars=most)
    except AudioFileError as exc:
        raise LibraryError(f"sample {s.id}: its file cannot be read ({exc}); run `check`") from exc
    except (AnalysisError, BadParameterError) as exc:
        raise LibraryError(f"sample {s.id} ({s.name}): too short or unsteady to cut a whole bar ({exc})") from exc
    return LoopAudio(loop.audio, loop.sample_rate, float(loop.bpm), int(loop.bars), int(loop.beats_per_bar))


def _analysis_of(library: Library, s: Sample) -> Any:
    """The analysis stored at import when it can be rebuilt (saves seconds), else a fresh one of the
    file (block by block for a long record)."""
    try:
        from cratedigger.analysis import AnalysisResult, analyze_file
    except ImportError as exc:
        raise LibraryError(f"sample {s.id} ({s.name}): the tempo analysis is unavailable ({exc})") from exc
    stored = library.analysis(s.id)
    if stored and stored.get("bpm") and stored.get("beats"):
        if not stored.get("duration"):  # loops kept by older app versions stored no duration: it is the file's
            stored = {**stored, "duration": s.duration}
        return AnalysisResult.from_dict(stored)
    try:
        return analyze_file(s.path)[0]
    except AudioFileError as exc:
        raise LibraryError(f"sample {s.id}: its file cannot be read ({exc}); run `check`") from exc
    except AnalysisError as exc:
        raise LibraryError(f"sample {s.id} ({s.name}): cannot find its beat to cut whole bars ({exc})") from exc


def resample(audio: np.ndarray, *, sample_rate: int, rate: int | None) -> tuple[np.ndarray, int]:
    """To the export rate `rate` (None or equal: unchanged), at the engine's keep quality."""
    if rate is None or rate == sample_rate:
        return audio, sample_rate
    return audio_resample.resample(audio, from_rate=sample_rate, to_rate=rate, quality=audio_resample.KEEP), rate


def export_sample(
    library: Library,
    sample: SampleRef,
    folder: str | os.PathLike,
    *,
    rate: int | None = None,
    bits: int = 16,
    bars: int = 4,
    bpm: float | None = None,
    fit: str = "stretch",
) -> Path:
    """Export one sample into `folder` as `{name}_{bpm}bpm_{bars}bar.wav` (a free name: `-2`, `-3`...
    are added before the BPM when taken). Returns the new file's path.
    bpm: play it at this project tempo, by `fit` "stretch" or "repitch" (see cratedigger.tempo_fit)."""
    check_export_options(rate=rate, bits=bits)
    s = sample if isinstance(sample, Sample) else library.get(sample)
    if bpm is not None:
        tempo_fit.check_sample_fit(s, bpm=bpm, mode=fit)
    folder = ensure_export_folder(folder)
    loop = loop_audio(library, s, bars=bars)
    if bpm is not None:
        loop = tempo_fit.fit_loop(loop, bpm=bpm, mode=fit, what=f"sample {s.id} ({s.name})")
    audio, out_rate = resample(loop.audio, sample_rate=loop.sample_rate, rate=rate)
    payload = _payload(loop, audio, out_rate, bits)
    names = candidate_names(s.name, bpm=loop.bpm, bars=loop.bars)
    return files.guard_write(f"into {folder}", lambda: files.write_unique(folder, names, payload))


def export_samples(
    library: Library, samples: Iterable[SampleRef], folder: str | os.PathLike, *, rate: int | None = None, bits: int = 16,
    bpm: float | None = None, fit: str = "stretch",
) -> list[Path]:
    """Export several samples into one folder; names never collide. Returns the paths in order."""
    check_export_options(rate=rate, bits=bits)
    ids = [s if isinstance(s, Sample) else library.get(s) for s in samples]  # fail before writing anything
    for s in ids if bpm is not None else ():
        tempo_fit.check_sample_fit(s, bpm=bpm, mode=fit)
    return [export_sample(library, s, folder, rate=rate, bits=bits, bpm=bpm, fit=fit) for s in ids]


def export_for_drag(
    library: Library, sample: SampleRef, *, cache_dir: str | os.PathLike | None = None, rate: int | None = None, bits: int = 16,
    bpm: float | None = None, fit: str = "stretch",
) -> Path:
    """A file to hand to a drag-and-drop: cached per sample (`<cache>/<uid>/<name>...wav`) and
    replaced in place on the next drag, so DAWs always get the current name and audio.
    bpm/fit: at the project tempo, as in `export_sample`."""
    check_export_options(rate=rate, bits=bits)
    s = sample if isinstance(sample, Sample) else library.get(sample)
    if bpm is not None:
        tempo_fit.check_sample_fit(s, bpm=bpm, mode=fit)
    if cache_dir is None:
        import platformdirs

        cache_dir = platformdirs.user_cache_path("CrateDigger", appauthor=False) / "drag"
    folder = ensure_export_folder(Path(cache_dir) / s.uid)
    loop = loop_audio(library, s)
    if bpm is not None:
        loop = tempo_fit.fit_loop(loop, bpm=bpm, mode=fit, what=f"sample {s.id} ({s.name})")
    audio, out_rate = resample(loop.audio, sample_rate=loop.sample_rate, rate=rate)
    name = next(iter(candidate_names(s.name, bpm=loop.bpm, bars=loop.bars)))
    for old in folder.glob("*.wav"):  # a renamed sample must not leave its old name behind
        if old.name != name:
            files.remove_quietly(old)
    payload = _payload(loop, audio, out_rate, bits)
    target = folder / name
    return files.guard_write(str(target), lambda: files.write_new_file(target, payload, overwrite=True))


def _fit_pcm(audio: np.ndarray) -> np.ndarray:
    # One level rule for every PCM file we write (slice, extend and export alike): turn down, never clip.
    return fit_pcm(audio)[0]


def _payload(loop: LoopAudio, audio: np.ndarray, rate: int, bits: int) -> bytes:
    return riff.build_loop_wav(
        _fit_pcm(audio), sample_rate=rate, bits=bits, beats=loop.beats, tempo=loop.bpm, meter=(loop.beats_per_bar, 4)
    )


def ensure_export_folder(folder: str | os.PathLike) -> Path:
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise LibraryError(f"export target {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LibraryError(f"cannot create export folder {folder}: {files.describe_os_error(exc)}") from exc
    return folder


__all__ = [
    "EXPORT_BITS",
    "EXPORT_RATES",
    "LoopAudio",
    "export_for_drag",
    "export_sample",
    "ensure_export_folder",
    "export_samples",
    "loop_audio",
    "resample",
    "write_loop_wav",
]
