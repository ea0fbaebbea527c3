"""The generate panel: model (hub id, recent, or a folder), preset, count, steps, scheduler, seed,
device; Generate / Cancel with progress and the measured time per candidate; and Extend / Variations
of the selected loop. Presets and schedulers are the engine's lists (cratedigger.presets/.schedulers)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cratedigger.presets import DEFAULT_PRESET, PRESETS
from cratedigger.schedulers import SCHEDULER_NAMES
from cratedigger_ui.tasks import GenerateArgs
from cratedigger_ui.theme import icon

DEFAULT_MODEL = "teticio/audio-diffusion-breaks-256"
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_RECENT = 8


@dataclass(frozen=True)
class GenerationSettings:
    """What the producer chose in the panel, read once per action (never widget by widget)."""

    ref: str
    device: str
    count: int
    preset: str
    steps: int
    scheduler: str
    seed: int | None  # None: random
    extend_bars: int
    variation_count: int
    strength: float

    def generate_args(self) -> GenerateArgs:
        return GenerateArgs(ref=self.ref, device=self.device, count=self.count, steps=self.steps,
                            scheduler=self.scheduler, seed=self.seed, preset=self.preset)


class GeneratePanel(QWidget):
    generate_requested = Signal(object)  # GenerateArgs
    cancel_requested = Signal()
    extend_requested = Signal(int)  # bars to add
    variations_requested = Signal(int, float)  # count, strength

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_box = QComboBox()
        self.model_box.setEditable(True)
        self.model_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model_box.addItem(DEFAULT_MODEL)
        self.model_box.setToolTip("A Hugging Face model id (used offline once cached) or a model folder")
        self.folder_button = QToolButton()
        self.folder_button.setIcon(icon("folder"))
        self.folder_button.setToolTip("Choose a model folder…")
        self.folder_button.clicked.connect(self._choose_folder)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_box, 1)
        model_row.addWidget(self.folder_button)

        self.device_box = QComboBox()
        self.device_box.addItems(DEVICES)
        self.count_spin = QSpinBox()
        self.count_spin.setRange(1, 64)
        self.count_spin.setValue(8)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 1000)
        self.steps_spin.setValue(50)
        self.scheduler_box = QComboBox()
        self.scheduler_box.addItems(SCHEDULER_NAMES)
        self.preset_box = QComboBox()
        for preset in PRESETS.values():
            self.preset_box.addItem(preset.name)
            self.preset_box.setItemData(self.preset_box.count() - 1, preset.about, Qt.ItemDataRole.ToolTipRole)
        self.preset_box.setToolTip("Sets scheduler, steps and precision; edit steps or scheduler to override")
        self.preset_box.currentTextChanged.connect(self.set_preset)
        self.set_preset(DEFAULT_PRESET)
        self.random_seed = QCheckBox("random")
        self.random_seed.setChecked(True)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setEnabled(False)
        self.random_seed.toggled.connect(lambda on: self.seed_spin.setEnabled(not on))
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_spin, 1)
        seed_row.addWidget(self.random_seed)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model", model_row)
        form.addRow("Device", self.device_box)
        form.addRow("Candidates", self.count_spin)
        form.addRow("Preset", self.preset_box)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Scheduler", self.scheduler_box)
        form.addRow("Seed", seed_row)

        self.generate_button = QPushButton(icon("generate"), "Generate")
        self.generate_button.setObjectName("primary")
        self.generate_button.setToolTip("Generate candidates (Ctrl+G)")
        self.generate_button.clicked.connect(self._request)
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop the running job (Esc)")
        self.cancel_button.clicked.connect(self.cancel_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.status = QLabel("Model loads on the first Generate")
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        self.pace = QLabel("")
        self.pace.setObjectName("muted")
        self.pace.setToolTip("Measured on this machine from the first batch of the last run")
        self._pace_measured = False

        gen_box = QGroupBox("Generate")
        gen_layout = QVBoxLayout(gen_box)
        gen_layout.addLayout(form)
        gen_layout.addLayout(buttons)
        gen_layout.addWidget(self.progress)
        gen_layout.addWidget(self.status)
        gen_layout.addWidget(self.pace)

        self.extend_bars = QSpinBox()
        self.extend_bars.setRange(1, 16)
        self.extend_bars.setValue(2)
        self.extend_bars.setSuffix(" bars")
        self.extend_button = QPushButton(icon("extend"), "Extend…")
        self.extend_button.setToolTip("Continue the selected loop by whole bars (outpainting)")
        self.extend_button.clicked.connect(lambda: self.extend_requested.emit(self.extend_bars.value()))
        self.variation_count = QSpinBox()
        self.variation_count.setRange(1, 32)
        self.variation_count.setValue(4)
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.05, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(0.5)
        self.strength.setToolTip("How far from the source: 0.05 barely changes it, 1.0 keeps only its outline")
        self.variations_button = QPushButton(icon("variations"), "Variations…")
        self.variations_button.setToolTip("Make variations of the selected loop")
        self.variations_button.clicked.connect(
            lambda: self.variations_requested.emit(self.variation_count.value(), self.strength.value())
        )
        from_box = QGroupBox("From the selected loop")
        from_form = QFormLayout(from_box)
        ext_row = QHBoxLayout()
        ext_row.addWidget(self.extend_bars)
        ext_row.addWidget(self.extend_button, 1)
        var_row = QHBoxLayout()
        var_row.addWidget(self.variation_count)
        var_row.addWidget(self.strength)
        var_row.addWidget(self.variations_button, 1)
        from_form.addRow("Extend by", ext_row)
        from_form.addRow("Variations", var_row)
        self.from_box = from_box

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(gen_box)
        layout.addWidget(from_box)

    # -- values --------------------------------------------------------------------------------

    def model_ref(self) -> str:
        return self.model_box.currentText().strip()

    def settings(self) -> GenerationSettings:
        return GenerationSettings(
            ref=self.model_ref(),
            device=self.device_box.currentText(),
            count=self.count_spin.value(),
            preset=self.preset_box.currentText(),
            steps=self.steps_spin.value(),
            scheduler=self.scheduler_box.currentText(),
            seed=None if self.random_seed.isChecked() else self.seed_spin.value(),
            extend_bars=self.extend_bars.value(),
            variation_count=self.variation_count.value(),
            strength=self.strength.value(),
        )

    def args(self) -> GenerateArgs:
        return self.settings().generate_args()

    def restore(self, *, device: str, count: int, preset: str, steps: int | None, scheduler: str | None) -> None:
        """Put back what the producer chose last time (the preset first: it sets steps and scheduler)."""
        self.device_box.setCurrentText(device)
        self.count_spin.setValue(count)
        self.set_preset(preset)
        if steps is not None:
            self.steps_spin.setValue(steps)
        if scheduler:
            self.scheduler_box.setCurrentText(scheduler)

    def offer_models(self, tips: dict[str, str], select: str) -> None:
        """Put these models on the list with their tooltips, and select `select` (remembered first)."""
        for name in tips:
            if self.model_box.findText(name) < 0:
                self.model_box.addItem(name)
        self.remember_model(select)
        for name, tip in tips.items():
            self.model_box.setItemData(self.model_box.findText(name), tip, Qt.ItemDataRole.ToolTipRole)

    def forget_model(self, ref: str) -> None:
        """A model that did not load leaves the recent list (the text stays in the box to fix)."""
        i = self.model_box.findText(ref)
        if i >= 0:
            self.model_box.removeItem(i)
        self.model_box.setEditText(ref)

    def set_devices(self, devices: list[str], wanted: str) -> None:
        """Offer only devices this machine has; select `wanted` when it is one, else auto."""
        for i in reversed(range(self.device_box.count())):
            if self.device_box.itemText(i) not in devices:
                self.device_box.removeItem(i)
        self.device_box.setCurrentText(wanted if wanted in devices else "auto")

    def set_preset(self, name: str) -> None:
        """Select preset `name` and show its steps and scheduler (which then override it if edited)."""
        preset = PRESETS.get(name)
        if preset is None:
            return
        if self.preset_box.currentText() != name:
            self.preset_box.setCurrentText(name)  # re-enters here through currentTextChanged
            return
        self.steps_spin.setValue(preset.steps)
        self.scheduler_box.setCurrentText(preset.scheduler)

    def show_pace(self, candidates) -> None:
        """Show the engine's measured seconds per candidate, from the first batch of a run."""
        if self._pace_measured or not candidates or candidates[0].seconds is None:
            return
        self._pace_measured = True
        seconds = sum(c.seconds for c in candidates) / len(candidates)
        self.pace.setText(f"≈ {seconds:.0f} s per candidate on this machine ({candidates[0].params.get('preset') or 'custom'})")

    def _request(self) -> None:
        if not self.model_ref():
            self.status.setText("Choose a model first: a hub id or a model folder")
            return
        self.remember_model(self.model_ref())
        self.generate_requested.emit(self.args())

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder")
        if folder:
            self.remember_model(folder)

    def remember_model(self, ref: str) -> None:
        """Put ref at the top of the recent list and select it."""
        items = [self.model_box.itemText(i) for i in range(self.model_box.count())]
        items = [ref] + [i for i in items if i != ref]
        self.model_box.blockSignals(True)
        self.model_box.clear()
        self.model_box.addItems(items[:MAX_RECENT])
        self.model_box.setCurrentIndex(0)
        self.model_box.blockSignals(False)

    def recent_models(self) -> list[str]:
        return [self.model_box.itemText(i) for i in range(self.model_box.count())]

    # -- state ---------------------------------------------------------------------------------

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.generate_button.setEnabled(not busy)
        self.extend_button.setEnabled(not busy)
        self.variations_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        if busy:
            self._pace_measured = False  # the next run measures again: preset or model may differ
            self.progress.setRange(0, 0)  # busy indicator until the first step reports
            self.progress.setFormat(text or "loading model…")
        else:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat(text or "idle")

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def set_progress_text(self, text: str) -> None:
        """A word on the progress bar without moving it ("cancelling…", "warming up…")."""
        self.progress.setFormat(text)

    def set_model_actions_enabled(self, enabled: bool) -> None:
        """Extend and Variations need a selected loop and an idle model."""
        self.extend_button.setEnabled(enabled)
        self.variations_button.setEnabled(enabled)

    def set_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(text)
        self.progress.setAlignment(Qt.AlignmentFlag.AlignCenter)
