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


def test_long_sessions_do_not_exhaust_the_refcount_of_true():
    # PySide6 6.12.0's emit() drops a reference to True on every call; after the app's guard,
    # 300,000 emits (about 80 minutes of a 60 Hz playhead) leave True's refcount where it was.
    code = """
import sys
from PySide6.QtCore import QCoreApplication, QObject, Signal
from cratedigger_ui.qt_compat import guard_signal_emit_refcount
app = QCoreApplication([])
guard_signal_emit_refcount()
class Ticker(QObject):
    moved = Signal(object)
t = Ticker()
t.moved.connect(lambda v: None)
before = sys.getrefcount(True)
for i in range(300000):
    t.moved.emit(None if i % 2 else 0.5)
print(sys.getrefcount(True) - before)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert done.returncode == 0, done.stderr[-1000:]
    assert abs(int(done.stdout.strip())) < 10
