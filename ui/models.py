"""Qt item models over Entries: the Fresh tray and the library browser share one list model."""

from __future__ import annotations

from typing import Any, Iterable

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from cratedigger_ui.entries import Entry

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1


class EntryListModel(QAbstractListModel):
    """An ordered list of Entries keyed by `Entry.key`; rows are replaced whole when an entry changes."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._entries: list[Entry] = []
        self._rows: dict[str, int] = {}

    # -- Qt ------------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.name
        if role == ENTRY_ROLE:
            return entry
        if role == Qt.ItemDataRole.ToolTipRole:
            tags = ", ".join(entry.tags) or "no tags"
            return f"{entry.name}\n{entry.summary()}\n{tags}\nrating {entry.rating}/5"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{entry.name}, {entry.summary()}"
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        if index.isValid():
            return base | Qt.ItemFlag.ItemIsDragEnabled
        return base

    # -- ours ----------------------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        return list(self._entries)

    def entry_at(self, row: int) -> Entry | None:
        return self._entries[row] if 0 <= row < len(self._entries) else None

    def row_of(self, key: str) -> int:
        return self._rows.get(key, -1)

    def get(self, key: str) -> Entry | None:
        row = self.row_of(key)
        return self._entries[row] if row >= 0 else None

    def _reindex(self) -> None:
        self._rows = {e.key: i for i, e in enumerate(self._entries)}

    def set_entries(self, entries: Iterable[Entry]) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self._reindex()
        self.endResetModel()

    def append(self, entries: Iterable[Entry]) -> None:
        new = [e for e in entries if e.key not in self._rows]
        if not new:
            return
        first = len(self._entries)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        self._entries.extend(new)
        self._reindex()
        self.endInsertRows()

    def insert_front(self, entries: Iterable[Entry]) -> None:
        new = [e for e in entries if e.key not in self._rows]
        if not new:
            return
        self.beginInsertRows(QModelIndex(), 0, len(new) - 1)
        self._entries[:0] = new
        self._reindex()
        self.endInsertRows()

    def update(self, entry: Entry) -> bool:
        row = self.row_of(entry.key)
        if row < 0:
            return False
        self._entries[row] = entry
        idx = self.index(row)
        self.dataChanged.emit(idx, idx)
        return True

    def remove(self, key: str) -> Entry | None:
        row = self.row_of(key)
        if row < 0:
            return None
        self.beginRemoveRows(QModelIndex(), row, row)
        entry = self._entries.pop(row)
        self._reindex()
        self.endRemoveRows()
        return entry
