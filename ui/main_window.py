"""The main window: generate panel and Fresh tray on the left, library browser and detail view on
the right. It builds the widgets, menus and connections, and shows the selected loop (detail view,
tempo bar, curation row, audition); generation lives in GenerationController and the library in
LibraryController, which talk to widgets through their small methods. Nothing here waits on the
model, the disk or the analysis: every button sends work to a pool (cratedigger_ui.workers)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

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
from cratedigger_ui.cutting import Cutter
from cratedigger_ui.entries import Entry
from cratedigger_ui.generation_controller import GenerationController
from cratedigger_ui.library_controller import AUDIO_SUFFIXES, EMPTY_LIBRARY, LibraryController
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
        cut_in_process: bool = False,
    ) -> None:
        super().__init__()
        guard_refcounts()  # idempotent; covers windows made without create_app (tests)
        self.setWindowTitle("CrateDigger")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self.settings = settings
        if library_root is None and settings.get_str("library/root"):
            library_root = Path(settings.get_str("library/root"))
        self.drag_cache = Path(drag_cache) if drag_cache else default_drag_cache()
        from cratedigger.fresh_store import FreshStore, default_folder

        # Unkept loops live on disk as well as on screen: a quit or a crash loses none of them.
        self.fresh_store = FreshStore(Path(fresh_dir) if fresh_dir else default_folder())
        self._audio_problem = ""
        self.jobs = Jobs(self)
        self.audition = Audition(player_factory, self)
        self.current: Entry | None = None
        self._active: EntryList | None = None
        # Export asks where and how with a dialog; tests and scripts replace this with their own.
        self.choose_export_options: Callable[[tasks.ExportOptions, int, int], tasks.ExportOptions | None] = self._export_dialog
        self.choose_import_files: Callable[[], list[str]] = lambda: QFileDialog.getOpenFileNames(
            self, "Import audio", "", "Audio (*.wav *.flac *.aif *.aiff *.ogg *.mp3)"
        )[0]

        self._build_widgets()
        self.generation = GenerationController(
            self, jobs=self.jobs, panel=self.panel, fresh_model=self.fresh_model, fresh_list=self.fresh_list,
            fresh_store=self.fresh_store, drag_cache=self.drag_cache, settings=settings,
            cutter=Cutter(workers=self.jobs.pools["analysis"].maxThreadCount()) if cut_in_process else None)
        self.library_ctl = LibraryController(
            self, jobs=self.jobs, library_root=library_root, filters=self.filters, library_model=self.library_model,
            library_list=self.library_list, fresh_model=self.fresh_model, fresh_list=self.fresh_list,
            tag_editor=self.tag_editor, fresh_store=self.fresh_store, drag_cache=self.drag_cache, settings=settings)
        self._build_actions()
        self._connect()
        self._restore_settings()
        QTimer.singleShot(0, self.refresh_library)
        QTimer.singleShot(0, self.generation.load_fresh)
        if warm_up:  # with the launch warm-up: both import torch, off the GUI thread
            QTimer.singleShot(0, self.generation.check_devices)
        if warm_up:
            QTimer.singleShot(0, self._warm_up)

    @property
    def library(self) -> tasks.LibraryHandle:
        return self.library_ctl.library

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
        self.library_list.set_empty_text(EMPTY_LIBRARY)

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
        self.import_action = self._action(file_menu, "Import audio…", self.library_ctl.import_dialog, "Ctrl+I", "import")
        self.export_action = self._action(file_menu, "Export selection…", self.library_ctl.export_selection, "Ctrl+E", "export")
        self._action(file_menu, "Choose library folder…", self.choose_library_folder, None, "folder")
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.close, QKeySequence.StandardKey.Quit)

        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "Undo trash", self.library_ctl.undo_trash, QKeySequence.StandardKey.Undo, "undo")
        self.undo_action.setEnabled(False)
        self.keep_action = self._action(edit, "Keep", self.library_ctl.keep_selection, "K", "keep")
        self.delete_action = self._action(edit, "Discard / trash", self.library_ctl.delete_selection, QKeySequence.StandardKey.Delete, "trash")
        self._action(edit, "Rename", self.start_rename, "F2", "rename")
        self.favourite_action = self._action(edit, "Favourite", self.library_ctl.toggle_favourite, "F", "star")
        self.similar_action = self._action(edit, "More like this", lambda _=False: self.project_tempo.more_like_this(), "Ctrl+M")
        self.chop_action = self._action(edit, "Chop to kit…", lambda _=False: self.chop.chop_current(), "Ctrl+Shift+K")
        self.chop_action.setToolTip("Cut the loop into its hits: WAVs, a MIDI file, SFZ and Decent Sampler presets")
        rate_menu = edit.addMenu("Rating")
        for n in range(6):
            self._action(rate_menu, f"{n} stars", lambda _=False, n=n: self.library_ctl.rate_current(n), str(n))

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
        self.cancel_action = self._action(gen, "Cancel", self.cancel, "Esc", "cancel")
        # no dialog follows, so no ellipsis: they start at once with the panel's settings
        self.panel.extend_button.setText("Extend")
        self.panel.variations_button.setText("Make")
        self.extend_action = self._action(gen, "Extend", self.panel.extend_button.click, "Ctrl+Shift+E", "extend")
        self.variations_action = self._action(gen, "Variations", self.panel.variations_button.click, "Ctrl+Shift+V", "variations")
        self.rename_action = next(a for a in edit.actions() if a.text() == "Rename")
        self.rating_actions = [a for a in rate_menu.actions()]

    def _connect(self) -> None:
        self.panel.generate_requested.connect(self.generation.start_generation)
        self.panel.cancel_requested.connect(self.cancel)
        self.panel.extend_requested.connect(self.generation.start_extend)
        self.panel.variations_requested.connect(self.generation.start_variations)
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
        self.tag_editor.tags_added.connect(self.library_ctl.add_tags)
        self.tag_editor.tag_removed.connect(self.library_ctl.remove_tag)
        self.name_edit.editingFinished.connect(lambda: self.library_ctl.rename_current(self.name_edit.text()))
        self.favourite_button.clicked.connect(self.library_ctl.toggle_favourite)
        self.keep_button.clicked.connect(self.library_ctl.keep_selection)
        self.discard_button.clicked.connect(self.library_ctl.delete_selection)
        self.export_button.clicked.connect(self.library_ctl.export_selection)
        self.undo_button.clicked.connect(self.library_ctl.undo_trash)
        self.loop_action.setCheckable(True)
        self.loop_action.setChecked(True)
        self.tempo_bar.grid_changed.connect(self._preview_grid)
        self.tempo_bar.recut_requested.connect(self.library_ctl.recut_current)
        self.notes_edit.editingFinished.connect(lambda: self.library_ctl.set_notes(self.notes_edit.text()))
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
        busy = self.generation.busy
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
        self.panel.set_model_actions_enabled(can_model)
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
        self.generation.choose_default_model(s.get_str("model/ref"))
        chosen = self.panel.settings()
        saved_steps = s.get_int("generate/steps", 0)
        self.panel.restore(device=s.get_str("model/device", "auto"), count=s.get_int("generate/count", 8),
                           preset=s.get_str("generate/preset", chosen.preset), steps=saved_steps or None,
                           scheduler=s.get_str("generate/scheduler", ""))
        self.transport.autoplay_button.setChecked(s.get_bool("audition/autoplay", True))
        self.transport.loop_button.setChecked(s.get_bool("audition/loop", True))
        self.audition.set_looping(self.transport.loop_button.isChecked())
        # the project tempo survives a restart: set before any loop is selected, so nothing refits twice
        self.project_tempo_bar.set_fit(s.get_str("project/fit", "stretch"))
        self.project_tempo_bar.set_bpm(s.get_float("project/bpm", 0.0) or None)

    def save_settings(self) -> None:
        s = self.settings
        chosen = self.panel.settings()
        s.set("window/geometry", self.saveGeometry())
        s.set("window/main_split", self.main_split.saveState())
        s.set("window/right_split", self.right_split.saveState())
        s.set("model/ref", chosen.ref)
        s.set("model/recent", self.panel.recent_models())
        s.set("model/device", chosen.device)
        s.set("generate/count", chosen.count)
        s.set("generate/preset", chosen.preset)
        s.set("generate/steps", chosen.steps)
        s.set("generate/scheduler", chosen.scheduler)
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
            "analysis", tasks.warm_up_job, group="warm-up",
            on_done=lambda _t: self.statusBar().showMessage("Ready", 4000),
            on_error=lambda m: log.info("warm-up: %s", m),
        )
        cutter = self.generation.cutter
        if cutter is not None:  # its workers load the analysis now, not when the first batch lands
            self.jobs.submit("analysis", lambda ctx: cutter.start(), label="cutter-start",
                             on_error=lambda m: log.info("cutting process: %s", m))

    @property
    def warmed_up(self) -> bool:
        return not self.jobs.running("warm-up")

    # -- messages ------------------------------------------------------------------------------

    def show_error(self, text: str) -> None:
        text = tasks.readable(text)
        log.warning("shown to the user: %s", text)
        self.messages.show_message(text, "error")
        self.set_status(text.splitlines()[0], 15000)

    def show_info(self, text: str) -> None:
        self.messages.show_message(text, "info")
        self.set_status(text, 8000)

    def set_status(self, text: str, timeout_ms: int = 0) -> None:
        """A status-bar line that stops short of the library label instead of running under it."""
        bar = self.statusBar()
        room = max(80, bar.width() - self.library_label.width() - 40)
        bar.showMessage(bar.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, room), timeout_ms)

    def show_library_root(self, text: str) -> None:
        self.library_label.setText(text)

    def set_undo_available(self, available: bool) -> None:
        self.undo_action.setEnabled(available)
        self.undo_button.setEnabled(available)

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
        if entry is None or self.library_ctl.restoring:
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
                "analysis", tasks.spectrogram_job, entry.audio, entry.sample_rate, group="spectrogram", replace=True,
                on_done=lambda img, key=entry.key: self._spectrogram_ready(key, img),
            )
            return
        self.library_ctl.load_detail(entry, self._detail_ready)
        self.library_ctl.prepare_drag(entry)

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

    def entry_changed(self, entry: Entry) -> None:
        """A loop changed (renamed, rated, kept…): when it is the selected one, show the change."""
        if self.current is not None and self.current.key == entry.key:
            self.current = entry
            self._show_curation(entry)

    def clear_current(self) -> None:
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
        detail = self.library_ctl.cached_detail(entry.key)
        return (detail.audio, detail.sample_rate) if detail else None

    # -- what the menus and tests call: generation and the library do the work -----------------

    def cancel(self) -> None:
        """Esc: stop the running model job, and a running chop."""
        self.generation.cancel()
        if self.chop.running():
            self.chop.cancel()

    def refresh_library(self) -> None:
        self.library_ctl.refresh()

    def export_selection(self) -> None:
        self.library_ctl.export_selection()

    def drag_file_for(self, entry: Entry) -> Path | None:
        return self.library_ctl.drag_file_for(entry)

    def import_paths(self, paths: list[Path], skipped: list[str] | None = None) -> None:
        self.library_ctl.import_paths(paths, skipped)

    def start_rename(self) -> None:
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def choose_library_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Library folder")
        if folder:
            self.library_ctl.use_library(Path(folder))

    def _export_dialog(self, defaults: tasks.ExportOptions, count: int, without_bars: int) -> tasks.ExportOptions | None:
        dialog = ExportDialog(defaults, count=count, without_bars=without_bars, parent=self)
        return dialog.options() if dialog.exec() == QDialog.DialogCode.Accepted else None

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
        self.library_ctl.import_paths(paths, others)

    # -- tempo override --------------------------------------------------------------------------

    def _preview_grid(self, bpm: float, first: float) -> None:
        if self.current is not None:
            self.detail.preview_grid(bpm, first)

    # -- quitting ------------------------------------------------------------------------------

    def _save_fresh_now(self) -> None:
        """On quit: what is still waiting for analysis goes to disk as it is, and every loop's
        name, tags and rating are written (a few small files; the audio is already there)."""
        self.generation.save_pending()
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

    def closeEvent(self, event) -> None:
        generating = self.generation.busy
        self.save_settings()
        self._save_fresh_now()
        self.audition.close()
        if generating:
            log.info("quitting mid-generation: cancelling")
        # Cancel everything and let the pools drain: the generation loop stops within one step.
        if not self.jobs.shutdown():
            log.warning("some background work did not finish before quitting")
        if self.generation.cutter is not None:
            self.generation.cutter.close()
        self.library_ctl.close()
        event.accept()
