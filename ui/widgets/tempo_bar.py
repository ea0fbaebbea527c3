"""The tempo override under the detail view: type a BPM, x2, /2, move beat 1, choose how many bars,
and re-cut. The grid is the engine's (cratedigger.regrid); this only collects the producer's answer.

`grid_changed(bpm, first_downbeat)` fires on every change (the detail view previews the grid);
`recut_requested(bpm, first_downbeat, bars)` when Re-cut is pressed. A "?" beside the BPM says the
analysis was not sure of the tempo or of beat 1 (AnalysisResult.unsure); a grid the producer set
(a re-cut) shows none.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from cratedigger_ui.entries import Entry

BAR_LIMITS = ((8, "up to 8 bars"), (4, "up to 4 bars"), (2, "up to 2 bars"), (1, "1 bar"))


def guess_bpm(duration: float) -> float:
    """A starting point for a loop with no tempo: one 4/4 bar over the clip, folded into 70-180 BPM."""
    if duration <= 0:
        return 120.0
    bpm = 240.0 / duration
    while bpm < 70.0:
        bpm *= 2
    while bpm > 180.0:
        bpm /= 2
    return round(bpm, 1)


class TempoBar(QWidget):
    grid_changed = Signal(float, float)
    recut_requested = Signal(float, float, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bpm_spin = QDoubleSpinBox()
        self.bpm_spin.setRange(20.0, 400.0)
        self.bpm_spin.setDecimals(1)
        self.bpm_spin.setSuffix(" BPM")
        self.bpm_spin.setKeyboardTracking(False)
        self.bpm_spin.setToolTip("The loop's tempo: type the right one when the analysis got it wrong")
        self.unsure_label = QLabel("?")
        self.unsure_label.setObjectName("unsure")
        self.unsure_label.setStyleSheet("font-weight: bold; color: #e0a030;")
        self.unsure_label.hide()
        self.double_button = QToolButton()
        self.double_button.setText("×2")
        self.double_button.setToolTip("Double the tempo (a half-speed reading)")
        self.half_button = QToolButton()
        self.half_button.setText("÷2")
        self.half_button.setToolTip("Halve the tempo (a double-speed reading)")
        self.earlier_button = QToolButton()
        self.earlier_button.setText("◀ 1")
        self.earlier_button.setToolTip("Move beat 1 one beat earlier")
        self.later_button = QToolButton()
        self.later_button.setText("1 ▶")
        self.later_button.setToolTip("Move beat 1 one beat later")
        self.beat_label = QLabel("")
        self.beat_label.setObjectName("muted")
        self.bars_box = QComboBox()
        for n, text in BAR_LIMITS:
            self.bars_box.addItem(text, n)
        self.recut_button = QPushButton("Re-cut")
        self.recut_button.setToolTip("Cut whole bars again on this tempo and beat 1")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel("Tempo"))
        for w in (self.bpm_spin, self.unsure_label, self.double_button, self.half_button, self.earlier_button, self.later_button,
                  self.beat_label, self.bars_box, self.recut_button):
            layout.addWidget(w)
        layout.addStretch(1)
        self._first = 0.0
        self._duration = 0.0
        self.double_button.clicked.connect(lambda: self._scale(2.0))
        self.half_button.clicked.connect(lambda: self._scale(0.5))
        self.earlier_button.clicked.connect(lambda: self._shift(-1))
        self.later_button.clicked.connect(lambda: self._shift(1))
        self.bpm_spin.valueChanged.connect(lambda _v: self._changed())
        self.recut_button.clicked.connect(
            lambda: self.recut_requested.emit(self.bpm(), self._first, int(self.bars_box.currentData())))
        self.set_entry(None)

    def bpm(self) -> float:
        return float(self.bpm_spin.value())

    def first_downbeat(self) -> float:
        return self._first

    def is_unsure(self) -> bool:
        """Whether the "?" is shown (the analysis of this loop is a guess worth checking)."""
        return not self.unsure_label.isHidden()

    def set_entry(self, entry: Entry | None) -> None:
        """Show the entry's grid (or a guess when it has none); disabled without an entry."""
        self.setEnabled(entry is not None)
        self._show_unsure(entry)
        self.bpm_spin.blockSignals(True)
        if entry is None:
            self._first, self._duration = 0.0, 0.0
            self.bpm_spin.setValue(120.0)
        else:
            self._duration = entry.duration
            self._first = entry.first_downbeat() if entry.bpm else 0.0
            self.bpm_spin.setValue(float(entry.bpm) if entry.bpm else guess_bpm(entry.duration))
        self.bpm_spin.blockSignals(False)
        self._show_first()

    def _show_unsure(self, entry: Entry | None) -> None:
        unsure = () if entry is None or not entry.bpm or entry.provenance.get("tempo_set_by") == "producer" \
            else tuple(getattr(entry, "unsure", ()))
        self.unsure_label.setVisible(bool(unsure))
        tips = {"tempo": "the tempo may be half or double: try ×2 or ÷2",
                "beat 1": "beat 1 may be another beat of the bar: try ◀ 1 or 1 ▶"}
        self.unsure_label.setToolTip("The analysis is not sure of this loop: "
                                     + "; ".join(tips[u] for u in unsure if u in tips) + ", then Re-cut")

    def _scale(self, factor: float) -> None:
        self.bpm_spin.setValue(self.bpm() * factor)

    def _shift(self, beats: int) -> None:
        from cratedigger.regrid import shift_beat_one

        self._first = shift_beat_one(self._first, bpm=self.bpm(), beats=beats)
        self._changed()

    def _changed(self) -> None:
        from cratedigger.regrid import shift_beat_one

        self._first = shift_beat_one(self._first, bpm=self.bpm(), beats=0)  # keep it inside a bar at this tempo
        self._show_first()
        self.grid_changed.emit(self.bpm(), self._first)

    def _show_first(self) -> None:
        self.beat_label.setText(f"beat 1 at {self._first:.2f} s")
        self.beat_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
