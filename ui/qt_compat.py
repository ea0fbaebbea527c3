"""Work-arounds for bugs in the Qt bindings we run on, each detected at run time and applied only
where the bug is present.

PySide6 6.12.0: `SignalInstance.emit()` returns `True` without taking a reference to it. Every
emit from Python (ours, and pyqtgraph's on each redraw) then drops the refcount of `True` by one
when the result is discarded, until CPython aborts with "bool_dealloc: deallocating True or
False" -- after a few minutes of a playing playhead or a running generation. We probe one emit
and, if True lost a reference, wrap `emit` to give the reference back.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

_patched = False


def _emit_drops_a_reference() -> bool:
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.ping.emit()
    return sys.getrefcount(True) < before - 4


def guard_signal_emit_refcount() -> bool:
    """Install the emit work-around when this PySide6 needs it. Returns True when installed."""
    global _patched
    if _patched:
        return True
    if not _emit_drops_a_reference():
        return False
    from PySide6.QtCore import SignalInstance

    original = SignalInstance.emit
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    incref.restype = None

    def emit(self, *args):
        result = original(self, *args)
        incref(result)  # the reference the binding forgot to take
        return result

    SignalInstance.emit = emit
    _patched = True
    if _emit_drops_a_reference():  # pragma: no cover - a different bug: undo rather than make it worse
        SignalInstance.emit = original
        _patched = False
        log.error("PySide6 signal emit refcount work-around did not help; long sessions may crash")
        return False
    log.info("PySide6 %s: applied the SignalInstance.emit refcount work-around", _pyside_version())
    return True


def _pyside_version() -> str:
    import PySide6

    return getattr(PySide6, "__version__", "?")
