"""`cratedigger-app`: one QApplication, logging to the user log folder, theme, the main window.

    cratedigger-app [--library FOLDER] [--settings FILE.ini] [--quit-after MS]

--quit-after (or $CRATEDIGGER_APP_QUIT_AFTER_MS) closes the window that many milliseconds after it
shows: the smoke test and screenshot scripts use it.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
import traceback
from pathlib import Path

log = logging.getLogger("cratedigger_ui")

LOG_FILE = "cratedigger.log"


def log_folder() -> Path:
    import platformdirs

    return platformdirs.user_log_path("CrateDigger", appauthor=False)


def setup_logging(folder: Path | None = None) -> Path | None:
    """Log to a rotating file in the user log folder (and warnings to stderr). Returns the file."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(console)
    folder = folder or log_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(folder / LOG_FILE, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError as exc:  # a read-only home must not stop the app
        log.warning("cannot write a log file in %s: %s", folder, exc)
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"))
    root.addHandler(handler)
    return folder / LOG_FILE


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cratedigger-app", description="CrateDigger: grow, audition and keep drum breaks")
    parser.add_argument("--library", type=Path, help="library folder (default: $CRATEDIGGER_LIBRARY or the last used)")
    parser.add_argument("--settings", help="keep settings in this INI file instead of the user's settings")
    parser.add_argument("--quit-after", type=int, metavar="MS", default=int(os.environ.get("CRATEDIGGER_APP_QUIT_AFTER_MS", "0") or 0))
    return parser.parse_args(argv)


def configure_pyqtgraph() -> None:
    import pyqtgraph as pg

    # Once, before any plot exists: row-major images (row 0 = lowest mel band), our colours.
    pg.setConfigOptions(imageAxisOrder="row-major", background="#111214", foreground="#b8b5ad", antialias=False)


def create_app(argv: list[str]):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        # Fractional HiDPI scales (1.25, 1.5) render at their real size instead of rounding.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(argv)
    from cratedigger_ui.qt_compat import guard_refcounts

    guard_refcounts()  # before anything is drawn: PySide6 6.12.0 on 3.11 loses refs to None
    app.setApplicationName("CrateDigger")
    app.setOrganizationName("CrateDigger")
    app.setApplicationDisplayName("CrateDigger")
    configure_pyqtgraph()
    from cratedigger_ui.theme import apply_theme

    apply_theme(app)
    return app


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(argv[1:])
    log_file = setup_logging()
    app = create_app(argv[:1])
    from PySide6.QtCore import QTimer

    from cratedigger_ui.main_window import MainWindow
    from cratedigger_ui.settings import AppSettings, make_settings

    window = MainWindow(settings=AppSettings(make_settings(args.settings)), library_root=args.library,
                        cut_in_process=True)  # the beat analysis never shares the GUI thread's lock

    def excepthook(kind, value, tb) -> None:
        # A bug in a slot is logged with its traceback and shown as one readable line.
        log.error("unhandled error:\n%s", "".join(traceback.format_exception(kind, value, tb)))
        window.show_error(f"Something went wrong ({kind.__name__}: {value}). Details are in {log_file or 'the log'}.")

    sys.excepthook = excepthook
    window.show()
    log.info("CrateDigger started; log file %s", log_file)
    if args.quit_after > 0:
        QTimer.singleShot(args.quit_after, window.close)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
