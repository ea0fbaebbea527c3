"""The work the app sends to its pools: plain functions `fn(ctx, ...)` over the engine, no widgets.

Each returns values (Entries, paths, arrays) for the GUI thread. Heavy imports (torch, the analysis
backends) happen here, on pool threads, never while the window is being drawn.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cratedigger.errors import AnalysisError, BadParameterError, LibraryError
from cratedigger.loop import ORIGIN_KINDS
from cratedigger_ui.entries import OVERVIEW_BINS, Entry, entry_from_sample
from cratedigger_ui.workers import JobContext

log = logging.getLogger(__name__)

SLICE_BARS = (4, 2, 1)  # longest whole-bar loop that fits wins


# -- models --------------------------------------------------------------------------------------


class ModelCache:
    """The loaded model, reused while the model and device stay the same. Touched only by the
    generation pool's single thread."""

    def __init__(self) -> None:
        self._key: tuple[str, str] | None = None
        self._model = None

    def get(self, ref: str, device: str):
        from cratedigger.model import load_model

        key = (ref, device)
        if self._key != key:
            self._model = None  # free the old weights before loading new ones
            self._model = load_model(ref, device=None if device == "auto" else device)
            self._key = key
            if self._model.device.type == "cpu":
                leave_a_core_for_the_gui()
        return self._model


def leave_a_core_for_the_gui() -> None:
    """CPU sampling uses every core by default, and then the GUI thread (and the audio callback)
    queue behind it; one core fewer costs little on a many-core machine and keeps the app fluid."""
    import os

    import torch

    cores = os.cpu_count() or 1
    wanted = max(1, cores - 1)
    if torch.get_num_threads() > wanted:
        torch.set_num_threads(wanted)
        log.info("CPU sampling on %d of %d cores", wanted, cores)


def describe_model(model: Any) -> dict[str, Any]:
    return {"ref": str(model.ref), "device": str(model.device), "sample_rate": model.mel.sample_rate}


@dataclass(frozen=True)
class GenerateArgs:
    ref: str
    device: str
    count: int
    steps: int | None
    scheduler: str
    seed: int | None  # None: random seeds; else seeds seed, seed+1, ...
    preset: str | None = None  # cratedigger.presets name; steps and scheduler above override it


def generate_job(ctx: JobContext, cache: ModelCache, args: GenerateArgs) -> int:
    """Generate, streaming each finished batch as a partial ("batch", candidates). Returns the count."""
    from cratedigger.generate import MAX_SEED, GenerationRequest, generate

    seeds = None
    if args.seed is not None:
        seeds = tuple((args.seed + i) % (MAX_SEED + 1) for i in range(args.count))
    if args.preset:
        from cratedigger.presets import preset_request

        request = preset_request(args.preset, count=args.count, steps=args.steps, scheduler=args.scheduler, seeds=seeds)
    else:
        request = GenerationRequest(count=args.count, steps=args.steps, scheduler=args.scheduler, seeds=seeds)
    model = cache.get(args.ref, args.device)
    ctx.check()
    ctx.partial(("model", describe_model(model)))
    result = generate(
        model, request, on_batch=lambda batch: ctx.partial(("batch", list(batch))), on_step=ctx.progress, cancel=ctx.cancel
    )
    return len(result)


@dataclass(frozen=True)
class ExtendArgs:
    ref: str
    device: str
    audio: np.ndarray
    sample_rate: int
    bpm: float
    bars_to_add: int
    beats_per_bar: int
    steps: int | None
    scheduler: str


def extend_job(ctx: JobContext, cache: ModelCache, args: ExtendArgs) -> Any:
    """Outpaint the loop by whole bars (cratedigger.extend). Returns its ExtendResult."""
    from cratedigger.extend import extend_loop

    model = cache.get(args.ref, args.device)
    ctx.partial(("model", describe_model(model)))
    check_bar_fits_window(model, bpm=args.bpm, beats_per_bar=args.beats_per_bar)
    return extend_loop(
        model, args.audio, sample_rate=args.sample_rate, bpm=args.bpm, bars_to_add=args.bars_to_add,
        beats_per_bar=args.beats_per_bar, steps=args.steps, scheduler=args.scheduler,
        on_step=ctx.progress, cancel=ctx.cancel,
    )


def model_window_seconds(model: Any) -> float:
    """Seconds of audio one model image holds (x_res * hop_length samples at the model's rate)."""
    mel = model.mel
    return mel.x_res * mel.hop_length / mel.sample_rate


def check_bar_fits_window(model: Any, *, bpm: float, beats_per_bar: int) -> None:
    """Extension needs a bar to fit well inside the model's window; say so in seconds, not samples."""
    window = model_window_seconds(model)
    bar = beats_per_bar * 60.0 / bpm
    if bar >= 0.9 * window:
        raise BadParameterError(
            f"one bar of this loop ({bar:.2f} s at {bpm:.1f} BPM) does not fit this model's window "
            f"({window:.2f} s), so it cannot be continued bar by bar; use a model with a longer window")


@dataclass(frozen=True)
class VariationArgs:
    ref: str
    device: str
    audio: np.ndarray
    sample_rate: int
    count: int
    strength: float
    steps: int | None
    scheduler: str


def variations_job(ctx: JobContext, cache: ModelCache, args: VariationArgs) -> int:
    """Variations of a loop (cratedigger.variations), streamed batch by batch like generation."""
    from cratedigger.variations import make_variations

    model = cache.get(args.ref, args.device)
    ctx.partial(("model", describe_model(model)))
    result = make_variations(
        model, args.audio, sample_rate=args.sample_rate, count=args.count, strength=args.strength,
        steps=args.steps, scheduler=args.scheduler,
        on_batch=lambda batch: ctx.partial(("batch", list(batch))), on_step=ctx.progress, cancel=ctx.cancel,
    )
    return len(result)


# -- analysis and slicing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sliced:
    audio: np.ndarray
    bpm: float | None
    bars: int | None
    beats_per_bar: int
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    analysis: Any
    note: str = ""
    whole: np.ndarray | None = None  # the clip before cutting, when a loop was cut from it


def analyse_and_slice(audio: np.ndarray, sample_rate: int) -> Sliced:
    """Find the beat and cut the longest whole-bar loop (4, 2 or 1 bars). Audio that cannot be
    analysed or sliced is returned whole (with its tempo when one was found) and a note saying why."""
    try:
        from cratedigger.analysis import analyze
    except ImportError as exc:
        return Sliced(audio, None, None, 4, (), (), None, f"beat analysis unavailable ({exc})")
    try:
        analysis = analyze(audio, sample_rate=sample_rate)
    except (AnalysisError, BadParameterError) as exc:
        return Sliced(audio, None, None, 4, (), (), None, f"no beat found ({exc})")
    from cratedigger.regrid import loop_meter

    analysis = loop_meter(analysis)  # one bar count everywhere: a 2/4 reading of a 4/4 break is 4/4
    bpb = int(getattr(analysis, "beats_per_bar", None) or 4)
    whole = Sliced(audio, analysis.bpm and float(analysis.bpm), None, bpb, tuple(analysis.beats), tuple(analysis.downbeats), analysis)
    if not analysis.bpm:
        return replace(whole, note="no tempo found")
    try:
        from cratedigger.slicing import slice_loop
    except ImportError as exc:
        return replace(whole, note=f"slicing unavailable ({exc})")
    last: Exception | None = None
    for bars in SLICE_BARS:
        try:
            loop = slice_loop(audio, sample_rate=sample_rate, analysis=analysis, bars=bars)
        except (AnalysisError, BadParameterError) as exc:
            last = exc
            continue
        n_beats = loop.beats if isinstance(loop.beats, (int, np.integer)) else len(loop.beats)
        beats = tuple(float(t) for t in np.arange(int(n_beats)) * 60.0 / loop.bpm)
        return Sliced(loop.audio, float(loop.bpm), int(loop.bars), bpb, beats, beats[::bpb], analysis, whole=audio)
    return replace(whole, note=f"not even one whole bar fits ({last})")


def sliced_from_loop(loop: Any, beats_per_bar: int, whole: np.ndarray | None, note: str = "") -> Sliced:
    """A slicing.LoopSlice as a Sliced, its grid starting at the loop's first sample."""
    beats = tuple(float(t) for t in np.arange(int(loop.beats)) * 60.0 / loop.bpm)
    audio = loop.audio if loop.audio.ndim == 1 else loop.audio.mean(axis=1, dtype=np.float32)
    return Sliced(np.ascontiguousarray(audio, dtype=np.float32), float(loop.bpm), int(loop.bars), beats_per_bar,
                  beats, beats[::beats_per_bar], None, note, whole)


@dataclass(frozen=True)
class RecutArgs:
    """A tempo grid the producer set in the detail view (see cratedigger.regrid)."""

    audio: np.ndarray  # the clip to cut from
    sample_rate: int
    bpm: float
    first_downbeat: float
    bars: int  # at most this many bars (1, 2, 4, 8)


def recut_job(ctx: JobContext, args: RecutArgs) -> Sliced:
    from cratedigger.regrid import LOOP_BEATS_PER_BAR, recut

    loop = recut(args.audio, sample_rate=args.sample_rate, bpm=args.bpm, first_downbeat=args.first_downbeat,
                 bars=args.bars)
    return sliced_from_loop(loop, LOOP_BEATS_PER_BAR, args.audio)


def overview_of(audio: np.ndarray) -> np.ndarray:
    from cratedigger.audio.dsp import peak_overview

    return peak_overview(audio, n_bins=OVERVIEW_BINS)


def write_drag_wav(entry: Entry, audio: np.ndarray, folder: Path) -> Path:
    """A WAV for dragging a fresh loop out: whole bars with BPM in the name and acid/smpl chunks,
    or, without whole bars, the clip as is (its name, no tempo chunks)."""
    target_dir = folder / entry.key.replace(":", "-")
    target_dir.mkdir(parents=True, exist_ok=True)
    for old in target_dir.glob("*.wav"):  # a re-cut or renamed loop must not leave its old file
        old.unlink(missing_ok=True)
    if not (entry.bpm and entry.bars):
        from cratedigger.clip_export import clip_names, write_clip

        return write_clip(target_dir / next(iter(clip_names(entry.name))), audio, sample_rate=entry.sample_rate)
    from cratedigger.library import write_loop_wav
    from cratedigger.library.naming import candidate_names

    name = next(iter(candidate_names(entry.name, bpm=entry.bpm, bars=entry.bars)))
    return write_loop_wav(
        target_dir / name, audio, sample_rate=entry.sample_rate, bpm=entry.bpm, beats=entry.bars * entry.beats_per_bar,
        beats_per_bar=entry.beats_per_bar,
    )


def with_drag_file(entry: Entry, drag_dir: Path) -> Entry:
    try:
        return entry.with_(drag_path=write_drag_wav(entry, entry.audio, drag_dir))
    except Exception as exc:  # noqa: BLE001 - no drag file is no reason to lose the loop
        log.warning("could not prepare a drag file for %s: %s", entry.name, exc)
        return entry


@dataclass(frozen=True)
class ParentGrid:
    """What derived loops inherit from their source: its name and tempo grid."""

    name: str
    sample_id: int | None
    bpm: float | None
    beats_per_bar: int
    first_downbeat: float


def parent_grid(entry: Entry | None) -> ParentGrid | None:
    if entry is None:
        return None
    return ParentGrid(entry.name, entry.sample_id, entry.bpm, entry.beats_per_bar, 0.0)


def window_shorter_than_a_bar(window_s: float, parent: ParentGrid) -> str:
    bar = parent.beats_per_bar * 60.0 / parent.bpm
    return (f"the model's window ({window_s:.2f} s) is shorter than one bar of “{parent.name}” "
            f"({bar:.2f} s at {parent.bpm:.1f} BPM), so the variation is the whole window, not a loop")


def slice_on_parent_grid(audio: np.ndarray, sample_rate: int, parent: ParentGrid) -> Sliced:
    """A variation cut to its source's tempo (the model keeps the source's time positions), the
    analysis only when the source has no tempo."""
    from cratedigger.regrid import recut

    window = audio.shape[0] / sample_rate
    bar = parent.beats_per_bar * 60.0 / parent.bpm
    if bar > window + 0.025:
        return Sliced(audio, None, None, parent.beats_per_bar, (), (), None, window_shorter_than_a_bar(window, parent))
    try:
        loop = recut(audio, sample_rate=sample_rate, bpm=parent.bpm, first_downbeat=parent.first_downbeat,
                     beats_per_bar=parent.beats_per_bar)
    except (AnalysisError, BadParameterError) as exc:
        return Sliced(audio, None, None, parent.beats_per_bar, (), (), None, str(exc))
    return sliced_from_loop(loop, parent.beats_per_bar, audio)


def fresh_name(kind: str, number: int, parent: ParentGrid | None, index: int) -> str:
    """Producers' names: "break 07"; derived loops after their source ("Dusty Amen · var 2")."""
    if parent is not None and kind == "variation":
        return f"{parent.name} · var {index}"
    return f"{kind_prefix(kind)}{number:02d}"


def prepare_fresh_job(
    ctx: JobContext, candidates: Sequence[Any], first_number: int, drag_dir: Path, model_info: dict,
    parent: ParentGrid | None, kind: str, store: Any = None, first_index: int = 1,
) -> list[Entry]:
    """Analyse and slice a batch of candidates into Fresh tray entries (with a drag-ready WAV each),
    stored in the Fresh tray folder (`store`, a FreshStore) as soon as each is ready."""
    out = []
    for i, cand in enumerate(candidates):
        ctx.check()
        if parent is not None and parent.bpm:
            sliced = slice_on_parent_grid(cand.audio, cand.sample_rate, parent)
        else:
            sliced = analyse_and_slice(cand.audio, cand.sample_rate)
        number = first_number + i
        params = dict(getattr(cand, "params", {}) or {})
        provenance = {"model": model_info.get("ref"), "device": model_info.get("device"), "seed": cand.seed, **params}
        if kind != "generated":
            provenance["made_by"] = kind
        if parent is not None:
            provenance["parent_name"] = parent.name
        if sliced.note:
            provenance["analysis_note"] = sliced.note
        entry = Entry(
            key=f"fresh:{number}",
            name=fresh_name(kind, number, parent, first_index + i),
            sample_rate=cand.sample_rate,
            duration=sliced.audio.shape[0] / cand.sample_rate,
            bpm=sliced.bpm,
            bars=sliced.bars,
            beats_per_bar=sliced.beats_per_bar,
            beats=sliced.beats,
            downbeats=sliced.downbeats,
            parent_id=parent.sample_id if parent else None,
            # the origin kind is the library's `source`, so `library list --source variation` finds it
            source=kind if kind in ORIGIN_KINDS else "generated",
            provenance={k: v for k, v in provenance.items() if v is not None},
            overview=overview_of(sliced.audio),
            audio=np.ascontiguousarray(sliced.audio, dtype=np.float32),
            whole=None if sliced.whole is None else np.ascontiguousarray(sliced.whole, dtype=np.float32),
            unsure=tuple(getattr(sliced.analysis, "unsure", ())),  # the tempo bar shows a "?"
        )
        entry = with_drag_file(entry, drag_dir)
        store_entry(store, entry)
        out.append(entry)
    return out


def store_entry(store: Any, entry: Entry) -> None:
    """Keep a fresh entry on disk; a failure is logged (the loop is still on screen)."""
    if store is None:
        return
    try:
        store.save(entry.number, entry.to_record(), entry.audio, entry.sample_rate, entry.whole)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not keep %s in the Fresh tray folder: %s", entry.name, exc)


def kind_prefix(kind: str) -> str:
    return {"generated": "break ", "variation": "variation ", "extended": "extended "}.get(kind, "")


def prepare_extended_job(ctx: JobContext, result: Any, number: int, drag_dir: Path, model_info: dict, parent: Entry,
                         store: Any = None) -> list[Entry]:
    """An ExtendResult as one Fresh entry: whole bars at the source tempo, no re-analysis needed."""
    audio = np.ascontiguousarray(result.audio, dtype=np.float32)  # every channel: stereo stays stereo
    bpm = float(result.bpm)
    bpb = parent.beats_per_bar
    bar = bpb * 60.0 / bpm
    bars = max(1, int(round(audio.shape[0] / result.sample_rate / bar)))
    beats = tuple(float(t) for t in np.arange(bars * bpb) * 60.0 / bpm)
    entry = Entry(
        key=f"fresh:{number}", name=f"{parent.name} +{result.bars_added} bars", sample_rate=result.sample_rate,
        duration=audio.shape[0] / result.sample_rate, bpm=bpm, bars=bars, beats_per_bar=bpb, beats=beats,
        downbeats=beats[::bpb], parent_id=parent.sample_id, source="extended",
        provenance={"model": model_info.get("ref"), "made_by": "extended", "parent_name": parent.name,
                    "seeds": list(result.seeds), **dict(result.params or {})},
        overview=overview_of(audio), audio=audio,
    )
    entry = with_drag_file(entry, drag_dir)
    store_entry(store, entry)
    return [entry]


def recut_entry_job(ctx: JobContext, entry: Entry, args: RecutArgs, drag_dir: Path, store: Any = None) -> Entry:
    """A fresh entry re-cut on the producer's grid (same key), its drag file and stored copy updated."""
    sliced = recut_job(ctx, args)
    updated = entry.with_(
        audio=sliced.audio, whole=args.audio, duration=sliced.audio.shape[0] / entry.sample_rate, bpm=sliced.bpm,
        bars=sliced.bars, beats_per_bar=sliced.beats_per_bar, beats=sliced.beats, downbeats=sliced.downbeats,
        overview=overview_of(sliced.audio), provenance={**entry.provenance, "tempo_set_by": "producer"},
    )
    updated = with_drag_file(updated, drag_dir)
    store_entry(store, updated)
    return updated


def recut_library_job(ctx: JobContext, handle: "LibraryHandle", entry: Entry, args: RecutArgs) -> Entry:
    """A library loop re-cut on the producer's grid, kept as a new loop derived from it."""
    from cratedigger.library.naming import MAX_NAME_CHARS

    sliced = recut_job(ctx, args)
    name = f"{entry.name} · {sliced.bpm:.1f} BPM"[:MAX_NAME_CHARS]
    sample = handle.library.add_audio(
        sliced.audio, args.sample_rate, name=name, source=entry.source,
        provenance={**entry.provenance, "tempo_set_by": "producer", "recut_from": entry.sample_id},
        analysis={"bpm": sliced.bpm, "beats": sliced.beats, "downbeats": sliced.downbeats,
                  "beats_per_bar": sliced.beats_per_bar},
        bpm=sliced.bpm, bars=sliced.bars, tags=entry.tags, parent_id=entry.sample_id,
    )
    return handle.entry(sample)


def load_fresh_job(ctx: JobContext, store: Any, drag_dir: Path) -> list[Entry]:
    """The Fresh tray as it was left: every stored loop, with thumbnails and drag files."""
    from cratedigger_ui.entries import entry_from_record

    out = []
    for item in store.load_all():
        ctx.check()
        try:
            entry = entry_from_record(item.meta, item.audio, item.sample_rate, item.whole, overview_of(item.audio))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("fresh loop %s: %s; skipped", item.number, exc)
            continue
        out.append(with_drag_file(entry.with_(key=f"fresh:{item.number}"), drag_dir))
    return out


def spectrogram_job(ctx: JobContext, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mel spectrogram for the detail view: uint8 [n_mels, columns], row 0 the lowest band."""
    return display_spectrogram(audio, sample_rate)


def display_spectrogram(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    from cratedigger_ui.widgets.detail_view import display_spectrogram  # the strip's picture is the view's

    return display_spectrogram(audio, sample_rate)


# -- the library ---------------------------------------------------------------------------------


class LibraryHandle:
    """Opens the Library lazily on the library pool's thread (opening touches the disk and may
    migrate). Overviews are cached per sample id."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._library = None
        self._lock = threading.Lock()  # the analysis pool may ask for a read too
        self._overviews: dict[int, np.ndarray] = {}

    @property
    def library(self):
        with self._lock:
            if self._library is None:
                from cratedigger.library import Library

                self._library = Library.open(self.root)
                log.info("library open at %s", self._library.root)
            return self._library

    def close(self) -> None:
        with self._lock:
            if self._library is not None:
                self._library.close()
                self._library = None

    def overview(self, sample: Any) -> np.ndarray | None:
        if sample.id not in self._overviews:
            try:
                audio, _ = self.library.read_audio(sample)
            except LibraryError as exc:
                log.warning("thumbnail of %s: %s", sample.name, exc)
                return None
            self._overviews[sample.id] = overview_of(audio)
        return self._overviews[sample.id]

    def entry(self, sample: Any) -> Entry:
        return entry_from_sample(sample, self.overview(sample))


@dataclass(frozen=True)
class QueryResult:
    entries: list[Entry]
    total: int
    tags: tuple[str, ...]


def query_job(ctx: JobContext, handle: LibraryHandle, query: Any) -> QueryResult:
    lib = handle.library
    samples = lib.query(query)
    entries = []
    for s in samples:
        ctx.check()
        entries.append(handle.entry(s))
    return QueryResult(entries, lib.count(query), lib.all_tags())


@dataclass(frozen=True)
class Detail:
    key: str
    audio: np.ndarray  # float32 [n] mono
    sample_rate: int
    spectrogram: np.ndarray


def load_detail_job(ctx: JobContext, handle: LibraryHandle, entry: Entry) -> Detail:
    """A library sample's audio as stored (every channel) and its spectrogram, for audition, the
    detail view, Extend and Variations: the master copy, never a mono display copy."""
    audio, rate = handle.library.read_audio(entry.sample_id)
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    ctx.check()
    return Detail(entry.key, audio, rate, display_spectrogram(audio, rate))


def keep_job(ctx: JobContext, handle: LibraryHandle, entry: Entry) -> Entry:
    """Store a fresh loop in the library, with its provenance and lineage."""
    lib = handle.library
    sample = lib.add_audio(
        entry.audio, entry.sample_rate, name=entry.name, source=entry.source, provenance=entry.provenance,
        analysis={"bpm": entry.bpm, "beats": entry.beats, "downbeats": entry.downbeats, "beats_per_bar": entry.beats_per_bar,
                  "duration": entry.duration}
        if entry.bpm else None,
        bpm=entry.bpm, bars=entry.bars, tags=entry.tags, parent_id=entry.parent_id, notes=entry.notes,
    )
    if entry.rating:
        sample = lib.rate(sample.id, entry.rating)
    if entry.favourite:
        sample = lib.set_favourite(sample.id, True)
    return handle.entry(sample)


def edit_job(ctx: JobContext, handle: LibraryHandle, sample_id: int, op: str, value: Any) -> Entry:
    """One curation edit: tag, untag, rate, favourite, rename, trash, restore."""
    lib = handle.library
    actions = {
        "tag": lambda: lib.tag(sample_id, value),
        "untag": lambda: lib.untag(sample_id, value),
        "rate": lambda: lib.rate(sample_id, value),
        "favourite": lambda: lib.set_favourite(sample_id, value),
        "rename": lambda: lib.rename(sample_id, value),
        "trash": lambda: lib.trash(sample_id),
        "restore": lambda: lib.restore(sample_id),
        "notes": lambda: lib.set_notes(sample_id, value),
    }
    return handle.entry(actions[op]())


@dataclass(frozen=True)
class ImportOutcome:
    entries: list[Entry]
    errors: list[str]
    duplicates: list[str] = ()  # names of files already in the library

    def summary(self, skipped: Sequence[str] = ()) -> str:
        """"Imported 1 file; 1 was already in the library; 1 is not audio (notes.txt)"."""
        parts = [f"Imported {plural(len(self.entries), 'file')}"]
        if self.duplicates:
            n = len(self.duplicates)
            parts.append(f"{n} {'was' if n == 1 else 'were'} already in the library ({', '.join(self.duplicates)})")
        if skipped:
            n = len(skipped)
            parts.append(f"{n} {'is' if n == 1 else 'are'} not audio ({', '.join(skipped)})")
        return "; ".join(parts)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def import_job(ctx: JobContext, handle: LibraryHandle, paths: Sequence[Path]) -> ImportOutcome:
    from cratedigger.errors import CrateDiggerError

    entries, errors, duplicates = [], [], []
    for i, path in enumerate(paths):
        ctx.check()
        try:
            result = handle.library.import_file_detailed(path)
        except CrateDiggerError as exc:
            errors.append(f"{Path(path).name}: {exc}")
        else:
            if result.duplicate:
                duplicates.append(Path(path).name)
            else:
                entries.append(handle.entry(result.sample))
        ctx.progress(i + 1, len(paths))
    return ImportOutcome(entries, errors, duplicates)


def export_job(ctx: JobContext, handle: LibraryHandle, sample_ids: Sequence[int], folder: Path) -> list[Path]:
    from cratedigger.library import export_sample

    out = []
    for i, sid in enumerate(sample_ids):
        ctx.check()
        out.append(export_sample(handle.library, sid, folder))
        ctx.progress(i + 1, len(sample_ids))
    return out


def fresh_drag_file_job(ctx: JobContext, entry: Entry, cache_dir: Path) -> Path:
    """A fresh loop's drag file written again (it was removed from the drag folder)."""
    return write_drag_wav(entry, entry.audio, cache_dir)


def drag_file_job(ctx: JobContext, handle: LibraryHandle, sample_id: int, cache_dir: Path) -> tuple[int, Path]:
    return sample_id, library_drag_file(handle.library, sample_id, cache_dir)


def library_drag_file(lib: Any, sample_id: int, cache_dir: Path) -> Path:
    """The drag file of a library loop: whole bars with tempo chunks, or, when it has no whole
    bars (no tempo, a one-shot), the clip as is, so a drag always carries the sound."""
    from cratedigger.clip_export import clip_names, write_clip
    from cratedigger.library import export_for_drag

    try:
        return export_for_drag(lib, sample_id, cache_dir=cache_dir)
    except LibraryError as exc:
        if "whole bar" not in str(exc) and "tempo" not in str(exc):
            raise
    sample = lib.get(sample_id)
    audio, rate = lib.read_audio(sample)
    folder = Path(cache_dir) / sample.uid
    folder.mkdir(parents=True, exist_ok=True)
    name = next(iter(clip_names(sample.name)))
    for old in folder.glob("*.wav"):
        if old.name != name:
            old.unlink(missing_ok=True)
    return write_clip(folder / name, audio, sample_rate=rate)


def devices_job(ctx: JobContext) -> list[str]:
    """The devices this machine can run a model on: auto and cpu, plus cuda and mps when present."""
    import torch

    found = ["auto", "cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


@dataclass(frozen=True)
class ExportOptions:
    folder: Path
    rate: int | None = None  # None: each loop's own rate
    bits: int = 16
    as_is: bool = False  # True: every loop as the whole clip; False: whole bars, as is only without them
    bpm: float | None = None  # the project tempo to fit whole-bar loops to (None: their own tempo)
    fit: str = "stretch"  # how: cratedigger.tempo_fit.FIT_MODES


@dataclass(frozen=True)
class ExportOutcome:
    paths: list[Path]
    as_is: list[str]  # names written as the whole clip (no whole bars, or asked for)
    errors: list[str]


def export_selection_job(
    ctx: JobContext, handle: LibraryHandle, sample_ids: Sequence[int], fresh: Sequence[Entry], options: ExportOptions
) -> ExportOutcome:
    """Export library samples and fresh loops into options.folder: whole bars with acid/smpl chunks,
    or the clip as is (no tempo chunks) when it has no whole bars or the producer asked for that.
    With options.bpm, whole-bar loops are fitted to that tempo first (as `library export --bpm --fit`):
    name and chunks carry the new tempo; a loop without a tempo goes out as is, one the tempo is too
    far from is reported. One loop that fails is reported; the rest are still written."""
    from cratedigger.clip_export import export_clip
    from cratedigger.errors import CrateDiggerError
    from cratedigger.library import export_sample, write_loop_wav
    from cratedigger.library.export import resample
    from cratedigger.library.files import describe_os_error
    from cratedigger.library.naming import candidate_names

    folder = Path(options.folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LibraryError(f"cannot create export folder {folder}: {describe_os_error(exc)}") from exc
    out: list[Path] = []
    as_is: list[str] = []
    errors: list[str] = []
    total = len(sample_ids) + len(fresh)
    lib = handle.library if sample_ids else None

    def clip(name: str, audio: np.ndarray, rate: int) -> None:
        out.append(export_clip(audio, sample_rate=rate, name=name, folder=folder, rate=options.rate, bits=options.bits))
        as_is.append(name)

    for sid in sample_ids:
        ctx.check()
        sample = lib.get(sid)
        try:
            if options.as_is:
                clip(sample.name, *lib.read_audio(sample))
            else:
                try:
                    bpm = options.bpm if sample.bpm else None  # no tempo: nothing to fit, it goes out as is
                    out.append(export_sample(lib, sample, folder, rate=options.rate, bits=options.bits, bpm=bpm,
                                             fit=options.fit))
                except LibraryError as exc:
                    if "whole bar" not in str(exc) and "tempo" not in str(exc):
                        raise
                    clip(sample.name, *lib.read_audio(sample))
        except CrateDiggerError as exc:
            errors.append(f"“{sample.name}”: {readable(str(exc))}")
        ctx.progress(len(out) + len(errors), total)
    for entry in fresh:
        ctx.check()
        try:
            if options.as_is or not (entry.bpm and entry.bars):
                clip(entry.name, entry.clip() if options.as_is else entry.audio, entry.sample_rate)
            else:
                audio, bpm = fresh_at_tempo(entry, options.bpm, options.fit)
                audio, rate = resample(audio, sample_rate=entry.sample_rate, rate=options.rate)
                target = next(folder / n for n in candidate_names(entry.name, bpm=bpm, bars=entry.bars)
                              if not (folder / n).exists())
                out.append(write_loop_wav(target, audio, sample_rate=rate, bpm=bpm, bits=options.bits,
                                          beats=entry.bars * entry.beats_per_bar, beats_per_bar=entry.beats_per_bar,
                                          overwrite=False))
        except (CrateDiggerError, OSError) as exc:
            errors.append(f"“{entry.name}”: {readable(str(exc))}")
        ctx.progress(len(out) + len(errors), total)
    return ExportOutcome(out, as_is, errors)


def fresh_at_tempo(entry: Entry, bpm: float | None, fit: str, audio: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(audio, tempo) of a fresh whole-bar loop at the project tempo `bpm` (None: as it is).
    Raises BadParameterError when the tempo is beyond what `fit` does well."""
    audio = entry.audio if audio is None else audio
    if bpm is None:
        return audio, float(entry.bpm)
    from cratedigger.tempo_fit import check_fit, fit_to_tempo

    check_fit(bpm=entry.bpm, target_bpm=bpm, mode=fit, what="this loop")
    beats = int(entry.bars) * int(entry.beats_per_bar or 4)
    return fit_to_tempo(audio, sample_rate=entry.sample_rate, bpm=float(entry.bpm), target_bpm=float(bpm), beats=beats,
                        mode=fit), float(bpm)


def fresh_tempo_drag_job(ctx: JobContext, entry: Entry, cache_dir: Path, bpm: float, fit: str,
                         fitted: np.ndarray | None = None) -> Path:
    """A fresh loop's drag file at the project tempo, in its own folder per tempo and mode (the
    loop's own-tempo file stays). `fitted`: the audio already fitted for audition, else fitted here."""
    ctx.check()
    audio = fitted if fitted is not None else fresh_at_tempo(entry, bpm, fit)[0]
    ctx.check()
    return write_drag_wav(entry.with_(bpm=float(bpm)), audio, Path(cache_dir) / f"tempo-{bpm:g}-{fit}")


def readable(message: str) -> str:
    """Engine messages for the app: no internal ids ("sample 12 (Dusty): ..."), no CLI wording."""
    import re

    message = re.sub(r"\bsample \d+ \(([^)]*)\)", r"“\1”", message)
    message = message.replace("pass a local model folder", "choose a model folder")
    message = re.sub(r"\s*\(?use --[a-z-]+[^)]*\)?", "", message)
    return message


def warm_up_job(ctx: JobContext) -> dict[str, float]:
    """Import the heavy engine parts and run the beat tracker once, at launch, off the GUI thread.

    Loading big native libraries (torch, LLVM for numba) and JIT-compiling hold the GIL for
    hundreds of milliseconds at a time; done here while the producer looks at the library, rather
    than in the middle of their first generation. Returns seconds per part (logged).
    """
    import time

    timings: dict[str, float] = {}

    def step(name: str, fn) -> None:
        ctx.check()
        start = time.perf_counter()
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - a failed warm-up only means the first use is slower
            log.info("warm-up of %s failed: %s", name, exc)
        timings[name] = round(time.perf_counter() - start, 3)

    def torch_and_diffusers() -> None:
        import diffusers  # noqa: F401
        import torch  # noqa: F401

        import cratedigger.generate  # noqa: F401

    def mel() -> None:
        from cratedigger.mel import MelParams, mel_basis

        mel_basis(MelParams())  # imports librosa (numba, LLVM)

    def analysis() -> None:
        from cratedigger.analysis import analyze

        import cratedigger.slicing  # noqa: F401

        rate = 22050
        clicks = np.zeros(rate * 3, dtype=np.float32)
        clicks[:: rate // 2] = 1.0  # 120 BPM
        analyze(clicks, sample_rate=rate)

    step("torch", torch_and_diffusers)
    step("mel", mel)
    step("analysis", analysis)
    log.info("warm-up done: %s", timings)
    return timings
