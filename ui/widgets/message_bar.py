"""A dismissable message for errors and notices: readable, never a traceback.

It floats over the top of its parent instead of taking a row in the layout, so showing and hiding
it never moves the controls under the producer's pointer.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

STYLES = {
    "error": "background:#4a2320; color:#ffd9cc; border:1px solid #a04a3a; border-radius:4px;",
    "info": "background:#23303a; color:#d7e8f5; border:1px solid #3a5a70; border-radius:4px;",
}
MARGIN = 8
MAX_LINES = 4  # longer messages are cut here; the whole text is in the tooltip and the log


class MessageBar(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
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
        self._text = ""
        if parent is not None:
            parent.installEventFilter(self)
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return False

    def _place(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        width = max(200, parent.width() - 2 * MARGIN)
        self.setFixedWidth(width)
        self.adjustSize()
        self.move(MARGIN, MARGIN)
        self.raise_()

    def show_message(self, text: str, kind: str = "info", timeout_ms: int = 12000) -> None:
        self.kind = kind
        self._text = text
        self.setStyleSheet(f"MessageBar {{{STYLES.get(kind, STYLES['info'])}}}")
        lines = text.splitlines()
        shown = "\n".join(lines[:MAX_LINES]) + ("\n…" if len(lines) > MAX_LINES else "")
        self.label.setText(shown)
        self.setToolTip(text if shown != text else "")
        self.show()
        self._place()
        self._timer.start(timeout_ms if kind == "info" else 30000)

    def text(self) -> str:
        return self._text if self.isVisible() else ""
