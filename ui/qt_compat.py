"""A work-around for a reference-counting bug in the Qt bindings, applied only where it is present.

PySide6 6.12.0 on CPython 3.11 drops a reference to `None` every time C++ calls a Python override
that returns None (every `paint`, `paintEvent`, a model's `data()` for an unused role...) and to
`True` on every `SignalInstance.emit()`. On CPython >= 3.12 these objects are immortal, so the
binding gets away with it; on 3.11 the refcount of None reaches zero after a few minutes of
redraws and CPython aborts ("none_dealloc: deallocating None").

We probe both at start-up and, if either reference goes missing, do what CPython 3.12 does: give
None, True and False a refcount so large that it never reaches zero (2**40 lost references, ~1.4
years at 25,000 lost references a second). They are never freed anyway: their dealloc is a fatal
error by design.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

HEADROOM = 2**40
_SINGLETONS = (None, True, False)
_applied = False


def _lost_references() -> dict[str, int]:
    """Run a few calls the buggy binding miscounts; return how many references None/True lost."""
    from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt, Signal

    class _Probe(QObject):
        ping = Signal()

    class _Model(QAbstractListModel):
        def rowCount(self, parent=QModelIndex()):
            return 1

        def data(self, index, role=Qt.ItemDataRole.DisplayRole):
            return None

    probe, model = _Probe(), _Model()
    index = model.index(0, 0)
    before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(16):
        probe.ping.emit()
        index.data(Qt.ItemDataRole.DisplayRole)  # C++ QModelIndex::data -> our Python override
    after = sys.getrefcount(None), sys.getrefcount(True)
    return {"None": before[0] - after[0], "True": before[1] - after[1]}


def guard_refcounts() -> bool:
    """Apply the work-around when this binding needs it (idempotent). Returns True when applied."""
    global _applied
    if _applied:
        return True
    if sys.version_info >= (3, 12):
        return False  # immortal singletons: nothing can reach zero
    lost = _lost_references()
    if max(lost.values()) < 8:  # 16 calls each: a few references of noise, not one per call
        return False
    for obj in _SINGLETONS:
        ctypes.c_ssize_t.from_address(id(obj)).value += HEADROOM
    _applied = True
    import PySide6

    log.info(
        "PySide6 %s on Python %d.%d loses references to None/True (%s in 16 calls); pinned them",
        getattr(PySide6, "__version__", "?"), *sys.version_info[:2], lost,
    )
    return True
