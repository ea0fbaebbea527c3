"""Play/stop, loop and auto-play toggles, time readout, and why audio is unavailable when it is."""

from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from cratedigger_ui.theme import icon


class Transport(QWidget):
    play_toggled = Signal()
    loop_toggled = Signal(bool)
    autoplay_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.play_button = QToolButton()
        self.play_button.setIcon(icon("play"))
        self.play_button.setIconSize(QSize(22, 22))
        self.play_button.setToolTip("Play / stop (Space)")
        self.play_button.clicked.connect(self.play_toggled)
        self.loop_button = QToolButton()
        self.loop_button.setIcon(icon("loop"))
        self.loop_button.setCheckable(True)
        self.loop_button.setChecked(True)
        self.loop_button.setToolTip("Loop the region (L)")
        self.loop_button.toggled.connect(self.loop_toggled)
        self.autoplay_button = QToolButton()
        self.autoplay_button.setIcon(icon("autoplay"))
        self.autoplay_button.setCheckable(True)
        self.autoplay_button.setChecked(True)
        self.autoplay_button.setToolTip("Play a loop as soon as it is selected")
        self.autoplay_button.toggled.connect(self.autoplay_toggled)
        self.time_label = QLabel("–")
        self.time_label.setMinimumWidth(90)
        self.audio_label = QLabel("")
        self.audio_label.setObjectName("warning")
        self.audio_label.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for w in (self.play_button, self.loop_button, self.autoplay_button, self.time_label):
            layout.addWidget(w)
        layout.addWidget(self.audio_label, 1)

    def set_playing(self, playing: bool) -> None:
        self.play_button.setIcon(icon("stop" if playing else "play"))

    def set_time(self, seconds: float | None, region: tuple[float, float] | None) -> None:
        if seconds is None:
            self.time_label.setText("–")
        else:
            length = f" / {region[1] - region[0]:.2f}" if region else ""
            self.time_label.setText(f"{seconds:5.2f}{length} s")

    def set_audio_problem(self, text: str) -> None:
        self.audio_label.setText(text)
        self.audio_label.setToolTip(text)
