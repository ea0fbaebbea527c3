"""The main window: generate panel and Fresh tray on the left, library browser and detail view on
the right. Every button sends work to a pool (cratedigger_ui.workers) and updates views when the
result signal lands; nothing here waits on the model, the disk or the analysis."""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cratedigger.playback import Player
from cratedigger_ui import tasks
from cratedigger_ui.audition import Audition
from cratedigger_ui.chop_kit import ChopController
from cratedigger_ui.entries import Entry
from cratedigger_ui.project_tempo import ProjectTempoBar, ProjectTempoController
from cratedigger_ui.qt_compat import guard_refcounts
from cratedigger_ui.settings import AppSettings
from cratedigger_ui.theme import icon
from cratedigger_ui.widgets.browser import BrowserFilters
from cratedigger_ui.widgets.detail_view import DetailView
from cratedigger_ui.widgets.export_dialog import ExportDialog
from cratedigger_ui.widgets.entry_list import DragEntryModel, EntryList
from cratedigger_ui.widgets.generate_panel import GeneratePanel
from cratedigger_ui.widgets.message_bar import MessageBar
from cratedigger_ui.widgets.tag_editor import TagEditor
from cratedigger_ui.widgets.tempo_bar import TempoBar
from cratedigger_ui.widgets.transport import Transport
from cratedigger_ui.workers import Jobs

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = {".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3", ".oga", ".opus"}
DETAIL_CACHE = 12  # library loops whose audio stays in memory for instant re-audition


def default_drag_cache() -> Path:
    import platformdirs

    return platformdirs.user_cache_path("CrateDigger", appauthor=False) / "drag"


class MainWindow(QMainWindow):
    def __init__(
        self,
        *,
        settings: AppSettings,
        library_root: Path | None = None,
        player_factory: Callable[[], Player] = Player,
        drag_cache: Path | None = None,
        fresh_dir: Path | None = None,
        warm_up: bool = True,
    ) -> None:
        super().__init__()
        guard_refcounts()  # idempotent; covers windows made without create_app (tests)
        self.setWindowTitle("CrateDigger")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self.settings = settings
        if library_root is None and settings.get_str("library/root"):
            library_root = Path(settings.get_str("library/root"))
        self.library = tasks.LibraryHandle(library_root)
        self.drag_cache = Path(drag_cache) if drag_cache else default_drag_cache()
        from cratedigger.fresh_store import FreshStore, default_folder

        # Unkept loops live on disk as well as on screen: a quit or a crash loses none of them.
        self.fresh_store = FreshStore(Path(fresh_dir) if fresh_dir else default_folder())
        self._pending_batches: dict[int, tuple[list, str, tasks.ParentGrid | None, int]] = {}
        self._variation_counts: dict[str, int] = {}
        self._audio_problem = ""
        self._reselect: str | None = None
        self._library_total = 0
        self._model_loaded = False
        self._job_ref = ""
        self.jobs = Jobs(self)
        self.model_cache = tasks.ModelCache()
        self.audition = Audition(player_factory, self)
        self.current: Entry | None = None
        self._active: EntryList | None = None
        self._fresh_number = 0
        self._model_info: dict = {}
        self._gen_ready = 0
        self._gen_progress = (0, 0)
        self._gen_label = "generating"
        self._details: OrderedDict[str, tasks.Detail] = OrderedDict()
        self._drag_files: dict[int, Path] = {}
        self._undo: list[Entry] = []
        self._restoring = False
        # Export asks where and how with a dialog; tests and scripts replace this with their own.
        self.choose_export_options: Callable[[tasks.ExportOptions, int, int], tasks.ExportOptions | None] = self._export_dialog
        self.choose_import_files: Callable[[], list[str]] = lambda: QFileDialog.getOpenFileNames(
            self, "Import audio", "", "Audio (*.wav *.flac *.aif *.aiff *.ogg *.mp3)"
        )[0]

        self._build_widgets()
        self._build_actions()
        self._connect()
        self._restore_settings()
        QTimer.singleShot(0, self.refresh_library)
        QTimer.singleShot(0, self._load_fresh)
        if warm_up:  # with the launch warm-up: both import torch, off the GUI thread
            QTimer.singleShot(0, self._check_devices)
        if warm_up:
            QTimer.singleShot(0, self._warm_up)

    # -- construction --------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.panel = GeneratePanel()
        self.fresh_model = DragEntryModel(self)
        self.fresh_list = EntryList(self.fresh_model)
        self.fresh_list.setObjectName("fresh")
        self.library_model = DragEntryModel(self)
        self.library_list = EntryList(self.library_model)
        self.library_list.setObjectName("library")
        for model in (self.fresh_model, self.library_model):
            model.drag_file_provider = self.drag_file_for
            model.drag_error = lambda text: self.show_error(text)
        self.filters = BrowserFilters()
        self.detail = DetailView()
        self.tempo_bar = TempoBar()
        self.transport = Transport()
        self.tag_editor = TagEditor()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("name (F2 to rename)")
        self.name_edit.setObjectName("heading")
        self.info_label = QLabel("Select a loop")
        self.info_label.setObjectName("muted")
        self.rating_label = QLabel("")
        self.rating_label.setToolTip("Rate with the keys 0–5")
        # ♥ as in the lists: a star here would read as one more rating star
        self.favourite_button = QToolButton()
        self.favourite_button.setText("♡")
        self.favourite_button.setObjectName("favourite")
        self.favourite_button.setCheckable(True)
        self.favourite_button.setToolTip("Favourite (F)")
        self.notes_edit = QLineEdit()
        self.notes_edit.setPlaceholderText("notes (searchable)")
        self.notes_edit.setClearButtonEnabled(True)
        self.keep_button = QPushButton(icon("keep"), "Keep")
        self.keep_button.setToolTip("Keep the selected fresh loops in the library (K)")
        self.discard_button = QPushButton(icon("discard"), "Discard")
        self.discard_button.setToolTip("Discard the selected fresh loops (Delete)")
        self.export_button = QPushButton(icon("export"), "Export…")
        self.export_button.setToolTip("Export the selection as DAW-ready WAVs (Ctrl+E)")
        self.undo_button = QPushButton(icon("undo"), "Undo trash")
        self.undo_button.setEnabled(False)

        fresh_header = QLabel("Fresh")
        fresh_header.setObjectName("heading")
        self.fresh_count = QLabel("nothing generated yet")
        self.fresh_list.set_empty_text("Press Generate (Ctrl+G): new breaks land here")
        self.fresh_count.setObjectName("muted")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.panel)
        head = QHBoxLayout()
        head.addWidget(fresh_header)
        head.addWidget(self.fresh_count, 1)
        left_layout.addLayout(head)
        left_layout.addWidget(self.fresh_list, 1)

        lib_header = QLabel("Library")
        lib_header.setObjectName("heading")
        browser = QWidget()
        browser_layout = QVBoxLayout(browser)
        browser_layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(lib_header)
        top.addWidget(self.filters, 1)
        browser_layout.addLayout(top)
        browser_layout.addWidget(self.library_list, 1)

        detail = QWidget()
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        header.addWidget(self.name_edit, 2)
        header.addWidget(self.info_label, 3)
        header.addWidget(self.rating_label)
        header.addWidget(self.favourite_button)
        detail_layout.addLayout(header)
        detail_layout.addWidget(self.detail, 1)
        detail_layout.addWidget(self.tempo_bar)
        detail_layout.addWidget(self.transport)
        curate = QHBoxLayout()
        curate.addWidget(self.tag_editor, 3)
        curate.addWidget(self.notes_edit, 2)
        for b in (self.keep_button, self.discard_button, self.export_button, self.undo_button):
            curate.addWidget(b)
        detail_layout.addLayout(curate)

        self.right_split = QSplitter(Qt.Orientation.Vertical)
        self.right_split.addWidget(browser)
        self.right_split.addWidget(detail)
        self.right_split.setStretchFactor(0, 2)
        self.right_split.setStretchFactor(1, 3)
        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.addWidget(left)
        self.main_split.addWidget(self.right_split)
        self.main_split.setStretchFactor(0, 2)
        self.main_split.setStretchFactor(1, 5)
        self.main_split.setSizes([380, 900])
        self.right_split.setSizes([300, 460])  # first run: room for ~6 library rows above the detail view
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.main_split, 1)
        self.setCentralWidget(central)
        self.messages = MessageBar(central)  # floats over the top: showing it moves nothing
        self.statusBar().showMessage("Ready")
        self.library_label = QLabel("")
        self.library_label.setObjectName("muted")
        self.library_label.setMaximumWidth(360)
        self.statusBar().addPermanentWidget(self.library_label)
        self.project_tempo_bar = ProjectTempoBar()
        self.statusBar().addPermanentWidget(self.project_tempo_bar)
        self.project_tempo = ProjectTempoController(self, self.project_tempo_bar)
        self.chop = ChopController(self)
        self.library_list.set_empty_text("The library is empty: generate breaks and keep them (K),\nor drop audio files here")

    def _action(self, menu, text: str, slot, shortcut=None, icon_name: str | None = None, checkable=False) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.import_action = self._action(file_menu, "Import audio…", self.import_dialog, "Ctrl+I", "import")
        self.export_action = self._action(file_menu, "Export selection…", self.export_selection, "Ctrl+E", "export")
        self._action(file_menu, "Choose library folder…", self.choose_library_folder, None, "folder")
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.close, QKeySequence.StandardKey.Quit)

        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "Undo trash", self.undo_trash, QKeySequence.StandardKey.Undo, "undo")
        self.undo_action.setEnabled(False)
        self.keep_action = self._action(edit, "Keep", self.keep_selection, "K", "keep")
        self.delete_action = self._action(edit, "Discard / trash", self.delete_selection, QKeySequence.StandardKey.Delete, "trash")
        self._action(edit, "Rename", self.start_rename, "F2", "rename")
        self.favourite_action = self._action(edit, "Favourite", self.toggle_favourite, "F", "star")
        self.similar_action = self._action(edit, "More like this", lambda _=False: self.project_tempo.more_like_this(), "Ctrl+M")
        self.chop_action = self._action(edit, "Chop to kit…", lambda _=False: self.chop.chop_current(), "Ctrl+Shift+K")
        self.chop_action.setToolTip("Cut the loop into its hits: WAVs, a MIDI file, SFZ and Decent Sampler presets")
        rate_menu = edit.addMenu("Rating")
        for n in range(6):
            self._action(rate_menu, f"{n} stars", lambda _=False, n=n: self.rate_current(n), str(n))

        play = bar.addMenu("&Play")
        self.play_action = self._action(play, "Play / stop", self.audition.toggle, "Space", "play")
        self._action(play, "Previous", lambda: self.step(-1), "Up")
        self._action(play, "Next", lambda: self.step(1), "Down")
        self.loop_action = self._action(play, "Loop", self.transport.loop_button.toggle, "L", "loop")
        self.autoplay_action = self._action(
            play, "Auto-play on select", self.transport.autoplay_button.toggle, None, "autoplay"
        )

        gen = bar.addMenu("&Generate")
        self.generate_action = self._action(gen, "Generate", self.panel.generate_button.click, "Ctrl+G", "generate")
        self.cancel_action = self._action(gen, "Cancel", self.cancel_generation, "Esc", "cancel")
        # no dialog follows, so no ellipsis: they start at once with the panel's settings
        self.panel.extend_button.setText("Extend")
        self.panel.variations_button.setText("Make")
        self.extend_action = self._action(gen, "Extend", self.panel.extend_button.click, "Ctrl+Shift+E", "extend")
        self.variations_action = self._action(gen, "Variations", self.panel.variations_button.click, "Ctrl+Shift+V", "variations")
        self.rename_action = next(a for a in edit.actions() if a.text() == "Rename")
        self.rating_actions = [a for a in rate_menu.actions()]

    def _connect(self) -> None:
        self.panel.generate_requested.connect(self.start_generation)
        self.panel.cancel_requested.connect(self.cancel_generation)
        self.panel.extend_requested.connect(self.start_extend)
        self.panel.variations_requested.connect(self.start_variations)
        self.fresh_list.current_entry_changed.connect(lambda e: self._on_current(self.fresh_list, e))
        self.library_list.current_entry_changed.connect(lambda e: self._on_current(self.library_list, e))
        self.fresh_list.focused.connect(lambda: self._set_active(self.fresh_list))
        self.library_list.focused.connect(lambda: self._set_active(self.library_list))
        self.filters.changed.connect(self.refresh_library)
        self.detail.region_changed.connect(self.audition.set_region)
        self.detail.seek_requested.connect(self.audition.seek)
        self.audition.position_changed.connect(self._on_position)
        self.audition.playing_changed.connect(self.transport.set_playing)
        self.audition.unavailable.connect(self._on_audio_unavailable)
        self.transport.play_toggled.connect(self.audition.toggle)
        self.transport.loop_toggled.connect(self.audition.set_looping)
        self.transport.loop_toggled.connect(self.loop_action.setChecked)
        self.tag_editor.tags_added.connect(self.add_tags)
        self.tag_editor.tag_removed.connect(self.remove_tag)
        self.name_edit.editingFinished.connect(self._rename_from_edit)
        self.favourite_button.clicked.connect(self.toggle_favourite)
        self.keep_button.clicked.connect(self.keep_selection)
        self.discard_button.clicked.connect(self.delete_selection)
        self.export_button.clicked.connect(self.export_selection)
        self.undo_button.clicked.connect(self.undo_trash)
        self.loop_action.setCheckable(True)
        self.loop_action.setChecked(True)
        self.tempo_bar.grid_changed.connect(self._preview_grid)
        self.tempo_bar.recut_requested.connect(self.recut_current)
        self.notes_edit.editingFinished.connect(self._notes_from_edit)
        self.fresh_model.rowsInserted.connect(lambda *_: self._lists_changed())
        self.fresh_model.rowsRemoved.connect(lambda *_: self._lists_changed())
        self.library_model.modelReset.connect(self._lists_changed)
        self.library_model.rowsRemoved.connect(lambda *_: self._lists_changed())
        # A button press must not leave the keyboard in the button (or, once the button greys
        # out, in whatever field Qt picks next): Space, K, 0-5 and the arrows go back to the list.
        for button in self.findChildren(QAbstractButton):
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            button.clicked.connect(self._return_focus)
        self.update_actions()

    def _return_focus(self) -> None:
        QTimer.singleShot(0, lambda: self.active_list().setFocus(Qt.FocusReason.OtherFocusReason))

    def update_actions(self) -> None:
        """Enable what can act on the current state, buttons and menu items alike."""
        busy = self.jobs.running("generate")
        entry = self.current
        fresh_view = self.active_list() is self.fresh_list
        selected = bool(self.active_list().selected_entries()) or entry is not None
        keepable = any(not e.kept for e in self.fresh_list.selected_entries()) or bool(
            entry is not None and entry.is_fresh and not entry.kept)
        for widget in (self.keep_button, self.keep_action):
            widget.setEnabled(keepable)
        for widget in (self.discard_button, self.delete_action, self.export_button, self.export_action):
            widget.setEnabled(selected)
        self.discard_button.setText("Discard" if fresh_view else "Trash")
        self.discard_button.setIcon(icon("discard" if fresh_view else "trash"))
        self.discard_button.setToolTip(
            "Discard the selected fresh loops (Delete)" if fresh_view else "Move the selected library loops to the trash (Delete)")
        self.delete_action.setText("Discard" if fresh_view else "Move to trash")
        can_model = entry is not None and not busy
        self.panel.extend_button.setEnabled(can_model)
        self.panel.variations_button.setEnabled(can_model)
        self.extend_action.setEnabled(can_model)
        self.variations_action.setEnabled(can_model)
        self.cancel_action.setEnabled(busy or self.chop.running())
        self.generate_action.setEnabled(not busy)
        for action in (self.favourite_action, self.rename_action, self.chop_action, *self.rating_actions):
            action.setEnabled(entry is not None)
        self.favourite_button.setEnabled(entry is not None)
        self.tag_editor.setEnabled(entry is not None)
        self.notes_edit.setEnabled(entry is not None)
        self.name_edit.setEnabled(entry is not None)

    def _lists_changed(self) -> None:
        n = self.fresh_model.rowCount()
        self.fresh_count.setText(tasks.plural(n, "loop") if n else "nothing generated yet")
        self.update_actions()

    # -- settings ------------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.get_bytes("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        for key, splitter in (("window/main_split", self.main_split), ("window/right_split", self.right_split)):
            state = s.get_bytes(key)
            if state is not None:
                splitter.restoreState(state)
        for ref in reversed(s.get_list("model/recent")):
            self.panel.remember_model(ref)
        self._choose_default_model(s.get_str("model/ref"))
        self.panel.device_box.setCurrentText(s.get_str("model/device", "auto"))
        self.panel.count_spin.setValue(s.get_int("generate/count", 8))
        self.panel.set_preset(s.get_str("generate/preset", self.panel.preset_box.currentText()))
        self.panel.steps_spin.setValue(s.get_int("generate/steps", self.panel.steps_spin.value()))
        self.panel.scheduler_box.setCurrentText(s.get_str("generate/scheduler", self.panel.scheduler_box.currentText()))
        self.transport.autoplay_button.setChecked(s.get_bool("audition/autoplay", True))
        self.transport.loop_button.setChecked(s.get_bool("audition/loop", True))
        self.audition.set_looping(self.transport.loop_button.isChecked())
        # the project tempo survives a restart: set before any loop is selected, so nothing refits twice
        self.project_tempo_bar.set_fit(s.get_str("project/fit", "stretch"))
        self.project_tempo_bar.set_bpm(s.get_float("project/bpm", 0.0) or None)

    def _choose_default_model(self, choice: str) -> None:
        """The model box starts on the engine's default (the producer's choice, else breaks-256 when
        cached, else the built-in starter), with both built-in choices always on the list."""
        try:
            from cratedigger.model import STARTER, default_model_reference
            from cratedigger.model.starter import BREAKS_256, BREAKS_256_MB
        except ImportError:  # an engine without the starter model: keep the panel's own default
            if choice:
                self.panel.remember_model(choice)
            return
        ref = default_model_reference(choice or None)
        box = self.panel.model_box
        for name in (STARTER, BREAKS_256):
            if box.findText(name) < 0:
                box.addItem(name)
        self.panel.remember_model(ref)
        box.setItemData(box.findText(STARTER), "Built in: works offline, fast on a CPU; recorded kits rather than vinyl",
                        Qt.ItemDataRole.ToolTipRole)
        box.setItemData(box.findText(BREAKS_256), f"teticio's breaks model: {BREAKS_256_MB} MB from the hub the first "
                        "time, offline after", Qt.ItemDataRole.ToolTipRole)
        if ref == STARTER:
            self.panel.status.setText(f"Model: the built-in starter. The breaks model ({BREAKS_256}, {BREAKS_256_MB} MB "
                                      "download) is in the list")
        else:
            self.panel.status.setText(f"Model: {ref}")

    def save_settings(self) -> None:
        s = self.settings
        s.set("window/geometry", self.saveGeometry())
        s.set("window/main_split", self.main_split.saveState())
        s.set("window/right_split", self.right_split.saveState())
        s.set("model/ref", self.panel.model_ref())
        s.set("model/recent", self.panel.recent_models())
        s.set("model/device", self.panel.device_box.currentText())
        s.set("generate/count", self.panel.count_spin.value())
        s.set("generate/preset", self.panel.preset_box.currentText())
        s.set("generate/steps", self.panel.steps_spin.value())
        s.set("generate/scheduler", self.panel.scheduler_box.currentText())
        s.set("audition/autoplay", self.transport.autoplay_button.isChecked())
        s.set("audition/loop", self.transport.loop_button.isChecked())
        s.set("project/bpm", self.project_tempo_bar.bpm() or 0.0)
        s.set("project/fit", self.project_tempo_bar.fit())
        if self.library.root is not None:
            s.set("library/root", str(self.library.root))
        s.sync()

    @property
    def autoplay(self) -> bool:
        return self.transport.autoplay_button.isChecked()

    def _warm_up(self) -> None:
        self.statusBar().showMessage("Warming up the engine…")
        self.jobs.submit(
            "analysis", tasks.warm_up_job, kind="warm-up",
            on_done=lambda _t: self.statusBar().showMessage("Ready", 4000),
            on_error=lambda m: log.info("warm-up: %s", m),
        )

    @property
    def warmed_up(self) -> bool:
        return not self.jobs.running("warm-up")

    # -- messages ------------------------------------------------------------------------------

    def show_error(self, text: str) -> None:
        text = tasks.readable(text)
        log.warning("shown to the user: %s", text)
        self.messages.show_message(text, "error")
        self._status(text.splitlines()[0], 15000)

    def show_info(self, text: str) -> None:
        self.messages.show_message(text, "info")
        self._status(text, 8000)

    def _status(self, text: str, timeout_ms: int = 0) -> None:
        """A status-bar line that stops short of the library label instead of running under it."""
        bar = self.statusBar()
        room = max(80, bar.width() - self.library_label.width() - 40)
        bar.showMessage(bar.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, room), timeout_ms)

    def _on_audio_unavailable(self, text: str) -> None:
        self.transport.set_audio_problem(text)
        # Said once in the banner; after that the transport's line keeps saying it, so selecting
        # the next loop neither brings the banner back nor hides another error under it.
        if text and text != self._audio_problem:
            self._audio_problem = text
            if self.messages.kind != "error" or not self.messages.text():
                self.show_error(f"{text}. Everything else works; audition needs an audio output.")

    # -- selection and audition ----------------------------------------------------------------

    def _set_active(self, view: EntryList) -> None:
        self._active = view

    def active_list(self) -> EntryList:
        return self._active or (self.fresh_list if self.fresh_model.rowCount() else self.library_list)

    def step(self, delta: int) -> None:
        self.active_list().step(delta)

    def _on_current(self, view: EntryList, entry: Entry | None) -> None:
        if entry is None or self._restoring:
            return
        self._active = view
        other = self.library_list if view is self.fresh_list else self.fresh_list
        if other.currentIndex().isValid():
            other.selectionModel().setCurrentIndex(QModelIndex(), other.selectionModel().SelectionFlag.Clear)
        self.show_entry(entry)

    def show_entry(self, entry: Entry) -> None:
        self.current = entry
        self._show_curation(entry)
        self.detail.show_entry(entry)
        self.tempo_bar.set_entry(entry)
        self.update_actions()
        if entry.audio is not None:
            self._audition(entry.key, entry.audio, entry.sample_rate)
            self.jobs.submit(
                "analysis", tasks.spectrogram_job, entry.audio, entry.sample_rate, kind="spectrogram", replace=True,
                on_done=lambda img, key=entry.key: self._spectrogram_ready(key, img),
            )
            return
        cached = self._details.get(entry.key)
        if cached is not None:
            self._detail_ready(cached)
        else:
            self.jobs.submit(
                "analysis", tasks.load_detail_job, self.library, entry, kind="detail", replace=True,
                on_done=self._detail_ready, on_error=lambda m: self.show_error(f"Cannot open “{entry.name}”: {m}"),
            )
        if entry.sample_id is not None and entry.sample_id not in self._drag_files:
            self.jobs.submit(
                "analysis", tasks.drag_file_job, self.library, entry.sample_id, self.drag_cache, kind="dragprep",
                replace=True, on_done=self._drag_ready, on_error=lambda m: log.info("drag file not prepared: %s", m),
            )

    def _show_curation(self, entry: Entry) -> None:
        self.name_edit.setText(entry.name)
        where = "fresh, not kept yet" if entry.is_fresh and not entry.kept else ("kept" if entry.is_fresh else entry.source)
        self.info_label.setText(f"{entry.summary()} · {where}")
        details = [f"{k}: {v}" for k, v in entry.provenance.items() if k in ("seed", "model", "parent_name", "analysis_note")]
        self.info_label.setToolTip("\n".join(details))
        self.rating_label.setText("★" * entry.rating + "☆" * (5 - entry.rating))
        self.favourite_button.setChecked(entry.favourite)
        self.favourite_button.setText("♥" if entry.favourite else "♡")
        self.tag_editor.set_tags(entry.tags)
        if not self.notes_edit.hasFocus():
            self.notes_edit.setText(entry.notes)
        self.update_actions()

    def _clear_current(self) -> None:
        self.audition.stop()
        self.current = None
        self.detail.clear()
        self.tempo_bar.set_entry(None)
        self.name_edit.clear()
        self.notes_edit.clear()
        self.info_label.setText("Select a loop")
        self.info_label.setToolTip("")
        self.rating_label.setText("")
        self.tag_editor.set_tags(())
        self.update_actions()

    def _audition(self, key: str, audio, sample_rate: int) -> None:
        if self.project_tempo.audition(key, audio, sample_rate):
            return  # fitted to the project tempo first; it plays when ready
        was_playing = self.audition.is_playing()
        self.audition.load(key, audio, sample_rate, region=self.detail.loop_region())
        if self.autoplay or was_playing:
            self.audition.play()

    def _detail_ready(self, detail: tasks.Detail) -> None:
        self._details[detail.key] = detail
        self._details.move_to_end(detail.key)
        while len(self._details) > DETAIL_CACHE:
            self._details.popitem(last=False)
        if self.current is None or self.current.key != detail.key:
            return  # the user moved on while it loaded
        self.detail.set_audio(detail.audio, detail.sample_rate)
        self.detail.set_spectrogram(detail.spectrogram)
        self._audition(detail.key, detail.audio, detail.sample_rate)

    def _spectrogram_ready(self, key: str, image) -> None:
        if self.current is not None and self.current.key == key:
            self.detail.set_spectrogram(image)

    def _on_position(self, seconds) -> None:
        self.detail.set_playhead(seconds)
        self.transport.set_time(seconds, self.audition.region())

    def current_audio(self) -> tuple | None:
        """(audio, sample_rate) of the selected loop when it is in memory."""
        entry = self.current
        if entry is None:
            return None
        if entry.audio is not None:
            return entry.audio, entry.sample_rate
        detail = self._details.get(entry.key)
        return (detail.audio, detail.sample_rate) if detail else None

    # -- generation ----------------------------------------------------------------------------

    def start_generation(self, args: tasks.GenerateArgs) -> None:
        if self.jobs.running("generate"):
            return
        self.statusBar().showMessage(f"Generating {args.count} breaks with {args.ref}")
        self._submit_model_job(
            "Generation", f"{args.count} breaks", tasks.generate_job, args, parent=None, kind="generated",
            on_done=lambda n: self._generation_finished(f"{n} generated"),
        )

    def _submit_model_job(self, title: str, label: str, job, args, *, parent, kind: str, on_done) -> None:
        """Run one model job (generate, extend, variations) on the generation pool, its results
        landing in the Fresh tray with `kind` and lineage to `parent`."""
        self._gen_ready = 0
        self._gen_progress = (0, 0)
        self._gen_label = label
        self._model_loaded = False
        self._job_ref = args.ref
        self.panel.set_busy(True, "loading model…")
        grid = tasks.parent_grid(parent)
        self.jobs.submit(
            "generation", job, self.model_cache, args, kind="generate",
            on_partial=lambda p: self._generation_partial(p, parent=grid, kind=kind),
            on_progress=self._generation_progress,
            on_done=on_done,
            on_error=lambda m: self._generation_failed(title, m),
            on_cancelled=lambda: self._generation_finished("cancelled"),
        )
        self.update_actions()

    def cancel_generation(self) -> None:
        if self.jobs.running("generate"):
            self.jobs.cancel_kind("generate")
            self.panel.progress.setFormat("cancelling…")
        if self.chop.running():
            self.chop.cancel()

    def _generation_partial(self, payload, *, parent: tasks.ParentGrid | None, kind: str) -> None:
        what, value = payload
        if what == "model":
            self._model_loaded = True
            self._model_info = value
            self.panel.status.setText(f"Running on {value['device']} · {value['ref']}")
            self.panel.progress.setFormat("warming up…")
        elif what == "batch":
            self.panel.show_pace(value)
            first = self._fresh_number + 1
            self._fresh_number += len(value)
            index = 1
            if parent is not None:  # variations of one source are numbered on from the last
                index = self._variation_counts.get(parent.name, 0) + 1
                self._variation_counts[parent.name] = index + len(value) - 1
            # held until analysed, so quitting before then still keeps them (closeEvent)
            self._pending_batches[first] = (list(value), kind, parent, index)
            self.jobs.submit(
                "analysis", tasks.prepare_fresh_job, value, first, self.drag_cache, dict(self._model_info),
                parent, kind, self.fresh_store, index, kind=f"fresh-{first}",
                on_done=lambda entries, first=first: self._fresh_ready(entries, first),
                on_error=lambda m: self.show_error(f"Could not analyse new loops: {m}"),
            )

    def _fresh_ready(self, entries: list[Entry], batch: int | None = None) -> None:
        if batch is not None:
            self._pending_batches.pop(batch, None)
        first_ever = self.fresh_model.rowCount() == 0
        self.fresh_model.append(entries)
        self._gen_ready += len(entries)
        if self.jobs.running("generate") and self._gen_progress[1]:
            self._generation_progress(*self._gen_progress)  # "n ready" changes between steps too
        if first_ever and self.current is None and entries:
            self.fresh_list.select_key(entries[0].key)

    def _generation_progress(self, done: int, total: int) -> None:
        self._gen_progress = (done, total)
        self.panel.set_progress(done, total, f"{self._gen_label}: {100 * done // max(1, total)}% · {self._gen_ready} ready")

    def _generation_finished(self, text: str) -> None:
        self.panel.set_busy(False, text)
        self._status(text.capitalize(), 8000)
        self.update_actions()

    def _generation_failed(self, what: str, message: str) -> None:
        self.panel.set_busy(False, "failed")
        if not self._model_loaded:
            self._forget_model(self._job_ref)
        self.show_error(f"{what} failed: {message}")
        self.update_actions()

    def _forget_model(self, ref: str) -> None:
        """A model that did not load leaves the recent list (the text stays in the box to fix)."""
        box = self.panel.model_box
        i = box.findText(ref)
        if i >= 0:
            box.removeItem(i)
        box.setEditText(ref)

    def _source_for_model_work(self, what: str) -> tuple[Entry, tuple] | None:
        entry = self.current
        if entry is None:
            self.show_error(f"{what}: select a loop first")
            return None
        audio = self.current_audio()
        if audio is None:
            self.show_error(f"{what}: “{entry.name}” is still loading; try again in a moment")
            return None
        if self.jobs.running("generate"):
            self.show_error(f"{what}: wait for the running generation to finish, or cancel it")
            return None
        return entry, audio

    def start_extend(self, bars: int) -> None:
        source = self._source_for_model_work("Extend")
        if source is None:
            return
        entry, (audio, rate) = source
        if not entry.bpm:
            self.show_error(f"Extend: “{entry.name}” has no tempo, so there are no bars to continue; "
                            "set its tempo under the waveform and press Re-cut first")
            return
        args = tasks.ExtendArgs(
            ref=self.panel.model_ref(), device=self.panel.device_box.currentText(), audio=audio.copy(), sample_rate=rate,
            bpm=float(entry.bpm), bars_to_add=bars, beats_per_bar=entry.beats_per_bar,
            steps=self.panel.steps_spin.value(), scheduler=self.panel.scheduler_box.currentText(),
        )
        self._submit_model_job(
            "Extend", f"extending by {bars} bars", tasks.extend_job, args, parent=entry, kind="extended",
            on_done=lambda result: self._extended(result, entry),
        )

    def _extended(self, result, parent: Entry) -> None:
        self._generation_finished(f"extended by {result.bars_added} bars")
        self._fresh_number += 1
        self.jobs.submit(
            "analysis", tasks.prepare_extended_job, result, self._fresh_number, self.drag_cache, dict(self._model_info),
            parent, self.fresh_store, kind=f"fresh-{self._fresh_number}", on_done=self._fresh_ready,
            on_error=lambda m: self.show_error(f"Could not prepare the extended loop: {m}"),
        )

    def start_variations(self, count: int, strength: float) -> None:
        source = self._source_for_model_work("Variations")
        if source is None:
            return
        entry, (audio, rate) = source
        args = tasks.VariationArgs(
            ref=self.panel.model_ref(), device=self.panel.device_box.currentText(), audio=audio.copy(), sample_rate=rate,
            count=count, strength=strength, steps=self.panel.steps_spin.value(),
            scheduler=self.panel.scheduler_box.currentText(),
        )
        self._submit_model_job(
            "Variations", f"{count} variations", tasks.variations_job, args, parent=entry, kind="variation",
            on_done=lambda n: self._generation_finished(f"{n} variations"),
        )

    # -- the library ---------------------------------------------------------------------------

    def refresh_library(self) -> None:
        try:
            query = self.filters.query()
        except Exception as exc:  # noqa: BLE001 - a bad filter value is a message, not a crash
            self.show_error(str(exc))
            return
        self.jobs.submit(
            "library", tasks.query_job, self.library, query, kind="query", replace=True,
            on_done=self._library_loaded, on_error=lambda m: self.show_error(f"Library: {m}"),
        )

    def _show_count(self, shown: int, total: int) -> None:
        self.filters.count_label.setText(f"{shown} of {total}" if shown < total else tasks.plural(shown, "loop"))
        filtering = self.filters.is_filtering()
        if shown == 0:
            self.library_list.set_empty_text(
                "No matches: loosen the filters" if filtering else
                "The library is empty: generate breaks and keep them (K),\nor drop audio files here")

    def _library_loaded(self, result: tasks.QueryResult) -> None:
        key = self.library_list.current_entry().key if self.library_list.current_entry() else None
        self._restoring = True
        try:
            self.library_model.set_entries(result.entries)
            if key is not None:
                self.library_list.select_key(key)
        finally:
            self._restoring = False
        shown = len(result.entries)
        self._library_total = result.total
        self._show_count(shown, result.total)
        if self._reselect and self.library_list.select_key(self._reselect):
            self.library_list.setFocus()
        self._reselect = None
        self.filters.set_known_tags(result.tags)
        self.tag_editor.set_known_tags(result.tags)
        try:
            root = self.library.library.root
        except Exception:  # noqa: BLE001 - the label is cosmetic
            root = self.library.root
        self.library_label.setText(f"Library: {root}")

    def _update_entry(self, entry: Entry) -> None:
        """Put a changed entry wherever it is shown (and, for unkept fresh ones, on disk)."""
        for model in (self.fresh_model, self.library_model):
            model.update(entry)
        if entry.is_fresh and not entry.kept and self.fresh_model.get(entry.key) is not None:
            self.jobs.submit("library", lambda ctx, n=entry.number, rec=entry.to_record(): self.fresh_store.save_meta(n, rec),
                             kind="fresh-meta", on_error=lambda m: log.warning("Fresh tray: %s", m))
        if self.current is not None and self.current.key == entry.key:
            self.current = entry
            self._show_curation(entry)

    def _edit(self, entry: Entry, op: str, value=None, on_done=None, on_error=None) -> None:
        def failed(message: str) -> None:
            self.show_error(f"Could not {op} “{entry.name}”: {message}")
            self.refresh_library()  # the view showed the change at once: put back what is stored

        self.jobs.submit(
            "library", tasks.edit_job, self.library, entry.sample_id, op, value, kind=f"edit-{op}",
            on_done=on_done or self._update_entry, on_error=on_error or failed,
        )

    def _change_current(self, op: str, value, local: Callable[[Entry], Entry]) -> None:
        """A curation change: fresh loops change in memory (kept with them), library loops in the DB."""
        entry = self.current
        if entry is None:
            return
        if entry.sample_id is not None and not (entry.is_fresh and not entry.kept):
            self._update_entry(local(entry))  # show it at once; the library's answer confirms it
            self._edit(entry, op, value)
        else:
            self._update_entry(local(entry))

    def add_tags(self, words: list[str]) -> None:
        from cratedigger.library.naming import clean_tags

        try:
            tags = clean_tags(words)
        except Exception as exc:  # noqa: BLE001
            self.show_error(f"Tags: {exc}")
            return
        self._change_current("tag", list(tags), lambda e: e.with_(tags=tuple(dict.fromkeys(e.tags + tags))))
        self.tag_editor.set_known_tags(set(self.tag_editor.known_tags()) | set(tags))

    def remove_tag(self, tag: str) -> None:
        self._change_current("untag", [tag], lambda e: e.with_(tags=tuple(t for t in e.tags if t != tag)))

    def rate_current(self, rating: int) -> None:
        self._change_current("rate", rating, lambda e: e.with_(rating=rating))

    def toggle_favourite(self) -> None:
        if self.current is None:
            return
        fav = not self.current.favourite
        self._change_current("favourite", fav, lambda e: e.with_(favourite=fav))

    def start_rename(self) -> None:
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def _rename_from_edit(self) -> None:
        name = self.name_edit.text().strip()
        if self.current is None or not name or name == self.current.name:
            return
        self._change_current("rename", name, lambda e: e.with_(name=name))

    def keep_selection(self) -> None:
        entries = [e for e in self.fresh_list.selected_entries() if not e.kept]
        if not entries:
            if self.current is not None and self.current.is_fresh and not self.current.kept:
                entries = [self.current]
            else:
                self.statusBar().showMessage("Nothing fresh to keep", 4000)
                return
        for entry in entries:
            self.jobs.submit(
                "library", tasks.keep_job, self.library, entry, kind="keep",
                on_done=lambda lib_entry, fresh=entry: self._kept(fresh, lib_entry),
                on_error=lambda m, fresh=entry: self.show_error(f"Could not keep “{fresh.name}”: {m}"),
            )

    def _kept(self, fresh: Entry, lib_entry: Entry) -> None:
        latest = self.fresh_model.get(fresh.key) or fresh
        self._update_entry(latest.with_(kept=True, sample_id=lib_entry.sample_id))
        # in the library now: the Fresh tray folder need not keep it across a restart
        self.jobs.submit("library", lambda ctx, n=fresh.number: self.fresh_store.remove(n), kind="fresh-remove")
        self._status(f"Kept “{lib_entry.name}” in the library", 6000)
        self.refresh_library()

    def delete_selection(self) -> None:
        view = self.active_list()
        entries = view.selected_entries()
        if not entries:
            return
        row = view.currentIndex().row()
        if view is self.fresh_list:
            for entry in entries:
                self.fresh_model.remove(entry.key)
                self.jobs.submit("library", lambda ctx, n=entry.number: self.fresh_store.remove(n), kind="fresh-remove")
            self._status(f"Discarded {tasks.plural(len(entries), 'fresh loop')}", 5000)
        else:
            for entry in entries:
                self._edit(entry, "trash", on_done=self._trashed, on_error=lambda m, e=entry: self._trash_failed(e, m))
            for entry in entries:
                self.library_model.remove(entry.key)
            self._show_count(self.library_model.rowCount(), self._library_total - len(entries))
        if self.current is not None and self.current.key in {e.key for e in entries}:
            self._clear_current()
        if view.entry_model().rowCount():
            view.setCurrentIndex(view.entry_model().index(min(max(row, 0), view.entry_model().rowCount() - 1)))
        self.update_actions()

    def _trash_failed(self, entry: Entry, message: str) -> None:
        """The row came back: say why, and put the selection back on it, not on its neighbour."""
        self.show_error(f"Could not move “{entry.name}” to the trash: {message}")
        self._reselect = entry.key
        self.refresh_library()

    def _trashed(self, entry: Entry) -> None:
        self._undo.append(entry)
        self.undo_action.setEnabled(True)
        self.undo_button.setEnabled(True)
        self.show_info(f"Moved “{entry.name}” to the trash. Ctrl+Z brings it back.")
        self.refresh_library()

    def undo_trash(self) -> None:
        if not self._undo:
            return
        entry = self._undo.pop()
        self.undo_action.setEnabled(bool(self._undo))
        self.undo_button.setEnabled(bool(self._undo))

        def restored(e: Entry) -> None:
            self.show_info(f"Restored “{e.name}”")
            self.refresh_library()

        self._edit(entry, "restore", on_done=restored)

    def choose_library_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Library folder")
        if folder:
            self.use_library(Path(folder))

    def use_library(self, root: Path) -> None:
        old = self.library
        self.library = tasks.LibraryHandle(root)
        self._details.clear()
        self._drag_files.clear()
        self._undo.clear()
        self.jobs.submit("library", lambda ctx: old.close(), kind="close-library")
        self.settings.set("library/root", str(root))
        self.refresh_library()

    # -- out and in ----------------------------------------------------------------------------

    def _drag_ready(self, result: tuple[int, Path]) -> None:
        sample_id, path = result
        self._drag_files[sample_id] = path

    def drag_file_for(self, entry: Entry) -> Path | None:
        """The WAV a drag carries: prepared when the loop was selected or arrived. Whole bars with
        tempo chunks when it has them, else the clip as is; at the project tempo when one is set."""
        fitted = self.project_tempo.drag_file(entry)  # raises while it is being written
        if fitted is not None:
            return fitted
        if entry.sample_id is not None and not (entry.is_fresh and entry.drag_path):
            path = self._drag_files.get(entry.sample_id)
            if path is not None and path.is_file():
                return path
            # Dragged before its file is ready: the export runs on the pool, never on the GUI thread.
            self._drag_files.pop(entry.sample_id, None)
            self.jobs.submit(
                "analysis", tasks.drag_file_job, self.library, entry.sample_id, self.drag_cache, kind="dragprep",
                replace=True, on_done=self._drag_ready, on_error=lambda m: self.show_error(f"Cannot drag “{entry.name}”: {m}"),
            )
            raise ValueError("its file is still being written; drag again in a moment")
        if entry.drag_path is None or not Path(entry.drag_path).is_file():
            if entry.audio is not None:
                self.jobs.submit(
                    "analysis", tasks.fresh_drag_file_job, entry, self.drag_cache, kind="dragprep-fresh",
                    replace=True, on_done=lambda path, e=entry: self.fresh_model.update(e.with_(drag_path=path)),
                    on_error=lambda m: self.show_error(f"Cannot drag “{entry.name}”: {m}"),
                )
            raise ValueError("its file is still being written; drag again in a moment")
        return entry.drag_path

    def _export_defaults(self) -> tasks.ExportOptions:
        s = self.settings
        rate = s.get_int("export/rate", 0)
        return tasks.ExportOptions(
            folder=Path(s.get_str("export/folder", str(Path.home()))), rate=rate or None,
            bits=s.get_int("export/bits", 16), as_is=s.get_bool("export/as_is", False),
            bpm=self.project_tempo_bar.bpm(), fit=self.project_tempo_bar.fit())

    def _export_dialog(self, defaults: tasks.ExportOptions, count: int, without_bars: int) -> tasks.ExportOptions | None:
        dialog = ExportDialog(defaults, count=count, without_bars=without_bars, parent=self)
        return dialog.options() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def export_selection(self) -> None:
        entries = self.active_list().selected_entries() or ([self.current] if self.current else [])
        if not entries:
            self._status("Select loops to export", 4000)
            return
        without = sum(1 for e in entries if not (e.bpm and e.bars))
        options = self.choose_export_options(self._export_defaults(), len(entries), without)
        if options is None or not str(options.folder).strip():
            return
        s = self.settings
        s.set("export/folder", str(options.folder))
        s.set("export/rate", options.rate or 0)
        s.set("export/bits", options.bits)
        s.set("export/as_is", options.as_is)
        ids = [e.sample_id for e in entries if e.sample_id is not None]
        fresh = [e for e in entries if e.sample_id is None and e.audio is not None]
        self.jobs.submit(
            "library", tasks.export_selection_job, self.library, ids, fresh, options, kind="export",
            on_done=lambda outcome: self._exported(outcome, options.folder, options),
            on_error=lambda m: self.show_error(f"Export failed: {m}"),
        )

    def _exported(self, outcome: tasks.ExportOutcome, folder: Path, options: tasks.ExportOptions | None = None) -> None:
        from cratedigger_ui.project_tempo import FIT_LABELS

        tempo = ""
        if options is not None and options.bpm and not options.as_is:
            tempo = f" at {options.bpm:g} BPM ({FIT_LABELS.get(options.fit, options.fit)})"
        text = f"Exported {tasks.plural(len(outcome.paths), 'loop')}{tempo} to {folder}"
        if outcome.as_is:
            text += f"; as is (whole clip, no tempo): {', '.join(outcome.as_is)}"
        self.last_export = outcome.paths
        if outcome.errors:
            self.show_error(text + "\nNot exported:\n" + "\n".join(outcome.errors))
        else:
            self.show_info(text)

    def import_dialog(self) -> None:
        paths = self.choose_import_files()
        if paths:
            self.import_paths([Path(p) for p in paths])

    def import_paths(self, paths: list[Path], skipped: list[str] | None = None) -> None:
        audio = [p for p in paths if p.suffix.lower() in AUDIO_SUFFIXES or p.suffix == ""]
        skipped = list(skipped or []) + [p.name for p in paths if p not in audio]
        if not audio:
            self.show_error(f"Nothing to import: {', '.join(skipped)} {'is' if len(skipped) == 1 else 'are'} not audio")
            return
        self._status(f"Importing {tasks.plural(len(audio), 'file')}…")
        self.jobs.submit(
            "library", tasks.import_job, self.library, audio, kind="import",
            on_progress=lambda d, t: self._status(f"Importing {d}/{t}…"),
            on_done=lambda outcome: self._imported(outcome, skipped),
            on_error=lambda m: self.show_error(f"Import failed: {m}"),
        )

    def _imported(self, outcome: tasks.ImportOutcome, skipped: list[str] = ()) -> None:
        self.refresh_library()
        summary = outcome.summary(skipped)
        if outcome.errors:
            self.show_error(summary + "\nSome files were not imported:\n" + "\n".join(outcome.errors))
        else:
            self.show_info(summary)

    @staticmethod
    def _dropped_files(mime) -> tuple[list[Path], list[str]]:
        """(audio files, names of the other files) of a drop."""
        if mime is None or not mime.hasUrls():
            return [], []
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        audio = [p for p in paths if p.suffix.lower() in AUDIO_SUFFIXES]
        return audio, [p.name for p in paths if p not in audio]

    def dragEnterEvent(self, event) -> None:
        # Our own drags (file URLs into the drag cache) are for other programs, not re-imports.
        paths, _ = self._dropped_files(event.mimeData())
        if paths and event.source() is None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        paths, others = self._dropped_files(event.mimeData())
        if not paths or event.source() is not None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_paths(paths, others)

    # -- tempo override --------------------------------------------------------------------------

    def _preview_grid(self, bpm: float, first: float) -> None:
        if self.current is not None:
            self.detail.preview_grid(bpm, first)

    def recut_current(self, bpm: float, first: float, bars: int) -> None:
        """Cut whole bars again on the tempo and beat 1 the producer set (cratedigger.regrid)."""
        entry = self.current
        if entry is None:
            return
        audio = entry.clip() if entry.is_fresh else (self.current_audio() or (None,))[0]
        if audio is None:
            self.show_error(f"Re-cut: “{entry.name}” is still loading; try again in a moment")
            return
        args = tasks.RecutArgs(audio=audio.copy(), sample_rate=entry.sample_rate, bpm=bpm, first_downbeat=first, bars=bars)
        failed = lambda m: self.show_error(f"Re-cut “{entry.name}”: {m}")  # noqa: E731
        if entry.is_fresh and not entry.kept:
            self.jobs.submit("analysis", tasks.recut_entry_job, entry, args, self.drag_cache, self.fresh_store,
                             kind="recut", replace=True, on_done=self._recut_fresh, on_error=failed)
        elif entry.sample_id is not None:
            self.jobs.submit("library", tasks.recut_library_job, self.library, entry, args, kind="recut",
                             on_done=self._recut_library, on_error=failed)

    def _recut_fresh(self, entry: Entry) -> None:
        self.fresh_model.update(entry)
        if self.current is not None and self.current.key == entry.key:
            self.show_entry(entry)
        self.show_info(f"Re-cut “{entry.name}”: {entry.summary()}")

    def _recut_library(self, entry: Entry) -> None:
        self._reselect = entry.key
        self.refresh_library()
        self.show_info(f"Kept the re-cut as “{entry.name}” ({entry.summary()}); the original is unchanged")

    def _notes_from_edit(self) -> None:
        notes = self.notes_edit.text().strip()
        if self.current is None or notes == self.current.notes:
            return
        self._change_current("notes", notes, lambda e: e.with_(notes=notes))

    # -- the Fresh tray on disk ------------------------------------------------------------------

    def _load_fresh(self) -> None:
        self.jobs.submit("analysis", tasks.load_fresh_job, self.fresh_store, self.drag_cache, kind="fresh-load",
                         on_done=self._fresh_loaded, on_error=lambda m: self.show_error(f"Fresh tray: {m}"))

    def _fresh_loaded(self, entries: list[Entry]) -> None:
        if not entries:
            return
        self._fresh_number = max(self._fresh_number, *(e.number for e in entries))
        self.fresh_model.insert_front([e for e in entries if self.fresh_model.get(e.key) is None])
        self._status(f"{tasks.plural(len(entries), 'unkept loop')} from last time in Fresh", 6000)

    def _save_fresh_now(self) -> None:
        """On quit: what is still waiting for analysis goes to disk as it is, and every loop's
        name, tags and rating are written (a few small files; the audio is already there)."""
        for first, (candidates, kind, parent, index) in list(self._pending_batches.items()):
            for i, cand in enumerate(candidates):
                entry = Entry(
                    key=f"fresh:{first + i}", name=tasks.fresh_name(kind, first + i, parent, index + i),
                    sample_rate=cand.sample_rate, duration=cand.audio.shape[0] / cand.sample_rate,
                    parent_id=parent.sample_id if parent else None,
                    provenance={"seed": cand.seed, "analysis_note": "not analysed before quitting"},
                    audio=np.asarray(cand.audio, dtype=np.float32))
                if not self.fresh_store.has(first + i):
                    tasks.store_entry(self.fresh_store, entry)
        for entry in self.fresh_model.entries():
            if entry.kept:
                continue
            try:
                if self.fresh_store.has(entry.number):
                    self.fresh_store.save_meta(entry.number, entry.to_record())
                else:
                    tasks.store_entry(self.fresh_store, entry)
            except Exception as exc:  # noqa: BLE001 - quitting goes on; the log says what was lost
                log.warning("could not keep %s: %s", entry.name, exc)

    def _check_devices(self) -> None:
        self.jobs.submit("generation", tasks.devices_job, kind="devices", on_done=self._devices_found,
                         on_error=lambda m: log.info("device check: %s", m))

    def _devices_found(self, devices: list[str]) -> None:
        """Offer only devices this machine has (auto and cpu always)."""
        box = self.panel.device_box
        wanted = self.settings.get_str("model/device", box.currentText())
        for i in reversed(range(box.count())):
            if box.itemText(i) not in devices:
                box.removeItem(i)
        box.setCurrentText(wanted if wanted in devices else "auto")

    # -- quitting ------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        generating = self.jobs.running("generate")
        self.save_settings()
        self._save_fresh_now()
        self.audition.close()
        if generating:
            log.info("quitting mid-generation: cancelling")
        # Cancel everything and let the pools drain: the generation loop stops within one step.
        if not self.jobs.shutdown():
            log.warning("some background work did not finish before quitting")
        self.library.close()
        event.accept()
