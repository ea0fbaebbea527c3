"""The real entry point, launched offscreen in its own process: it shows the window, logs to the
user log folder, keeps settings, and quits with status 0."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def test_the_entry_point_starts_and_quits_cleanly(tmp_path):
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        CRATEDIGGER_LIBRARY=str(tmp_path / "library"),
        XDG_STATE_HOME=str(tmp_path / "state"),  # platformdirs' user log folder lives under it
        XDG_CONFIG_HOME=str(tmp_path / "config"),  # QSettings' user file lives under it
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        HOME=str(tmp_path),
        CRATEDIGGER_APP_QUIT_AFTER_MS="800",
    )
    script = shutil.which("cratedigger-app")
    command = [script] if script else [sys.executable, "-c", "import sys; from cratedigger_ui.app import main; sys.exit(main())"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    log = (tmp_path / "state" / "CrateDigger" / "log" / "cratedigger.log").read_text()
    assert "CrateDigger started" in log and "library open at" in log
    assert (tmp_path / "library" / "library.db").is_file()
    assert "Traceback" not in done.stderr
    settings = (tmp_path / "config" / "CrateDigger" / "CrateDigger.conf").read_text()
    assert "autoplay" in settings


def test_the_engine_does_not_import_qt_for_playback():
    code = "import sys, cratedigger.playback; assert 'PySide6' not in sys.modules, sorted(m for m in sys.modules if 'PySide' in m)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_long_sessions_survive_the_bindings_refcount_bug():
    # PySide6 6.12.0 on Python 3.11 loses a reference to None per Python override returning None
    # and to True per emit(); unguarded, this loop aborts the interpreter ("none_dealloc").
    code = """
import sys
from PySide6.QtCore import QAbstractListModel, QCoreApplication, QModelIndex, QObject, Qt, Signal
from cratedigger_ui.qt_compat import guard_refcounts
app = QCoreApplication([])
applied = guard_refcounts()
class Ticker(QObject):
    moved = Signal(object)
class Model(QAbstractListModel):
    def rowCount(self, parent=QModelIndex()):
        return 1
    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        return None
t, m = Ticker(), Model()
t.moved.connect(lambda v: None)
index = m.index(0, 0)
for i in range(200000):  # about an hour of 60 Hz redraws
    t.moved.emit(None)
    index.data(Qt.ItemDataRole.DisplayRole)
print("survived", applied)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert done.returncode == 0, done.stderr[-1000:]
    assert done.stdout.startswith("survived")
