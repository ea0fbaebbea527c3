"""Cutting candidates into loops (beat analysis, whole bars) in a worker process instead of a pool
thread. The analysis is Python-heavy (madmom's networks step frame by frame) and holds the
interpreter lock in short bursts; in a thread the GUI thread queued behind it for tens of ms while a
batch was cut. In its own process it shares no lock with the window. No Qt is imported here."""

from __future__ import annotations

import logging
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
    """One worker process (started on first use, spawned: never a fork of a Qt process) that cuts
    candidates one at a time. `cut` blocks its caller, a pool thread, which waits without the lock."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._broken = False

    def cut(self, candidate: Any, *, model_info: dict, parent: Any, origin: str):
        if self._broken:
            return fresh_loop(candidate, model_info=model_info, parent=parent, origin=origin)
        if self._pool is None:
            import multiprocessing

            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_warm)
        try:
            return self._pool.submit(_cut, candidate, dict(model_info), parent, origin).result()
        except BrokenProcessPool as exc:
            # The worker died (killed, out of memory): loops still get cut, on the calling thread.
            log.warning("cutting process stopped (%s); cutting on the pool thread from now on", exc)
            self._broken = True
            self.close()
            return fresh_loop(candidate, model_info=model_info, parent=parent, origin=origin)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
