"""Library search controls: text, tag filter (completes from existing tags), BPM range, rating,
favourites. Emits `changed` a moment after the user stops typing."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cratedigger_ui.tasks import plural

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
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
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

        self.favourites.setObjectName("favourites")
        # two rows: at 1024 px one row squeezed the text boxes to "Sear…" and pushed the rest off
        self.search.setMinimumWidth(140)
        self.tag_filter.setMinimumWidth(100)
        top = QHBoxLayout()
        top.addWidget(self.search, 3)
        top.addWidget(self.tag_filter, 2)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("BPM"))
        bottom.addWidget(self.bpm_min)
        bottom.addWidget(QLabel("–"))
        bottom.addWidget(self.bpm_max)
        bottom.addWidget(self.rating)
        bottom.addWidget(self.favourites)
        bottom.addStretch(1)
        bottom.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addLayout(bottom)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.changed)
        for sig in (self.search.textChanged, self.tag_filter.textChanged, self.bpm_min.valueChanged,
                    self.bpm_max.valueChanged, self.rating.currentIndexChanged, self.favourites.toggled):
            sig.connect(self._debounce.start)

    def set_count(self, shown: int, total: int) -> None:
        """"3 of 40" while the list shows part of the library, else "40 loops"."""
        self.count_label.setText(f"{shown} of {total}" if shown < total else plural(shown, "loop"))

    def set_known_tags(self, tags) -> None:
        self._tags.setStringList(sorted(tags))

    def is_filtering(self) -> bool:
        return bool(self.search.text().strip() or self.tag_filter.text().strip() or self.bpm_min.value()
                    or self.bpm_max.value() or self.rating.currentIndex() or self.favourites.isChecked())

    def _tags_for(self, words: list[str]) -> tuple[tuple[str, ...], str]:
        """Typed words as tags: an exact tag as it is; part of a tag ("dus") as the tag(s) it is
        part of, so typing never has to be finished before the list answers."""
        known = self._tags.stringList()
        tags, partial = [], []
        for word in words:
            low = word.lower()
            if low in known or not known:
                tags.append(low)
                continue
            matches = [t for t in known if low in t]
            if not matches:
                tags.append(low)  # no such tag: the list shows no matches, as it should
            elif len(matches) == 1:
                tags.append(matches[0])
            else:
                partial.append(matches)
        if partial and not tags and len(partial) == 1:
            return tuple(partial[0]), "any"  # one unfinished word: any tag it could become
        for matches in partial:
            tags.append(matches[0] if len(matches) == 1 else min(matches, key=len))
        return tuple(tags), "all"

    def query(self, *, limit: int = 500):
        """The filters as a cratedigger.library.SampleQuery."""
        from cratedigger.library import SampleQuery

        tags, tag_mode = self._tags_for([t.strip() for t in self.tag_filter.text().replace(",", " ").split() if t.strip()])
        lo, hi = self.bpm_min.value() or None, self.bpm_max.value() or None
        if lo and hi and lo > hi:
            lo, hi = hi, lo
        return SampleQuery(
            text=self.search.text().strip() or None,
            tags=tags,
            tag_mode=tag_mode,
            bpm_min=lo,
            bpm_max=hi,
            rating_min=self.rating.currentIndex() or None,
            favourite=True if self.favourites.isChecked() else None,
            limit=limit,
        )
