"""The project tempo and "More like this" in the app: a BPM field with a fit mode, and a controller
that fits auditioned loops to it (switching seamlessly while they play) and lists similar samples.

The work is the engine's (cratedigger.tempo_fit, cratedigger.similarity), run as jobs on the
window's pools; this module only collects the producer's answer and hands results to the window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

from cratedigger.tempo_fit import FIT_MODES, MAX_RATIO, MIN_RATIO

log = logging.getLogger(__name__)

SIMILAR_LIMIT = 50
FIT_LABELS = {"stretch": "stretch", "repitch": "re-pitch"}


class ProjectTempoBar(QWidget):
    """Project BPM (0 = off: loops play at their own tempo) and how to fit them. `changed` fires on either."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bpm_spin = QDoubleSpinBox()
        self.bpm_spin.setRange(0.0, 300.0)
        self.bpm_spin.setDecimals(1)
        self.bpm_spin.setSingleStep(1.0)
        self.bpm_spin.setSpecialValueText("off")  # shown at 0
        self.bpm_spin.setKeyboardTracking(False)  # typing "90" must not fit at 9 BPM first
        self.bpm_spin.setToolTip("Play and export loops at this tempo (off: at their own)")
        self.fit_combo = QComboBox()
        for mode in FIT_MODES:
            self.fit_combo.addItem(FIT_LABELS[mode], mode)
        self.fit_combo.setToolTip("stretch keeps the pitch; re-pitch changes speed and pitch like a sampler")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Project BPM"))
        layout.addWidget(self.bpm_spin)
        layout.addWidget(self.fit_combo)
        self.bpm_spin.valueChanged.connect(lambda _v: self.changed.emit())
        self.fit_combo.currentIndexChanged.connect(lambda _i: self.changed.emit())

    def bpm(self) -> float | None:
        value = float(self.bpm_spin.value())
        return value if value > 0 else None

    def fit(self) -> str:
        return str(self.fit_combo.currentData())

    def set_bpm(self, bpm: float | None) -> None:
        self.bpm_spin.setValue(0.0 if bpm is None else float(bpm))

    def set_fit(self, mode: str) -> None:
        index = self.fit_combo.findData(mode)
        if index >= 0:
            self.fit_combo.setCurrentIndex(index)


# -- jobs (worker threads) --------------------------------------------------------------------------


@dataclass(frozen=True)
class FittedAudio:
    key: str
    audio: np.ndarray  # float32 [n] mono at sample_rate
    sample_rate: int
    bpm: float
    fit: str


def fit_job(ctx: Any, key: str, audio: np.ndarray, sample_rate: int, bpm: float, beats: int, target: float,
            fit: str) -> FittedAudio:
    from cratedigger.tempo_fit import fit_to_tempo

    ctx.check()
    out = fit_to_tempo(audio, sample_rate=sample_rate, bpm=bpm, target_bpm=target, beats=beats, mode=fit)
    return FittedAudio(key, out, sample_rate, target, fit)


def drag_job(ctx: Any, handle: Any, sample_id: int, cache_dir: Path, bpm: float, fit: str) -> Path:
    """The drag file of a library loop at the project tempo, in its own cache folder per tempo and
    mode (the loop's own-tempo drag file is left alone)."""
    from cratedigger.library import export_for_drag

    ctx.check()
    return export_for_drag(handle.library, sample_id, cache_dir=cache_dir, bpm=bpm, fit=fit)


def similar_job(ctx: Any, handle: Any, sample_id: int, limit: int, indexes: dict) -> tuple[int, Any]:
    """(sample_id, QueryResult of the nearest samples, nearest first). `indexes` keeps one
    SimilarityIndex per library, touched only on the library pool's one thread."""
    from cratedigger.similarity import SimilarityIndex
    from cratedigger_ui import tasks

    lib = handle.library
    index = indexes.get(id(lib))
    if index is None or index.library is not lib:
        indexes.clear()
        index = indexes[id(lib)] = SimilarityIndex(lib)
    near = index.similar(sample_id, limit=limit)
    ctx.check()
    samples = {s.id: s for s in lib.get_many([n.id for n in near])}
    entries = [handle.entry(samples[n.id]) for n in near if n.id in samples]
    return sample_id, tasks.QueryResult(entries, len(entries), lib.all_tags())


# -- the controller (GUI thread) --------------------------------------------------------------------


class ProjectTempoController:
    """Holds the project tempo's state for a MainWindow and reacts to it.

    audition(key, audio, rate) -> True when it took over (the loop is being fitted and will play
    when ready); changed() re-fits what is loaded and switches to it where it is (no gap: the
    player crossfades); drag_file(entry) is a library or fresh loop's drag file at the project tempo;
    more_like_this() lists the samples nearest the selected one.
    """

    def __init__(self, window: Any, bar: ProjectTempoBar) -> None:
        self.window = window
        self.bar = bar
        self._source: tuple[str, np.ndarray, int] | None = None  # what the audition would play unfitted
        self._start_playing = False
        self._indexes: dict = {}
        self._drag_files: dict[tuple, Path] = {}
        self._drag_pending: tuple | None = None  # the drag file being written (one at a time: replace)
        self._drag_failed: dict[tuple, str] = {}
        bar.changed.connect(self.changed)

    def _beats(self) -> tuple[float, int] | None:
        entry = self.window.current
        if entry is None or not entry.bpm or not entry.bars:
            return None
        return float(entry.bpm), int(entry.bars) * int(entry.beats_per_bar or 4)

    def audition(self, key: str, audio: np.ndarray, sample_rate: int) -> bool:
        self._source = (key, audio, sample_rate)
        target, grid = self.bar.bpm(), self._beats()
        if target is None or grid is None or not MIN_RATIO <= target / grid[0] <= MAX_RATIO:
            if target is not None and grid is not None:
                self.window.statusBar().showMessage(
                    f"{target:g} BPM is beyond {MIN_RATIO:g}x-{MAX_RATIO:g}x of this loop's {grid[0]:.1f}: "
                    "it plays at its own tempo", 6000)
            return False
        self._start_playing = self.window.autoplay or self.window.audition.is_playing()
        self._submit(key, audio, sample_rate, grid, target)
        self._prepare_library_drag()
        return True

    def changed(self) -> None:
        if self._source is None or self.window.current is None or self._source[0] != self.window.current.key:
            return
        key, audio, rate = self._source
        target, grid = self.bar.bpm(), self._beats()
        self._start_playing = self.window.audition.is_playing()
        if target is None or grid is None or not MIN_RATIO <= target / grid[0] <= MAX_RATIO:
            self._switch(key, audio, rate)  # back to the loop's own tempo
            return
        self._submit(key, audio, rate, grid, target)
        self._prepare_library_drag()

    def _prepare_library_drag(self) -> None:
        # A fresh loop's drag file is written from the audition's fitted audio when it lands (_fitted).
        entry = self.window.current
        if entry is not None and entry.sample_id is not None:
            self._prepare_drag(entry)

    # -- drag files at the project tempo -------------------------------------------------------

    def _drag_target(self, entry: Any) -> float | None:
        """The project tempo a drag of `entry` is fitted to, or None: its own file is right (no
        project tempo, no whole bars, or a tempo beyond what fitting does well)."""
        target = self.bar.bpm()
        if target is None or entry is None or not entry.bpm or not entry.bars:
            return None
        if entry.sample_id is None and entry.audio is None:
            return None
        return target if MIN_RATIO <= target / float(entry.bpm) <= MAX_RATIO else None

    def _drag_key(self, entry: Any, target: float) -> tuple:
        if entry.sample_id is not None:
            return ("lib", entry.sample_id, target, self.bar.fit())
        # an unkept loop is known by its tray key; a re-cut changes its tempo, bars and length
        return ("fresh", entry.key, entry.bpm, entry.bars, round(entry.duration, 4), target, self.bar.fit())

    def _prepare_drag(self, entry: Any, fitted: np.ndarray | None = None) -> tuple | None:
        """Start writing `entry`'s drag file at the project tempo unless it is ready or on its way.
        Returns its key (None when no project tempo applies)."""
        target = self._drag_target(entry)
        if target is None:
            return None
        key = self._drag_key(entry, target)
        ready = self._drag_files.get(key)
        if (ready is not None and ready.is_file()) or key == self._drag_pending or key in self._drag_failed:
            return key
        self._drag_files.pop(key, None)
        self._drag_pending = key
        cache = Path(self.window.drag_cache)
        done = lambda path, key=key: self._drag_ready(key, path)  # noqa: E731
        failed = lambda message, key=key: self._drag_not_made(key, message)  # noqa: E731
        if entry.sample_id is not None:
            self.window.jobs.submit(
                "analysis", drag_job, self.window.library, entry.sample_id, cache / f"tempo-{target:g}-{self.bar.fit()}",
                target, self.bar.fit(), group="project-tempo-drag", replace=True, on_done=done, on_error=failed)
        else:
            from cratedigger_ui import tasks

            self.window.jobs.submit(
                "analysis", tasks.fresh_tempo_drag_job, entry, cache, target, self.bar.fit(), fitted,
                group="project-tempo-drag", replace=True, on_done=done, on_error=failed)
        return key

    def _drag_ready(self, key: tuple, path: Path) -> None:
        self._drag_files[key] = path
        if self._drag_pending == key:
            self._drag_pending = None

    def _drag_not_made(self, key: tuple, message: str) -> None:
        log.info("drag file at the project tempo not made: %s", message)
        self._drag_failed[key] = message
        if self._drag_pending == key:
            self._drag_pending = None

    def drag_file(self, entry: Any) -> Path | None:
        """The drag file of `entry` (library or fresh) at the project tempo, or None when its own
        file is right. Raises ValueError, after starting the job, while it is still being written:
        a drag never waits on the GUI thread."""
        key = self._prepare_drag(entry)
        if key is None:
            return None
        path = self._drag_files.get(key)
        if path is not None and path.is_file():
            return path
        if key in self._drag_failed:
            raise ValueError(f"not at {key[-2]:g} BPM: {self._drag_failed[key]}")
        raise ValueError(f"its file at {key[-2]:g} BPM is still being written; drag again in a moment")

    def _submit(self, key: str, audio: np.ndarray, rate: int, grid: tuple[float, int], target: float) -> None:
        self.window.jobs.submit(
            "analysis", fit_job, key, audio.copy(), rate, grid[0], grid[1], target, self.bar.fit(),
            group="project-tempo", replace=True, on_done=self._fitted,
            on_error=lambda m: self.window.show_error(f"Project tempo: {m}"),
        )

    def _fitted(self, result: FittedAudio) -> None:
        current = self.window.current
        if current is None or current.key != result.key or result.bpm != self.bar.bpm():
            return  # the producer moved on, or the tempo changed again while this one was cooking
        self._switch(result.key, result.audio, result.sample_rate)
        if current.sample_id is None and current.audio is not None and result.fit == self.bar.fit():
            self._prepare_drag(current, fitted=result.audio)  # the same audio, not stretched twice

    def _switch(self, key: str, audio: np.ndarray, rate: int) -> None:
        audition = self.window.audition
        if audition.loaded_key() == key and audition.is_playing():
            audition.switch(key, audio, rate)  # same place in the bar, crossfaded
        else:
            audition.load(key, audio, rate)
            if self._start_playing:
                audition.play()

    def more_like_this(self) -> None:
        entry = self.window.current
        if entry is None or entry.sample_id is None:
            self.window.statusBar().showMessage("More like this works on a loop kept in the library", 5000)
            return
        self.window.jobs.submit(
            "library", similar_job, self.window.library, entry.sample_id, SIMILAR_LIMIT, self._indexes,
            group="similar", replace=True, on_done=self._similar_loaded,
            on_error=lambda m: self.window.show_error(f"More like this: {m}"),
        )

    def _similar_loaded(self, payload: tuple[int, Any]) -> None:
        sample_id, result = payload
        self.window.library_ctl.show_result(result)
        self.window.statusBar().showMessage(
            f"{len(result.entries)} loops most like sample {sample_id}, nearest first (change a filter to go back)")
