"""Work off the GUI thread: QThreadPools per purpose, jobs with ids and cancel tokens, results as signals.

A job is a plain function `fn(ctx, *args)` run on a pool thread. `ctx` (a JobContext) carries the
job's cancel token and lets it report progress or post typed messages (cratedigger_ui.job_messages)
on the way. What comes back to the GUI thread is a value or a readable message, never an exception
object. Jobs of one `group` can be asked about, cancelled or replaced together; a job that a newer one
of its group replaced is dropped when it lands, by id. A job's `label` only names it in the log.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from cratedigger.cancel import CancelToken
from cratedigger.errors import CancelledError, CrateDiggerError
from cratedigger_ui.job_messages import Handlers, check_handlers, check_message, dispatch

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals a second: the GUI has better things to do
# Model and analysis threads yield the CPU to the GUI thread when a core is contended (Linux nice
# values are per thread): on a 2-core machine they otherwise take turns with it and a repaint waits.
BACKGROUND_NICE = 10
_niced = threading.local()
BACKGROUND_POOLS = ("generation", "analysis")  # library writes are short and the producer waits on them


def yield_to_the_gui(nice: int = BACKGROUND_NICE) -> None:
    """Lower the calling pool thread's priority once, by `nice` below the thread that started it
    (on Linux, where the OS allows it; elsewhere nothing)."""
    if getattr(_niced, "done", False):
        return
    _niced.done = True
    if not sys.platform.startswith("linux"):  # only Linux gives a thread id its own nice value
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except (AttributeError, OSError) as exc:  # not allowed: run at the normal priority
        log.debug("pool thread priority unchanged: %s", exc)


def describe_error(exc: BaseException) -> str:
    """A message a producer can read: our own errors carry one; others get their type in plain words."""
    if isinstance(exc, CrateDiggerError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "ran out of memory; try fewer candidates or a smaller batch"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return f"{exc.strerror or exc}{where}"
    return f"unexpected {type(exc).__name__}: {exc}"


class _Relay(QObject):
    """Lives in the GUI thread; pool threads emit on it, so slots run on the GUI thread (queued)."""

    finished = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)
    progress = Signal(int, int, int)
    message = Signal(int, object)


@dataclass
class JobContext:
    """Handed to a job function: cancel token, progress and typed messages on the way."""

    job_id: int
    cancel: CancelToken
    _relay: _Relay
    _last_progress: float = field(default=0.0)

    def progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        self._relay.progress.emit(self.job_id, int(done), int(total))

    def post(self, message: Any) -> None:
        """Send a JobMessage to the GUI thread; anything else fails the job here, where it was made."""
        self._relay.message.emit(self.job_id, check_message(message))

    def check(self) -> None:
        self.cancel.raise_if_cancelled()


class _Runnable(QRunnable):
    def __init__(self, ctx: JobContext, fn: Callable[..., Any], args: tuple, label: str, background: bool) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._ctx, self._fn, self._args, self._label, self._background = ctx, fn, args, label, background

    def run(self) -> None:  # pool thread
        ctx = self._ctx
        if self._background:
            yield_to_the_gui()
        try:
            ctx.check()
            result = self._fn(ctx, *self._args)
        except CancelledError:
            ctx._relay.cancelled.emit(ctx.job_id)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a message, never a crash
            if not isinstance(exc, CrateDiggerError):
                log.error("job %d (%s) failed:\n%s", ctx.job_id, self._label, traceback.format_exc())
            else:
                log.warning("job %d (%s): %s", ctx.job_id, self._label, exc)
            ctx._relay.failed.emit(ctx.job_id, describe_error(exc))
        else:
            ctx._relay.finished.emit(ctx.job_id, result)


@dataclass
class _Callbacks:
    group: str | None
    label: str
    on_done: Callable[[Any], None] | None
    on_error: Callable[[str], None] | None
    on_progress: Callable[[int, int], None] | None
    on_message: Handlers
    on_cancelled: Callable[[], None] | None
    token: CancelToken


class Jobs(QObject):
    """The app's thread pools and the bookkeeping of jobs in flight.

    Pools: `generation` (one thread: one model, one GPU), `library` (one thread: writes stay in
    order), `analysis` (a few threads: beat tracking, thumbnails, exports).
    """

    idle_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, *, analysis_threads: int | None = None) -> None:
        super().__init__(parent)
        self.pools = {"generation": QThreadPool(self), "library": QThreadPool(self), "analysis": QThreadPool(self)}
        self.pools["generation"].setMaxThreadCount(1)
        self.pools["library"].setMaxThreadCount(1)
        if analysis_threads is None:  # a few, but never all the cores: the GUI thread needs one
            analysis_threads = max(1, min(3, QThread.idealThreadCount() - 1))
        self.pools["analysis"].setMaxThreadCount(analysis_threads)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._on_finished)
        self._relay.failed.connect(self._on_failed)
        self._relay.cancelled.connect(self._on_cancelled)
        self._relay.progress.connect(self._on_progress)
        self._relay.message.connect(self._on_message)
        self._ids = itertools.count(1)
        self._jobs: dict[int, _Callbacks] = {}
        self._latest: dict[str, int] = {}
        self._shut = False

    def submit(
        self,
        pool: str,
        fn: Callable[..., Any],
        *args: Any,
        group: str | None = None,
        label: str | None = None,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        on_message: Mapping[type, Callable[[Any], None]] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        replace: bool = False,
    ) -> int:
        """Run fn(ctx, *args) on `pool`. `group` names jobs that running(), cancel_group() and
        replace=True (cancel and drop the group's older job) act on; `label` names it in the log
        (default: the function's name); `on_message` maps each JobMessage type the job may post to
        its handler."""
        if self._shut:
            return 0
        if replace and group is None:
            raise ValueError("replace=True needs a group: the jobs a new one replaces")
        handlers = dict(on_message or {})
        check_handlers(handlers)
        job_id = next(self._ids)
        label = label or group or getattr(fn, "__name__", type(fn).__name__)
        if group is not None:
            if replace and group in self._latest:
                self.cancel(self._latest[group])
            self._latest[group] = job_id
        token = CancelToken()
        self._jobs[job_id] = _Callbacks(group, label, on_done, on_error, on_progress, handlers, on_cancelled, token)
        was_idle = len(self._jobs) == 1
        runnable = _Runnable(JobContext(job_id, token, self._relay), fn, args, label, pool in BACKGROUND_POOLS)
        self.pools[pool].start(runnable)
        if was_idle:
            self.idle_changed.emit(False)
        return job_id

    def cancel(self, job_id: int) -> None:
        cb = self._jobs.get(job_id)
        if cb is not None:
            cb.token.cancel()

    def cancel_group(self, group: str) -> None:
        for cb in list(self._jobs.values()):
            if cb.group == group:
                cb.token.cancel()

    def running(self, group: str) -> bool:
        return any(cb.group == group for cb in self._jobs.values())

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def _current(self, job_id: int, *, final: bool) -> _Callbacks | None:
        cb = self._jobs.pop(job_id, None) if final else self._jobs.get(job_id)
        if final and cb is not None and not self._jobs:
            self.idle_changed.emit(True)
        if cb is None:
            return None
        # A result for a job that a newer one of its group replaced is stale: drop it.
        if cb.token.cancelled and cb.group is not None and self._latest.get(cb.group) != job_id:
            return None
        return cb

    @Slot(int, object)
    def _on_finished(self, job_id: int, result: Any) -> None:
        cb = self._current(job_id, final=True)
        if cb is not None and cb.on_done is not None:
            self._guarded(cb.on_done, result)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        cb = self._current(job_id, final=True)
        if cb is not None and cb.on_error is not None:
            self._guarded(cb.on_error, message)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        cb = self._current(job_id, final=True)
        if cb is not None and cb.on_cancelled is not None:
            self._guarded(cb.on_cancelled)

    @Slot(int, int, int)
    def _on_progress(self, job_id: int, done: int, total: int) -> None:
        cb = self._current(job_id, final=False)
        if cb is not None and cb.on_progress is not None:
            self._guarded(cb.on_progress, done, total)

    @Slot(int, object)
    def _on_message(self, job_id: int, message: Any) -> None:
        cb = self._current(job_id, final=False)
        if cb is None:
            return
        if type(message) not in cb.on_message:
            # Loud: a message nobody reads is a bug in the job or its submitter. The job stops and
            # its error handler says so, instead of the news being dropped without a word.
            log.error("job %d (%s) posted %s, which nothing handles; cancelling it", job_id, cb.label,
                      type(message).__name__)
            cb.token.cancel()
            if cb.on_error is not None:
                self._guarded(cb.on_error, f"internal error: {cb.label} sent {type(message).__name__}, "
                                           "which nothing here handles")
            cb.on_error = cb.on_cancelled = None  # said once; its cancellation adds nothing
            return
        self._guarded(dispatch, cb.on_message, message)

    @staticmethod
    def _guarded(fn: Callable[..., Any], *args: Any) -> None:
        # A bug in a result handler is logged, not allowed to take the event loop down.
        try:
            fn(*args)
        except Exception:  # noqa: BLE001
            log.exception("handling a job result failed")

    def shutdown(self, timeout_ms: int = 15000) -> bool:
        """Cancel everything and wait for the pools to drain (on quit). True when all finished."""
        self._shut = True
        for cb in self._jobs.values():
            cb.token.cancel()
        ok = True
        for pool in self.pools.values():
            pool.clear()
            ok = pool.waitForDone(timeout_ms) and ok
        return ok

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Wait for every pool to drain (tests and scripts; never called from a slot)."""
        return all(pool.waitForDone(timeout_ms) for pool in self.pools.values())
