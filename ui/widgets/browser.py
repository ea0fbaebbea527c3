"""Library search controls: text, tag filter (completes from existing tags), BPM range, rating,
favourites. Emits `changed` a moment after the user stops typing."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QCompleter, QHBoxLayout, QLabel, QLineEdit, QSpinBox, QWidget

DEBOUNCE_MS = 150


class BrowserFilters(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search names, tags, notes")
        self.search.setClearButtonEnabled(True)
        self.tag_filter = QLineEdit()
        self.tag_filter.setPlaceholderText("tags")
        self.tag_filter.setClearButtonEnabled(True)
        self._tags = QStringListModel(self)
        completer = QCompleter(self._tags, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.tag_filter.setCompleter(completer)
        self.bpm_min = QSpinBox()
        self.bpm_max = QSpinBox()
        for spin, text in ((self.bpm_min, "min"), (self.bpm_max, "max")):
            spin.setRange(0, 300)
            spin.setSpecialValueText("any")
            spin.setToolTip(f"{text} BPM (0: any)")
        self.rating = QComboBox()
        self.rating.addItems(["any rating", "★ 1+", "★ 2+", "★ 3+", "★ 4+", "★ 5"])
        self.favourites = QCheckBox("♥ only")
        self.count_label = QLabel("")
        self.count_label.setObjectName("muted")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.search, 3)
        layout.addWidget(self.tag_filter, 2)
        layout.addWidget(QLabel("BPM"))
        layout.addWidget(self.bpm_min)
        layout.addWidget(QLabel("–"))
        layout.addWidget(self.bpm_max)
        layout.addWidget(self.rating)
        layout.addWidget(self.favourites)
        layout.addWidget(self.count_label)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.changed)
        for sig in (self.search.textChanged, self.tag_filter.textChanged, self.bpm_min.valueChanged,
                    self.bpm_max.valueChanged, self.rating.currentIndexChanged, self.favourites.toggled):
            sig.connect(self._debounce.start)

    def set_known_tags(self, tags) -> None:
        self._tags.setStringList(sorted(tags))

    def query(self, *, limit: int = 500):
        """The filters as a cratedigger.library.SampleQuery."""
        from cratedigger.library import SampleQuery

        tags = tuple(t.strip() for t in self.tag_filter.text().replace(",", " ").split() if t.strip())
        lo, hi = self.bpm_min.value() or None, self.bpm_max.value() or None
        if lo and hi and lo > hi:
            lo, hi = hi, lo
        return SampleQuery(
            text=self.search.text().strip() or None,
            tags=tags,
            bpm_min=lo,
            bpm_max=hi,
            rating_min=self.rating.currentIndex() or None,
            favourite=True if self.favourites.isChecked() else None,
            limit=limit,
        )
