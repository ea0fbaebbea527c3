"""Shared fixtures. Qt runs offscreen; tiny random models are built once per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a hub

sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402

from silent_stream import SilentStream  # noqa: E402
from tiny_models import build_tiny_model  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A plain (pixel-space) tiny model with .bin weights in the AudioDiffusionPipeline layout."""
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-plain")


@pytest.fixture(scope="session")
def tiny_latent_model_dir(tmp_path_factory) -> Path:
    """A latent tiny model (AutoencoderKL in vqvae/) with .safetensors weights."""
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-latent", latent=True, safe_serialization=True)


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from cratedigger.model import load_model

    return load_model(tiny_model_dir, device="cpu")


@pytest.fixture(scope="session")
def tiny_latent_model(tiny_latent_model_dir):
    from cratedigger.model import load_model

    return load_model(tiny_latent_model_dir, device="cpu")


@pytest.fixture(scope="session")
def wide_model_dir(tmp_path_factory) -> Path:
    """A tiny model with a 2.97 s slice, so bars at break tempos fit (extension)."""
    from tiny_models import WIDE_MEL

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-wide", mel_config=WIDE_MEL)


@pytest.fixture(scope="session")
def wide_model(wide_model_dir):
    from cratedigger.model import load_model

    return load_model(wide_model_dir, device="cpu")


@pytest.fixture(scope="session")
def wide_latent_model(tmp_path_factory):
    from cratedigger.model import load_model
    from tiny_models import WIDE_MEL

    folder = build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-wide-latent", latent=True, mel_config=WIDE_MEL)
    return load_model(folder, device="cpu")


# -- the desktop app (tests/test_ui*.py) ---------------------------------------------------------


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Build MainWindows on their own library folder, settings file and drag cache (all in tmp_path).

    make_window(player_factory=None, settings_name="settings.ini") -> MainWindow, shown.
    """
    from cratedigger.playback import Player
    from cratedigger_ui.app import configure_pyqtgraph
    from cratedigger_ui.main_window import MainWindow
    from cratedigger_ui.settings import AppSettings, make_settings
    from cratedigger_ui.theme import apply_theme
    from PySide6.QtWidgets import QApplication

    configure_pyqtgraph()
    apply_theme(QApplication.instance())
    windows = []

    def make(*, player_factory=None, settings_name="settings.ini", library_root=None, warm_up=False):
        window = MainWindow(
            warm_up=warm_up,  # the launch warm-up (imports, first analysis) only where a test wants it
            settings=AppSettings(make_settings(str(tmp_path / settings_name))),
            library_root=library_root or tmp_path / "library",
            player_factory=player_factory or (lambda: Player(stream_factory=SilentStream)),
            drag_cache=tmp_path / "drag",
            fresh_dir=tmp_path / "fresh",  # the Fresh tray on disk, never the user's own
        )
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()  # cancels and drains the pools even when a test failed half-way
