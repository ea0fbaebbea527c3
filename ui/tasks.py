"""The work the app sends to its pools: plain functions `fn(ctx, ...)` over the engine, no widgets.

Each returns values (Entries, paths, arrays) for the GUI thread. Heavy imports (torch, the analysis
backends) happen here, on pool threads, never while the window is being drawn.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cratedigger.errors import BadParameterError, LibraryError
from cratedigger.loop import Loop, Origin, SourceGrid  # (no analysis imported: cheap)
from cratedigger_ui.cutting import fresh_loop
from cratedigger_ui.entries import OVERVIEW_BINS, Entry, entry_from_sample
from cratedigger_ui.job_messages import CandidatesReady, ModelLoaded
from cratedigger_ui.workers import JobContext

log = logging.getLogger(__name__)


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
    """Generate, posting ModelLoaded once the model is in memory and CandidatesReady for each finished
    batch. Returns the count."""
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
    ctx.post(ModelLoaded(describe_model(model)))
    result = generate(
        model, request, on_batch=lambda batch: ctx.post(CandidatesReady(tuple(batch))), on_step=ctx.progress, cancel=ctx.cancel
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
    ctx.post(ModelLoaded(describe_model(model)))
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
    ctx.post(ModelLoaded(describe_model(model)))
    result = make_variations(
        model, args.audio, sample_rate=args.sample_rate, count=args.count, strength=args.strength,
        steps=args.steps, scheduler=args.scheduler,
        on_batch=lambda batch: ctx.post(CandidatesReady(tuple(batch))), on_step=ctx.progress, cancel=ctx.cancel,
    )
    return len(result)


# -- analysis and slicing ------------------------------------------------------------------------
# The engine cuts every loop (cratedigger.loop, as `cratedigger slice`, `generate` and `vary` do); these
# jobs only turn its Loop into a Fresh tray entry and back.


@dataclass(frozen=True)
class RecutArgs:
    """A tempo grid the producer set in the detail view (see cratedigger.regrid)."""

    audio: np.ndarray  # the clip to cut from
    sample_rate: int
    bpm: float
    first_downbeat: float
    bars: int  # at most this many bars (1, 2, 4, 8)


def recut_job(ctx: JobContext, args: RecutArgs, origin: Origin | None = None) -> Loop:
    """Whole bars on the producer's grid (loop.loop_on_grid), every channel kept."""
    from cratedigger.loop import loop_on_grid

    return loop_on_grid(args.audio, sample_rate=args.sample_rate, bpm=args.bpm, first_downbeat=args.first_downbeat,
                        bars=args.bars, origin=origin or Origin("sliced"))


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


# What derived loops inherit from their source: its name, library id and tempo grid (the engine's type).
ParentGrid = SourceGrid


def parent_grid(entry: Entry | None) -> ParentGrid | None:
    if entry is None:
        return None
    return ParentGrid(entry.name, entry.sample_id, entry.bpm, entry.beats_per_bar, 0.0)


def entry_of_loop(loop: Loop, *, key: str, name: str, parent_id: int | None) -> Entry:
    """A Loop as a Fresh tray row: its audio, grid and analysis as the engine made them; `source` is its
    origin kind, so `library list --source` finds it once kept."""
    return Entry(
        key=key, name=name, sample_rate=loop.sample_rate, duration=loop.duration, bpm=loop.bpm, bars=loop.bars,
        beats_per_bar=loop.beats_per_bar, beats=loop.beats, downbeats=loop.downbeats, parent_id=parent_id,
        source=loop.origin.kind, provenance=dict(loop.origin.provenance), overview=overview_of(loop.audio),
        audio=loop.audio, whole=loop.whole, unsure=loop.unsure,  # the tempo bar shows a "?"
        analysis=loop.analysis,
    )


def loop_of_entry(entry: Entry) -> Loop:
    """A fresh entry as the engine's Loop, for Library.add_loop. An entry without an analysis but with a
    tempo (an extension, an old Fresh tray record) is described by its grid, with its true length."""
    analysis = entry.analysis
    if analysis is None and entry.bpm:
        from cratedigger.regrid import steady_grid

        analysis = steady_grid(bpm=float(entry.bpm), duration=entry.duration, first_downbeat=entry.first_downbeat(),
                               beats_per_bar=int(entry.beats_per_bar))
    return Loop(audio=entry.audio, sample_rate=entry.sample_rate, origin=Origin(entry.source, entry.provenance),
                bpm=entry.bpm, bars=entry.bars, beats_per_bar=entry.beats_per_bar, beats=tuple(entry.beats),
                downbeats=tuple(entry.downbeats), analysis=analysis)


def fresh_name(origin: str, number: int, parent: ParentGrid | None, index: int) -> str:
    """Producers' names: "break 07"; derived loops after their source ("Dusty Amen · var 2")."""
    if parent is not None and origin == "variation":
        return f"{parent.name} · var {index}"
    return f"{origin_prefix(origin)}{number:02d}"


def prepare_fresh_job(
    ctx: JobContext, candidates: Sequence[Any], first_number: int, drag_dir: Path, model_info: dict,
    parent: ParentGrid | None, origin: str, store: Any = None, first_index: int = 1, *, cutter: Any = None,
) -> list[Entry]:
    """Cut a batch of candidates into Fresh tray entries (with a drag-ready WAV each), stored in the
    Fresh tray folder (`store`, a FreshStore) as soon as each is ready. With a `cutter`
    (cratedigger_ui.cutting.Cutter) the analysis runs in its worker process."""
    out = []
    for i, cand in enumerate(candidates):
        ctx.check()
        number = first_number + i
        cut = cutter.cut if cutter is not None else fresh_loop
        loop = cut(cand, model_info=model_info, parent=parent, origin=origin)
        entry = entry_of_loop(loop, key=f"fresh:{number}", name=fresh_name(origin, number, parent, first_index + i),
                              parent_id=parent.sample_id if parent else None)
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


def origin_prefix(origin: str) -> str:
    return {"generated": "break ", "variation": "variation ", "extended": "extended "}.get(origin, "")


def prepare_extended_job(ctx: JobContext, result: Any, number: int, drag_dir: Path, model_info: dict, parent: Entry,
                         store: Any = None) -> list[Entry]:
    """An ExtendResult as one Fresh entry (loop.extended_loop: whole bars at the source tempo, every channel)."""
    from cratedigger.loop import extended_loop

    loop = extended_loop(result, beats_per_bar=parent.beats_per_bar, source_name=parent.name, model_info=model_info)
    entry = entry_of_loop(loop, key=f"fresh:{number}", name=f"{parent.name} +{result.bars_added} bars",
                          parent_id=parent.sample_id)
    entry = with_drag_file(entry, drag_dir)
    store_entry(store, entry)
    return [entry]


def recut_entry_job(ctx: JobContext, entry: Entry, args: RecutArgs, drag_dir: Path, store: Any = None) -> Entry:
    """A fresh entry re-cut on the producer's grid (same key), its drag file and stored copy updated."""
    loop = recut_job(ctx, args)
    updated = entry.with_(
        audio=loop.audio, whole=args.audio, duration=loop.duration, bpm=loop.bpm, bars=loop.bars,
        beats_per_bar=loop.beats_per_bar, beats=loop.beats, downbeats=loop.downbeats, analysis=loop.analysis,
        overview=overview_of(loop.audio), provenance={**entry.provenance, "tempo_set_by": "producer"},
    )
    updated = with_drag_file(updated, drag_dir)
    store_entry(store, updated)
    return updated


def recut_library_job(ctx: JobContext, handle: "LibraryHandle", entry: Entry, args: RecutArgs) -> Entry:
    """A library loop re-cut on the producer's grid, kept as a new loop derived from it."""
    from cratedigger.library.naming import MAX_NAME_CHARS

    origin = Origin(entry.source, {**entry.provenance, "tempo_set_by": "producer", "recut_from": entry.sample_id})
    loop = recut_job(ctx, args, origin)
    name = f"{entry.name} · {loop.bpm:.1f} BPM"[:MAX_NAME_CHARS]
    return handle.entry(handle.library.add_loop(loop, name=name, tags=entry.tags, parent_id=entry.sample_id))

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
    """Store a fresh loop in the library (Library.add_loop: the row, its origin as `source`, its analysis,
    rating, favourite, tags and notes in one commit), with its lineage."""
    sample = handle.library.add_loop(loop_of_entry(entry), name=entry.name, tags=entry.tags, rating=entry.rating,
                                     favourite=entry.favourite, notes=entry.notes, parent_id=entry.parent_id)
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
