"""Cutting candidates into loops (beat analysis, whole bars) in a worker process instead of a pool
thread. The analysis is Python-heavy (madmom's networks step frame by frame) and holds the
interpreter lock in short bursts; in a thread the GUI thread queued behind it for tens of ms while a
batch was cut. In its own process it shares no lock with the window. No Qt is imported here."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Sequence

log = logging.getLogger(__name__)


def fresh_loop(candidate: Any, *, model_info: dict, parent: Any, origin: str):
    """A candidate as the engine cuts it (loop.loop_from_candidate: best_loop, or its source's grid for
    a variation of a loop with a tempo), its origin the kind the app made it as ("generated", ...)."""
    from cratedigger.loop import ORIGIN_KINDS, Origin, loop_from_candidate

    loop = loop_from_candidate(candidate, model_info=model_info, source=parent)
    if origin in ORIGIN_KINDS and origin != loop.origin.kind:
        loop = loop.with_(origin=Origin(origin, loop.origin.provenance))
    return loop


def _cut(candidate: Any, model_info: dict, parent: Any, origin: str):
    return fresh_loop(candidate, model_info=model_info, parent=parent, origin=origin)


def _ready() -> None:
    """A no-op the workers run once started (their initializer has loaded the analysis by then)."""


def _warm() -> None:
    """Runs once in the worker: the analysis imports before the first batch needs them."""
    try:
        import numpy as np

        import cratedigger.loop  # noqa: F401
        from cratedigger.analysis import analyze

        rate = 22050
        clicks = np.zeros(rate * 3, dtype=np.float32)
        clicks[:: rate // 2] = 1.0  # 120 BPM: loads the beat tracker's networks
        analyze(clicks, sample_rate=rate)
    except Exception as exc:  # noqa: BLE001 - the first cut then pays for the imports
        log.debug("cutter warm-up: %s", exc)


class Cutter:
    """Worker processes (spawned: never a fork of a Qt process) that cut candidates, as many as the
    analysis pool has threads. `cut` blocks its caller, a pool thread, which waits without the lock."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None
        self._broken = False
        self._lock = threading.Lock()  # pool threads may ask for the first cut at once

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                import multiprocessing

                self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_warm,
                                                 mp_context=multiprocessing.get_context("spawn"))
            return self._pool

    def start(self) -> None:
        """Start the workers and load the analysis now (at launch), not when the first batch lands."""
        if not self._broken:
            for _ in range(self.workers):
                self._executor().submit(_ready)

    def cut(self, candidate: Any, *, model_info: dict, parent: Any, origin: str):
        if not self._broken:
            try:
                return self._executor().submit(_cut, candidate, dict(model_info), parent, origin).result()
            except BrokenProcessPool as exc:
                # A worker died (killed, out of memory): loops still get cut, on the calling thread.
                log.warning("cutting process stopped (%s); cutting on the pool thread from now on", exc)
                self._broken = True
                self.close()
        return fresh_loop(candidate, model_info=model_info, parent=parent, origin=origin)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
