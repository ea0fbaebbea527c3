"""The generate panel's presets and its measured time per candidate (issue 16)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from cratedigger.presets import PRESETS
from cratedigger.schedulers import SCHEDULER_NAMES


def test_presets_fill_steps_and_scheduler_and_travel_with_the_request(make_window):
    panel = make_window().panel
    assert [panel.preset_box.itemText(i) for i in range(panel.preset_box.count())] == list(PRESETS)
    assert [panel.scheduler_box.itemText(i) for i in range(panel.scheduler_box.count())] == list(SCHEDULER_NAMES)
    assert panel.preset_box.currentText() == "standard"
    panel.preset_box.setCurrentText("best")
    assert (panel.steps_spin.value(), panel.scheduler_box.currentText()) == (50, "ddim")
    panel.steps_spin.setValue(200)  # an explicit value overrides the preset's
    args = panel.args()
    assert (args.preset, args.steps, args.scheduler) == ("best", 200, "ddim")
    panel.set_preset("draft")
    assert panel.steps_spin.value() == PRESETS["draft"].steps and panel.args().preset == "draft"


def test_the_panel_shows_the_time_per_candidate_measured_from_the_first_batch(make_window, qtbot, tiny_model_dir):
    window = make_window()
    panel = window.panel
    panel.remember_model(str(tiny_model_dir))
    panel.device_box.setCurrentText("cpu")
    panel.count_spin.setValue(2)
    panel.steps_spin.setValue(2)
    assert panel.pace.text() == ""
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.fresh_model.rowCount() == 2 and panel.generate_button.isEnabled(), timeout=120000)
    assert "per candidate on this machine (standard)" in panel.pace.text()
