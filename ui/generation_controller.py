"""Generation in the app: the model jobs (generate, extend, variations) on the generation pool, their
candidates cut into Fresh tray loops on the analysis pool, progress and the time per candidate on the
generate panel. It reads the producer's choices only through GeneratePanel.settings() and shows
state only through the panel's small setters; the window it reports to (`shell`) says errors and
status lines and knows the selected loop."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np
from cratedigger_ui import tasks
from cratedigger_ui.entries import Entry
from cratedigger_ui.job_messages import CandidatesReady, ModelLoaded
from cratedigger_ui.widgets.entry_list import DragEntryModel, EntryList
from cratedigger_ui.widgets.generate_panel import GeneratePanel

log = logging.getLogger(__name__)

GROUP = "generate"  # the jobs group of every model job: one at a time, Cancel stops it


class GenerationController:
    def __init__(
        self,
        shell: Any,
        *,
        jobs,
        panel: GeneratePanel,
        fresh_model: DragEntryModel,
        fresh_list: EntryList,
        fresh_store,
        drag_cache: Path,
        settings,
        cutter=None,
    ) -> None:
        # shell: show_error(text), set_status(text, ms), update_actions(), current, current_audio()
        self.shell = shell
        self.jobs = jobs
        self.panel = panel
        self.fresh_model = fresh_model
        self.fresh_list = fresh_list
        self.fresh_store = fresh_store
        self.drag_cache = drag_cache
        self.settings = settings
        self.model_cache = tasks.ModelCache()
        # cuts candidates in a worker process (cratedigger_ui.cutting) when given; else on the pool thread
        self.cutter = cutter
        # candidates made but not yet cut into loops, by first number: (candidates, origin, parent, index)
        self._pending_batches: dict[int, tuple[list, str, tasks.ParentGrid | None, int]] = {}
        self._variation_counts: dict[str, int] = {}
        self._fresh_number = 0
        self._model_info: dict = {}
        self._model_loaded = False
        self._job_ref = ""
        self._ready = 0
        self._progress = (0, 0)
        self._label = "generating"

    @property
    def busy(self) -> bool:
        return self.jobs.running(GROUP)

    # -- starting ------------------------------------------------------------------------------

    def start_generation(self, args: tasks.GenerateArgs) -> None:
        if self.busy:
            return
        self.shell.set_status(f"Generating {args.count} breaks with {args.ref}")
        self._submit("Generation", f"{args.count} breaks", tasks.generate_job, args, parent=None, origin="generated",
                     on_done=lambda n: self._finished(f"{n} generated"))

    def start_extend(self, bars: int) -> None:
        source = self._source_for("Extend")
        if source is None:
            return
        entry, (audio, rate) = source
        if not entry.bpm:
            self.shell.show_error(f"Extend: “{entry.name}” has no tempo, so there are no bars to continue; "
                                  "set its tempo under the waveform and press Re-cut first")
            return
        chosen = self.panel.settings()
        args = tasks.ExtendArgs(
            ref=chosen.ref, device=chosen.device, audio=audio.copy(), sample_rate=rate, bpm=float(entry.bpm),
            bars_to_add=bars, beats_per_bar=entry.beats_per_bar, steps=chosen.steps, scheduler=chosen.scheduler,
        )
        self._submit("Extend", f"extending by {bars} bars", tasks.extend_job, args, parent=entry, origin="extended",
                     on_done=lambda result: self._extended(result, entry))

    def start_variations(self, count: int, strength: float) -> None:
        source = self._source_for("Variations")
        if source is None:
            return
        entry, (audio, rate) = source
        chosen = self.panel.settings()
        args = tasks.VariationArgs(
            ref=chosen.ref, device=chosen.device, audio=audio.copy(), sample_rate=rate, count=count,
            strength=strength, steps=chosen.steps, scheduler=chosen.scheduler,
        )
        self._submit("Variations", f"{count} variations", tasks.variations_job, args, parent=entry, origin="variation",
                     on_done=lambda n: self._finished(f"{n} variations"))

    def cancel(self) -> None:
        if self.busy:
            self.jobs.cancel_group(GROUP)
            self.panel.set_progress_text("cancelling…")

    def _source_for(self, what: str) -> tuple[Entry, tuple] | None:
        entry = self.shell.current
        if entry is None:
            self.shell.show_error(f"{what}: select a loop first")
            return None
        audio = self.shell.current_audio()
        if audio is None:
            self.shell.show_error(f"{what}: “{entry.name}” is still loading; try again in a moment")
            return None
        if self.busy:
            self.shell.show_error(f"{what}: wait for the running generation to finish, or cancel it")
            return None
        return entry, audio

    def _submit(self, title: str, label: str, job, args, *, parent: Entry | None, origin: str,
                on_done: Callable[[Any], None]) -> None:
        """Run one model job on the generation pool, its candidates landing in the Fresh tray as
        `origin` loops ("generated", "variation", "extended") with lineage to `parent`."""
        self._ready = 0
        self._progress = (0, 0)
        self._label = label
        self._model_loaded = False
        self._job_ref = args.ref
        self.panel.set_busy(True, "loading model…")
        grid = tasks.parent_grid(parent)
        self.jobs.submit(
            "generation", job, self.model_cache, args, group=GROUP, label=f"{title.lower()} ({label})",
            on_message={
                ModelLoaded: self._model_ready,
                CandidatesReady: lambda message: self._candidates_ready(message, parent=grid, origin=origin),
            },
            on_progress=self._step_progress,
            on_done=on_done,
            on_error=lambda m: self._failed(title, m),
            on_cancelled=lambda: self._finished("cancelled"),
        )
        self.shell.update_actions()

    # -- while it runs -------------------------------------------------------------------------

    def _model_ready(self, message: ModelLoaded) -> None:
        self._model_loaded = True
        self._model_info = dict(message.info)
        self.panel.set_status(f"Running on {message.device} · {message.ref}")
        self.panel.set_progress_text("warming up…")

    def _candidates_ready(self, message: CandidatesReady, *, parent: tasks.ParentGrid | None, origin: str) -> None:
        candidates = list(message.candidates)
        self.panel.show_pace(candidates)
        first = self._fresh_number + 1
        self._fresh_number += len(candidates)
        index = 1
        if parent is not None:  # variations of one source are numbered on from the last
            index = self._variation_counts.get(parent.name, 0) + 1
            self._variation_counts[parent.name] = index + len(candidates) - 1
        # held until analysed, so quitting before then still keeps them (save_pending)
        self._pending_batches[first] = (candidates, origin, parent, index)
        self.jobs.submit(
            "analysis", functools.partial(tasks.prepare_fresh_job, cutter=self.cutter), candidates, first,
            self.drag_cache, dict(self._model_info), parent, origin, self.fresh_store, index, label=f"fresh-{first}",
            on_done=lambda entries, first=first: self.fresh_ready(entries, first),
            on_error=lambda m: self.shell.show_error(f"Could not analyse new loops: {m}"),
        )

    def fresh_ready(self, entries: list[Entry], batch: int | None = None) -> None:
        """Cut loops land in the Fresh tray; the first ever is selected (and auditioned)."""
        if batch is not None:
            self._pending_batches.pop(batch, None)
        first_ever = self.fresh_model.rowCount() == 0
        self.fresh_model.append(entries)
        self._ready += len(entries)
        if self.busy and self._progress[1]:
            self._step_progress(*self._progress)  # "n ready" changes between steps too
        if first_ever and self.shell.current is None and entries:
            self.fresh_list.select_key(entries[0].key)

    def _step_progress(self, done: int, total: int) -> None:
        self._progress = (done, total)
        self.panel.set_progress(done, total, f"{self._label}: {100 * done // max(1, total)}% · {self._ready} ready")

    def _finished(self, text: str) -> None:
        self.panel.set_busy(False, text)
        self.shell.set_status(text.capitalize(), 8000)
        self.shell.update_actions()

    def _failed(self, what: str, message: str) -> None:
        self.panel.set_busy(False, "failed")
        if not self._model_loaded:
            self.panel.forget_model(self._job_ref)
        self.shell.show_error(f"{what} failed: {message}")
        self.shell.update_actions()

    def _extended(self, result, parent: Entry) -> None:
        self._finished(f"extended by {result.bars_added} bars")
        self._fresh_number += 1
        self.jobs.submit(
            "analysis", tasks.prepare_extended_job, result, self._fresh_number, self.drag_cache, dict(self._model_info),
            parent, self.fresh_store, label=f"fresh-{self._fresh_number}", on_done=self.fresh_ready,
            on_error=lambda m: self.shell.show_error(f"Could not prepare the extended loop: {m}"),
        )

    # -- models and devices --------------------------------------------------------------------

    def choose_default_model(self, choice: str) -> None:
        """The model box starts on the engine's default (the producer's choice, else breaks-256 when
        cached, else the built-in starter), with both built-in choices always on the list."""
        try:
            from cratedigger.model import STARTER, default_model_reference
            from cratedigger.model.starter import BREAKS_256, BREAKS_256_MB
        except ImportError:  # an engine without the starter model: keep the panel's own default
            if choice:
                self.panel.remember_model(choice)
            return
        ref = default_model_reference(choice or None)
        tips = {STARTER: "Built in: works offline, fast on a CPU; recorded kits rather than vinyl",
                BREAKS_256: f"teticio's breaks model: {BREAKS_256_MB} MB from the hub the first time, offline after"}
        self.panel.offer_models(tips, select=ref)
        if ref == STARTER:
            self.panel.set_status(f"Model: the built-in starter. The breaks model ({BREAKS_256}, {BREAKS_256_MB} MB "
                                  "download) is in the list")
        else:
            self.panel.set_status(f"Model: {ref}")

    def check_devices(self) -> None:
        self.jobs.submit("generation", tasks.devices_job, label="devices", on_done=self._devices_found,
                         on_error=lambda m: log.info("device check: %s", m))

    def _devices_found(self, devices: list[str]) -> None:
        """Offer only devices this machine has (auto and cpu always)."""
        self.panel.set_devices(devices, self.settings.get_str("model/device", self.panel.settings().device))

    # -- the Fresh tray on disk ----------------------------------------------------------------

    def load_fresh(self) -> None:
        self.jobs.submit("analysis", tasks.load_fresh_job, self.fresh_store, self.drag_cache, label="fresh-load",
                         on_done=self._fresh_loaded, on_error=lambda m: self.shell.show_error(f"Fresh tray: {m}"))

    def _fresh_loaded(self, entries: list[Entry]) -> None:
        if not entries:
            return
        self._fresh_number = max(self._fresh_number, *(e.number for e in entries))
        self.fresh_model.insert_front([e for e in entries if self.fresh_model.get(e.key) is None])
        self.shell.set_status(f"{tasks.plural(len(entries), 'unkept loop')} from last time in Fresh", 6000)

    def save_pending(self) -> None:
        """On quit: candidates still waiting to be cut go to disk as they are."""
        for first, (candidates, origin, parent, index) in list(self._pending_batches.items()):
            for i, cand in enumerate(candidates):
                entry = Entry(
                    key=f"fresh:{first + i}", name=tasks.fresh_name(origin, first + i, parent, index + i),
                    sample_rate=cand.sample_rate, duration=cand.audio.shape[0] / cand.sample_rate,
                    parent_id=parent.sample_id if parent else None,
                    provenance={"seed": cand.seed, "analysis_note": "not analysed before quitting"},
                    audio=np.asarray(cand.audio, dtype=np.float32))
                if not self.fresh_store.has(first + i):
                    tasks.store_entry(self.fresh_store, entry)
