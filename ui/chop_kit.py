"""Chop to kit in the app: cut the selected loop into its hits and write a kit (hit WAVs, a MIDI file
at the project tempo or the loop's, SFZ and Decent Sampler presets) into a folder the producer picks.

The work is the engine's (cratedigger.chop, as `cratedigger chop FILE --out DIR --bpm N`), run as a
job on the analysis pool with progress and cancel; this module only gathers what the job needs and
says where the kit went.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

log = logging.getLogger(__name__)

KIND = "chop"
STAGES = ("finding hits", "writing the kit")


@dataclass(frozen=True)
class ChopArgs:
    name: str
    audio: np.ndarray | None  # float32 [n] or [n, ch], a copy the job owns; None: read sample_id from the library
    sample_rate: int | None
    bpm: float  # the loop's own tempo: the grid the hits are found on
    origin: float  # seconds of the grid's first 16th (0 for a whole-bar loop)
    folder: Path  # the kit folder is made inside it
    kit_bpm: float | None  # the MIDI file's tempo: the project's, None for the loop's own
    sample_id: int | None = None
    sensitivity: float = 0.5


def chop_job(ctx: Any, handle: Any, args: ChopArgs) -> Any:
    """Chop and write the kit; returns the engine's Kit. Cancel is honoured before each stage, and
    the kit is written whole or not at all (write_kit builds it in a temporary folder).
    handle: the window's LibraryHandle, read when the loop's audio is not in memory yet."""
    from cratedigger.chop import chop_loop, write_kit

    ctx.check()
    ctx.progress(0, len(STAGES))
    audio, rate = args.audio, args.sample_rate
    if audio is None:
        audio, rate = handle.library.read_audio(args.sample_id)
    ctx.check()
    chopped = chop_loop(audio, sample_rate=int(rate), bpm=args.bpm, origin=args.origin, sensitivity=args.sensitivity)
    ctx.check()
    ctx.progress(1, len(STAGES))
    kit = write_kit(chopped, args.folder, name=args.name, bpm=args.kit_bpm)
    ctx.progress(2, len(STAGES))
    return kit


class ChopController:
    """"Chop to kit…" for a MainWindow: checks the loop can be chopped (one line when not), asks
    where (remembered in the settings under chop/folder), runs the job and reports the kit folder."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self.last_kit: Any = None  # the engine's Kit of the last chop (tests, scripts)
        # Where the kit goes: a folder dialog; tests and scripts replace it (default folder -> folder or None).
        self.choose_folder: Callable[[Path], Path | None] = self._folder_dialog

    def default_folder(self) -> Path:
        s = self.window.settings
        return Path(s.get_str("chop/folder", "") or s.get_str("export/folder", "") or str(Path.home()))

    def _folder_dialog(self, default: Path) -> Path | None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self.window, "Chop to kit: make the kit folder in", str(default))
        return Path(folder) if folder else None

    def running(self) -> bool:
        return self.window.jobs.running(KIND)

    def cancel(self) -> None:
        self.window.jobs.cancel_group(KIND)

    def chop_current(self) -> None:
        w = self.window
        entry = w.current
        if entry is None:
            w.set_status("Select a loop to chop", 4000)
            return
        if not entry.bpm:
            w.show_error(f"Chop: “{entry.name}” has no tempo, so there is no beat grid to cut its hits on; "
                         "set its tempo under the waveform and press Re-cut first")
            return
        audio = w.current_audio()  # in memory (fresh, or a library loop already shown), else read by the job
        if audio is None and entry.sample_id is None:
            w.show_error(f"Chop: “{entry.name}” has no audio to chop")
            return
        folder = self.choose_folder(self.default_folder())
        if folder is None or not str(folder).strip():
            return
        folder = Path(folder).expanduser()
        w.settings.set("chop/folder", str(folder))
        from cratedigger.similarity import grid_origin

        project = w.project_tempo_bar.bpm()
        args = ChopArgs(
            name=entry.name, audio=None if audio is None else np.array(audio[0], dtype=np.float32, copy=True),
            sample_rate=None if audio is None else int(audio[1]), bpm=float(entry.bpm),
            origin=grid_origin(bars=entry.bars, downbeats=entry.downbeats, beats=entry.beats),
            folder=folder, kit_bpm=project, sample_id=entry.sample_id)
        name = entry.name
        w.set_status(f"Chopping “{name}”: {STAGES[0]}… (Esc cancels)")
        w.jobs.submit(
            "analysis", chop_job, w.library, args, group=KIND,
            on_progress=lambda done, total: w.set_status(
                f"Chopping “{name}”: {STAGES[min(done, len(STAGES) - 1)]}… (Esc cancels)"),
            on_done=lambda kit: self._chopped(name, kit),
            on_error=lambda m: self._finished(lambda: w.show_error(f"Chop “{name}”: {m}")),
            on_cancelled=lambda: self._finished(lambda: w.set_status(f"Chop of “{name}” cancelled: no kit written", 6000)),
        )
        w.update_actions()

    def _chopped(self, name: str, kit: Any) -> None:
        self.last_kit = kit
        self._finished(lambda: self.window.show_info(
            f"Chopped “{name}” into {len(kit.hits)} hits: {kit.folder} "
            f"(MIDI at {kit.bpm:g} BPM, {kit.sfz.name}, {kit.dspreset.name})"))

    def _finished(self, say: Callable[[], None]) -> None:
        say()
        self.window.update_actions()
