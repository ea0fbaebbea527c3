"""The dark theme and icons, read from the `cratedigger_ui.resources` package (importlib.resources),
so they work from a source checkout, an installed wheel or a zip."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from pathlib import Path

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

_PACKAGE = "cratedigger_ui.resources"


def resource_text(name: str) -> str:
    return resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def resource_bytes(name: str) -> bytes:
    return resources.files(_PACKAGE).joinpath(name).read_bytes()


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """An icon from resources/icons/<name>.svg (vector: sharp at any device pixel ratio)."""
    resource = resources.files(_PACKAGE).joinpath(f"icons/{name}.svg")
    if isinstance(resource, Path) and resource.is_file():
        return QIcon(str(resource))  # Qt's SVG icon engine renders at whatever size the screen needs
    # Zipped install: rasterise a few sizes, enough for 1x and 2x screens.
    renderer = QSvgRenderer(QByteArray(resource.read_bytes()))
    result = QIcon()
    for size in (16, 24, 32, 48, 64):
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        result.addPixmap(QPixmap.fromImage(image))
    return result


def apply_theme(app: QApplication) -> None:
    """Fusion style, a dark palette (for what QSS does not reach) and the QSS sheet."""
    app.setStyle("Fusion")
    palette = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#1b1c1f",
        QPalette.ColorRole.WindowText: "#e4e2dc",
        QPalette.ColorRole.Base: "#131417",
        QPalette.ColorRole.AlternateBase: "#17181b",
        QPalette.ColorRole.Text: "#e4e2dc",
        QPalette.ColorRole.Button: "#2a2c31",
        QPalette.ColorRole.ButtonText: "#e4e2dc",
        QPalette.ColorRole.Highlight: "#c98a1c",
        QPalette.ColorRole.HighlightedText: "#141414",
        QPalette.ColorRole.ToolTipBase: "#2a2c31",
        QPalette.ColorRole.ToolTipText: "#e4e2dc",
        QPalette.ColorRole.PlaceholderText: "#77746d",
    }
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#6a6a6a"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#6a6a6a"))
    app.setPalette(palette)
    app.setStyleSheet(resource_text("theme.qss"))
    app.setWindowIcon(icon("app"))
