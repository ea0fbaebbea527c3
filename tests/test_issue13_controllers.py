"""Issue 13: the window's controllers. Generation reads the producer's choices only through
GeneratePanel.settings(); jobs post typed messages and one nobody handles is an error, not silence;
the library count reaches the filter bar through BrowserFilters.set_count. Real widgets, offscreen."""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

from library_helpers import click_loop
from ui_helpers import two_loop_library as make_two_loop_library

RATE = 22050


class RecordingJobs:
    """Stands in for the window's Jobs: records what a controller submits, runs nothing."""

    def __init__(self) -> None:
        self.submitted: list[SimpleNamespace] = []

    def submit(self, pool, fn, *args, **kw):
        self.submitted.append(SimpleNamespace(pool=pool, fn=fn, args=args, **kw))
        return len(self.submitted)

    def running(self, group):
        return False


class Shell:
    """The little a controller asks of the window: the selected loop and a place to say things."""

    def __init__(self, entry) -> None:
        self.current = entry
        self.errors: list[str] = []

    def current_audio(self):
        return (self.current.audio, self.current.sample_rate) if self.current is not None else None

    def show_error(self, text):
        self.errors.append(text)

    def set_status(self, text, timeout_ms=0):
        pass

    def update_actions(self):
        pass


def _controller(qtbot, tmp_path, entry):
    from cratedigger_ui.generation_controller import GenerationController
    from cratedigger_ui.widgets.entry_list import DragEntryModel, EntryList
    from cratedigger_ui.widgets.generate_panel import GeneratePanel

    panel = GeneratePanel()
    qtbot.addWidget(panel)
    fresh_model = DragEntryModel()
    fresh_list = EntryList(fresh_model)
    qtbot.addWidget(fresh_list)
    shell = Shell(entry)
    jobs = RecordingJobs()
    controller = GenerationController(shell, jobs=jobs, panel=panel, fresh_model=fresh_model, fresh_list=fresh_list,
                                      fresh_store=None, drag_cache=tmp_path / "drag", settings=None)
    return controller, panel, jobs, shell


def _selected_loop():
    from cratedigger_ui.entries import Entry

    audio = click_loop(bpm=120, bars=2, sample_rate=RATE)
    return Entry(key="fresh:1", name="break 01", sample_rate=RATE, duration=audio.shape[0] / RATE, bpm=120.0,
                 bars=2, audio=audio.astype(np.float32))


def test_generation_reads_the_panel_only_through_settings(qtbot, tmp_path, monkeypatch):
    from cratedigger_ui import tasks
    from cratedigger_ui.widgets.generate_panel import GenerationSettings

    controller, panel, jobs, shell = _controller(qtbot, tmp_path, _selected_loop())
    chosen = GenerationSettings(ref="my/model", device="cpu", count=3, preset="standard", steps=17, scheduler="ddim",
                                seed=None, extend_bars=2, variation_count=4, strength=0.5)
    # The choice widgets are gone: a controller that read one of them would fail here.
    for child in ("model_box", "device_box", "count_spin", "preset_box", "steps_spin", "scheduler_box"):
        monkeypatch.setattr(panel, child, None)
    monkeypatch.setattr(panel, "settings", lambda: chosen)

    controller.start_variations(2, 0.3)
    controller.start_extend(1)
    assert shell.errors == []
    variations, extend = (job.args[1] for job in jobs.submitted)
    assert isinstance(variations, tasks.VariationArgs) and isinstance(extend, tasks.ExtendArgs)
    assert (variations.ref, variations.device, variations.steps, variations.scheduler) == ("my/model", "cpu", 17, "ddim")
    assert (variations.count, variations.strength) == (2, 0.3)
    assert (extend.ref, extend.device, extend.steps, extend.scheduler, extend.bars_to_add) == ("my/model", "cpu", 17, "ddim", 1)
    assert all(job.group == "generate" for job in jobs.submitted)


def test_panel_settings_are_what_the_widgets_show(qtbot):
    from cratedigger_ui.widgets.generate_panel import GeneratePanel

    panel = GeneratePanel()
    qtbot.addWidget(panel)
    panel.steps_spin.setValue(23)
    panel.count_spin.setValue(5)
    panel.random_seed.setChecked(False)
    panel.seed_spin.setValue(42)
    chosen = panel.settings()
    assert (chosen.steps, chosen.count, chosen.seed) == (23, 5, 42)
    with pytest.raises(AttributeError):
        chosen.steps = 1  # frozen: what was read is what runs
    assert panel.args() == chosen.generate_args()


def test_candidates_arrive_as_a_typed_message_and_land_in_the_fresh_tray(qtbot, tmp_path):
    from cratedigger_ui import tasks
    from cratedigger_ui.job_messages import CandidatesReady, ModelLoaded

    controller, panel, jobs, shell = _controller(qtbot, tmp_path, None)
    controller.start_generation(tasks.GenerateArgs(ref="m", device="cpu", count=1, steps=2, scheduler="ddim", seed=0))
    (model_job,) = jobs.submitted
    assert set(model_job.on_message) == {ModelLoaded, CandidatesReady}
    model_job.on_message[ModelLoaded](ModelLoaded({"ref": "m", "device": "cpu", "sample_rate": RATE}))
    assert panel.status.text() == "Running on cpu · m"
    cand = SimpleNamespace(audio=click_loop(bpm=120, bars=2, sample_rate=RATE), sample_rate=RATE, seed=0, seconds=None)
    model_job.on_message[CandidatesReady](CandidatesReady((cand,)))
    cut = jobs.submitted[-1]
    assert cut.fn.func is tasks.prepare_fresh_job and cut.args[0] == [cand] and cut.args[5] == "generated"
    assert controller._pending_batches[1][1] == "generated"  # held until cut: a quit still keeps it


@dataclass(frozen=True)
class _Unexpected:
    value: int


def test_messages_are_dispatched_by_type_and_anything_else_is_rejected():
    from cratedigger_ui.job_messages import CandidatesReady, ModelLoaded, UnhandledMessageError, dispatch

    seen = []
    handlers = {ModelLoaded: lambda m: seen.append(("model", m.ref)), CandidatesReady: lambda m: seen.append(len(m.candidates))}
    dispatch(handlers, ModelLoaded({"ref": "r", "device": "cpu"}))
    dispatch(handlers, CandidatesReady((1, 2)))
    assert seen == [("model", "r"), 2]
    with pytest.raises(UnhandledMessageError):
        dispatch(handlers, ("batch", [1, 2]))  # the old untyped tuple
    with pytest.raises(UnhandledMessageError):
        dispatch({ModelLoaded: seen.append}, CandidatesReady(()))  # a message nobody here handles


def _run_job(qtbot, jobs, fn, **handlers):
    done = {}
    jobs.submit("analysis", fn, on_error=lambda m: done.setdefault("error", m),
                on_done=lambda v: done.setdefault("done", v), **handlers)
    qtbot.waitUntil(lambda: bool(done), timeout=5000)
    jobs.wait()
    return done


def test_a_job_posting_an_unhandled_message_fails_loudly(qtbot, caplog):
    from cratedigger_ui.job_messages import CandidatesReady, ModelLoaded
    from cratedigger_ui.workers import Jobs

    jobs = Jobs()

    def posts_candidates(ctx):
        ctx.post(CandidatesReady(()))
        for _ in range(200):  # still running when the GUI thread reads the message
            ctx.check()
            import time

            time.sleep(0.01)
        return "finished"

    done = _run_job(qtbot, jobs, posts_candidates, on_message={ModelLoaded: lambda m: None})
    assert "CandidatesReady" in done["error"] and "done" not in done
    assert any("nothing handles" in r.getMessage() for r in caplog.records)

    done = _run_job(qtbot, jobs, lambda ctx: ctx.post(("model", {})))  # not a message at all: the job fails
    assert "JobMessage" in done["error"]

    with pytest.raises(TypeError):
        jobs.submit("analysis", lambda ctx: None, on_message={_Unexpected: print})  # not a JobMessage type
    jobs.shutdown()


def test_replace_needs_a_group_and_groups_are_not_labels(qtbot):
    from cratedigger_ui.workers import Jobs

    jobs = Jobs()
    with pytest.raises(ValueError):
        jobs.submit("analysis", lambda ctx: None, replace=True)
    jobs.submit("analysis", lambda ctx: __import__("time").sleep(0.2), label="fresh-7")
    assert not jobs.running("fresh-7")  # a label names a job in the log; only a group is asked about
    jobs.submit("analysis", lambda ctx: __import__("time").sleep(0.2), group="detail")
    assert jobs.running("detail")
    jobs.wait()
    jobs.shutdown()


@pytest.fixture
def two_loop_library(tmp_path):
    return make_two_loop_library(tmp_path / "library")


def test_the_count_reaches_the_filter_bar_through_set_count(make_window, qtbot, two_loop_library, monkeypatch):
    from cratedigger_ui.widgets.browser import BrowserFilters

    counts = []
    real = BrowserFilters.set_count
    monkeypatch.setattr(BrowserFilters, "set_count", lambda self, shown, total: (counts.append((shown, total)),
                                                                                 real(self, shown, total)))
    window = make_window(library_root=two_loop_library)
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 2, timeout=15000)
    assert counts[-1] == (2, 2) and window.filters.count_label.text() == "2 loops"
    qtbot.keyClicks(window.filters.search, "lazy")
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 1, timeout=5000)
    # the total is the query's own count: "n of m" is only for a list cut at the query's limit
    assert counts[-1] == (1, 1) and window.filters.count_label.text() == "1 loop"


def test_set_count_words(qtbot):
    from cratedigger_ui.widgets.browser import BrowserFilters

    bar = BrowserFilters()
    qtbot.addWidget(bar)
    for shown, total, text in ((3, 40, "3 of 40"), (1, 1, "1 loop"), (0, 0, "0 loops"), (12, 12, "12 loops")):
        bar.set_count(shown, total)
        assert bar.count_label.text() == text


def test_thumbnails_are_drawn_once_per_loop_and_again_after_a_recut(qtbot):
    from cratedigger_ui.entries import OVERVIEW_BINS
    from cratedigger_ui.widgets.entry_delegate import EntryDelegate
    from PySide6.QtGui import QColor

    delegate = EntryDelegate()
    overview = np.stack([-np.linspace(0, 1, OVERVIEW_BINS), np.linspace(0, 1, OVERVIEW_BINS)], axis=1)
    first = delegate.thumbnail("lib:1", overview, 120, 38, 1.0)
    assert delegate.thumbnail("lib:1", overview, 120, 38, 1.0).cacheKey() == first.cacheKey()  # reused
    image = first.toImage()
    assert image.pixelColor(118, 19) == QColor("#f0a830")  # the loud end is drawn in the wave colour
    assert image.pixelColor(2, 2) == QColor("#0e0f11")
    recut = overview[::-1].copy()  # loud at the start now, silent at the end (the wave is drawn to its peak)
    again = delegate.thumbnail("lib:1", recut, 120, 38, 1.0)
    assert again.cacheKey() != first.cacheKey()  # a new overview is drawn again, never the stale one
    assert again.toImage().pixelColor(118, 5) == QColor("#0e0f11")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is a Linux feature")
def test_model_and_analysis_threads_yield_the_cpu_to_the_gui_thread(qtbot):
    from cratedigger_ui.workers import BACKGROUND_NICE, Jobs

    jobs = Jobs()
    gui = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = {}
    for pool in ("analysis", "generation", "library"):
        jobs.submit(pool, lambda ctx: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()),
                    on_done=lambda nice, pool=pool: seen.setdefault(pool, nice))
    qtbot.waitUntil(lambda: len(seen) == 3, timeout=5000)
    assert seen["analysis"] == seen["generation"] == min(19, gui + BACKGROUND_NICE)
    assert seen["library"] == gui  # writes the producer waits on keep the GUI's priority
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == gui  # the GUI thread itself is untouched
    jobs.shutdown()


def test_the_cutting_process_cuts_a_candidate_as_the_pool_thread_does():
    from cratedigger.generate import Candidate
    from cratedigger_ui.cutting import Cutter, fresh_loop

    audio = click_loop(bpm=100, bars=2, sample_rate=RATE)[: int(5.9 * RATE)].astype(np.float32)
    cand = Candidate(index=0, seed=3, audio=audio, image=np.zeros((4, 4), np.uint8), sample_rate=RATE,
                     params={"steps": 2})
    cutter = Cutter()
    try:
        there = cutter.cut(cand, model_info={"ref": "some/model"}, parent=None, origin="generated")
    finally:
        cutter.close()
    here = fresh_loop(cand, model_info={"ref": "some/model"}, parent=None, origin="generated")
    assert (there.bpm, there.bars, there.origin) == (here.bpm, here.bars, here.origin) and there.bpm == 100.0
    assert np.array_equal(there.audio, here.audio) and there.analysis == here.analysis


def test_a_dead_cutting_process_falls_back_to_cutting_here():
    from cratedigger.generate import Candidate
    from cratedigger_ui.cutting import Cutter

    audio = click_loop(bpm=100, bars=2, sample_rate=RATE)[: int(5.9 * RATE)].astype(np.float32)
    cand = Candidate(index=0, seed=3, audio=audio, image=np.zeros((4, 4), np.uint8), sample_rate=RATE)
    cutter = Cutter()
    try:
        cutter.cut(cand, model_info={}, parent=None, origin="generated")
        for process in list(cutter._pool._processes.values()):
            process.kill()  # as the OS does to a worker out of memory
            process.join(10)
        loop = cutter.cut(cand, model_info={}, parent=None, origin="generated")
    finally:
        cutter.close()
    assert loop.bpm == 100.0 and cutter._pool is None  # cut on this thread; no dead pool kept


def test_the_cutting_workers_start_before_the_first_batch(qtbot):
    from cratedigger_ui.cutting import Cutter

    cutter = Cutter(workers=2)
    try:
        cutter.start()
        qtbot.waitUntil(lambda: len(cutter._pool._processes) == 2, timeout=10000)
        assert all(p.is_alive() for p in cutter._pool._processes.values())
    finally:
        cutter.close()
    assert cutter._pool is None
