"""The export dialog: where to, at which rate and bit depth, whole bars or the clip as is, and at the
project tempo or the loops' own."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from cratedigger_ui.project_tempo import FIT_LABELS
from cratedigger_ui.tasks import ExportOptions

RATES = ((None, "each loop's own rate"), (44100, "44.1 kHz"), (48000, "48 kHz"))
BITS = ((16, "16-bit"), (24, "24-bit"))


class ExportDialog(QDialog):
    def __init__(self, options: ExportOptions, *, count: int, without_bars: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.folder_edit = QLineEdit(str(options.folder))
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.rate_box = QComboBox()
        for value, text in RATES:
            self.rate_box.addItem(text, value)
        rates = [v for v, _ in RATES]
        self.rate_box.setCurrentIndex(rates.index(options.rate) if options.rate in rates else 0)
        self.bits_box = QComboBox()
        for value, text in BITS:
            self.bits_box.addItem(text, value)
        self.bits_box.setCurrentIndex(1 if options.bits == 24 else 0)
        self.bars_radio = QRadioButton("Whole bars, with tempo and loop points (acid, smpl)")
        self.as_is_radio = QRadioButton("As is: the whole clip, no tempo")
        group = QButtonGroup(self)
        group.addButton(self.bars_radio)
        group.addButton(self.as_is_radio)
        (self.as_is_radio if options.as_is else self.bars_radio).setChecked(True)
        # The project tempo (the status bar's Project BPM) comes in as options.bpm; on by default when set.
        self._bpm, self._fit = options.bpm, options.fit
        if options.bpm:
            self.tempo_check = QCheckBox(f"At project tempo {options.bpm:g} BPM ({FIT_LABELS.get(options.fit, options.fit)})")
            self.tempo_check.setToolTip("Fit whole-bar loops to the project tempo; the name and chunks carry it")
            self.tempo_check.setChecked(True)
        else:
            self.tempo_check = QCheckBox("At project tempo (off: set Project BPM in the status bar)")
            self.tempo_check.setEnabled(False)
        self.as_is_radio.toggled.connect(self._as_is_toggled)
        self._as_is_toggled(self.as_is_radio.isChecked())
        form = QFormLayout()
        form.addRow("Folder", folder_row)
        form.addRow("Rate", self.rate_box)
        form.addRow("Depth", self.bits_box)
        form.addRow("Cut", self.bars_radio)
        form.addRow("", self.as_is_radio)
        form.addRow("Tempo", self.tempo_check)
        note = QLabel(
            f"{count} loop{'s' if count != 1 else ''}"
            + (f"; {without_bars} without whole bars will be exported as is" if without_bars else ""))
        note.setObjectName("muted")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _as_is_toggled(self, as_is: bool) -> None:
        self.tempo_check.setEnabled(bool(self._bpm) and not as_is)  # a clip as is has no tempo to fit

    def at_project_tempo(self) -> bool:
        return bool(self._bpm) and self.tempo_check.isEnabled() and self.tempo_check.isChecked()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def options(self) -> ExportOptions:
        return ExportOptions(folder=Path(self.folder_edit.text().strip()).expanduser(), rate=self.rate_box.currentData(),
                             bits=int(self.bits_box.currentData()), as_is=self.as_is_radio.isChecked(),
                             bpm=self._bpm if self.at_project_tempo() else None, fit=self._fit)
