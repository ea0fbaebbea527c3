"""Tags for the selected loop: removable chips and a line edit that completes from existing tags."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import QCompleter, QHBoxLayout, QLineEdit, QToolButton, QWidget


class TagEditor(QWidget):
    tags_added = Signal(list)
    tag_removed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("add tags: dusty, amen-ish…")
        self.edit.setClearButtonEnabled(True)
        self._known = QStringListModel(self)
        self.completer = QCompleter(self._known, self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.edit.setCompleter(self.completer)
        self.edit.returnPressed.connect(self._commit)
        self._chips = QHBoxLayout()
        self._chips.setContentsMargins(0, 0, 0, 0)
        self._chips.setSpacing(3)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._chips)
        layout.addWidget(self.edit, 1)
        self._tags: tuple[str, ...] = ()

    def set_known_tags(self, tags) -> None:
        self._known.setStringList(sorted(set(tags)))

    def known_tags(self) -> list[str]:
        return self._known.stringList()

    def set_tags(self, tags) -> None:
        self._tags = tuple(tags)
        while self._chips.count():
            w = self._chips.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        for tag in self._tags:
            chip = QToolButton()
            chip.setText(f"{tag} ×")
            chip.setToolTip(f"Remove the tag “{tag}”")
            chip.clicked.connect(lambda _=False, t=tag: self.tag_removed.emit(t))
            self._chips.addWidget(chip)

    def tags(self) -> tuple[str, ...]:
        return self._tags

    def _commit(self) -> None:
        words = [w.strip() for w in self.edit.text().replace(";", ",").split(",")]
        words = [w for w in words if w]
        self.edit.clear()
        if words:
            self.tags_added.emit(words)
