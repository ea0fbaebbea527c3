"""A dismissable line at the top of the window for errors and notices: readable, never a traceback."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

STYLES = {
    "error": "background:#4a2320; color:#ffd9cc; border:1px solid #a04a3a; border-radius:4px;",
    "info": "background:#23303a; color:#d7e8f5; border:1px solid #3a5a70; border-radius:4px;",
}


class MessageBar(QFrame):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setStyleSheet("background: transparent; border: 0;")
        close = QToolButton()
        close.setText("×")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "info", timeout_ms: int = 12000) -> None:
        self.kind = kind
        self.setStyleSheet(f"MessageBar {{{STYLES.get(kind, STYLES['info'])}}}")
        self.label.setText(text)
        self.show()
        self._timer.start(timeout_ms if kind == "info" else 30000)

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""
