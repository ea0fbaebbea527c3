"""A list of loops (the Fresh tray or the library): thumbnail rows, drag out as WAV file URLs."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QMimeData, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QAbstractItemView, QListView

from cratedigger_ui.entries import Entry
from cratedigger_ui.models import ENTRY_ROLE, EntryListModel
from cratedigger_ui.widgets.entry_delegate import EntryDelegate

DragFileProvider = Callable[[Entry], "object | None"]  # Entry -> Path of a ready WAV, or None


class DragEntryModel(EntryListModel):
    """The list model, plus what a drag carries: file URLs of DAW-ready WAVs (made on the fly)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.drag_file_provider: DragFileProvider | None = None
        self.drag_error: Callable[[str], None] | None = None

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes) -> QMimeData:
        """QListView's own startDrag calls this: the dragged rows as file URLs."""
        return self.mime_for([i.data(ENTRY_ROLE) for i in indexes if i.isValid()])

    def mime_for(self, entries: list[Entry]) -> QMimeData:
        mime = QMimeData()
        urls = []
        for entry in entries:
            path = None
            if self.drag_file_provider is not None:
                try:
                    path = self.drag_file_provider(entry)
                except Exception as exc:  # noqa: BLE001 - a failed drag says why, it never crashes
                    if self.drag_error:
                        self.drag_error(f"cannot drag “{entry.name}”: {exc}")
            if path is not None:
                urls.append(QUrl.fromLocalFile(str(path)))
        mime.setUrls(urls)
        if urls:
            mime.setText("\n".join(u.toLocalFile() for u in urls))
        return mime


class EntryList(QListView):
    """Rows of loops. `activated_entry` fires when the current row changes (mouse or keys)."""

    current_entry_changed = Signal(object)  # Entry | None
    focused = Signal()

    def __init__(self, model: DragEntryModel, parent=None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setItemDelegate(EntryDelegate(self))
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        # rows are as wide as the view (the delegate elides); a horizontal bar would only scroll
        # the stars and the heart out of sight
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.selectionModel().currentChanged.connect(self._current_changed)
        self._empty_text = ""

    def set_empty_text(self, text: str) -> None:
        """What the list says while it has no rows (how to fill it, or that a filter matched nothing)."""
        self._empty_text = text
        self.viewport().update()

    def empty_text(self) -> str:
        return self._empty_text if self.model().rowCount() == 0 else ""

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.model().rowCount() == 0 and self._empty_text:
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#8d8a83"))
            painter.drawText(self.viewport().rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._empty_text)
            painter.end()

    def entry_model(self) -> DragEntryModel:
        return self.model()  # type: ignore[return-value]

    def current_entry(self) -> Entry | None:
        idx = self.currentIndex()
        return idx.data(ENTRY_ROLE) if idx.isValid() else None

    def selected_entries(self) -> list[Entry]:
        rows = sorted(i.row() for i in self.selectionModel().selectedRows())
        entries = [self.entry_model().entry_at(r) for r in rows]
        if not entries and self.current_entry() is not None:
            entries = [self.current_entry()]
        return [e for e in entries if e is not None]

    def select_key(self, key: str) -> bool:
        row = self.entry_model().row_of(key)
        if row < 0:
            return False
        self.setCurrentIndex(self.entry_model().index(row))
        return True

    def step(self, delta: int) -> None:
        """Move the current row by delta (wrapping at neither end)."""
        n = self.entry_model().rowCount()
        if n == 0:
            return
        row = self.currentIndex().row()
        row = 0 if row < 0 else max(0, min(n - 1, row + delta))
        self.setCurrentIndex(self.entry_model().index(row))

    def _current_changed(self, current, _previous) -> None:
        self.current_entry_changed.emit(current.data(ENTRY_ROLE) if current.isValid() else None)

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.focused.emit()
