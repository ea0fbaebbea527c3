"""The main window: generate panel and Fresh tray on the left, library browser and detail view on
the right. Every button sends work to a pool (cratedigger_ui.workers) and updates views when the
result signal lands; nothing here waits on the model, the disk or the analysis."""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
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
from cratedigger_ui.entries import Entry
from cratedigger_ui.project_tempo import ProjectTempoBar, ProjectTempoController
from cratedigger_ui.qt_compat import guard_refcounts
from cratedigger_ui.settings import AppSettings
from cratedigger_ui.theme import icon
from cratedigger_ui.widgets.browser import BrowserFilters
from cratedigger_ui.widgets.detail_view import DetailView
from cratedigger_ui.widgets.entry_list import DragEntryModel, EntryList
from cratedigger_ui.widgets.generate_panel import GeneratePanel
from cratedigger_ui.widgets.message_bar import MessageBar
from cratedigger_ui.widgets.tag_editor import TagEditor
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
        # Export asks for a folder with a dialog; tests and scripts replace this with their own.
        self.choose_export_folder: Callable[[], str] = lambda: QFileDialog.getExistingDirectory(self, "Export to folder")
        self.choose_import_files: Callable[[], list[str]] = lambda: QFileDialog.getOpenFileNames(
            self, "Import audio", "", "Audio (*.wav *.flac *.aif *.aiff *.ogg *.mp3)"
        )[0]

        self._build_widgets()
        self._build_actions()
        self._connect()
        self._restore_settings()
        QTimer.singleShot(0, self.refresh_library)
        if warm_up:
            QTimer.singleShot(0, self._warm_up)

    # -- construction --------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.messages = MessageBar()
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
        self.transport = Transport()
        self.tag_editor = TagEditor()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("name (F2 to rename)")
        self.name_edit.setObjectName("heading")
        self.info_label = QLabel("Select a loop")
        self.info_label.setObjectName("muted")
        self.rating_label = QLabel("")
        self.rating_label.setToolTip("Rate with the keys 0–5")
        self.favourite_button = QToolButton()
        self.favourite_button.setIcon(icon("star-empty"))
        self.favourite_button.setCheckable(True)
        self.favourite_button.setToolTip("Favourite (F)")
        self.keep_button = QPushButton(icon("keep"), "Keep")
        self.keep_button.setToolTip("Keep the selected fresh loops in the library (K)")
        self.discard_button = QPushButton(icon("discard"), "Discard")
        self.discard_button.setToolTip("Discard fresh loops, or move library loops to the trash (Delete)")
        self.export_button = QPushButton(icon("export"), "Export…")
        self.export_button.setToolTip("Export the selection as DAW-ready WAVs (Ctrl+E)")
        self.undo_button = QPushButton(icon("undo"), "Undo trash")
        self.undo_button.setEnabled(False)

        fresh_header = QLabel("Fresh")
        fresh_header.setObjectName("heading")
        self.fresh_count = QLabel("nothing generated yet")
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
        header.addWidget(self.info_label, 2)
        header.addWidget(self.rating_label)
        header.addWidget(self.favourite_button)
        detail_layout.addLayout(header)
        detail_layout.addWidget(self.detail, 1)
        detail_layout.addWidget(self.transport)
        curate = QHBoxLayout()
        curate.addWidget(self.tag_editor, 3)
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
        layout.addWidget(self.messages)
        layout.addWidget(self.main_split, 1)
        self.setCentralWidget(central)
        self.statusBar().showMessage("Ready")
        self.library_label = QLabel("")
        self.library_label.setObjectName("muted")
        self.statusBar().addPermanentWidget(self.library_label)
        self.project_tempo_bar = ProjectTempoBar()
        self.statusBar().addPermanentWidget(self.project_tempo_bar)
        self.project_tempo = ProjectTempoController(self, self.project_tempo_bar)

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
        self.extend_action = self._action(gen, "Extend…", self.panel.extend_button.click, "Ctrl+Shift+E", "extend")
        self.variations_action = self._action(gen, "Variations…", self.panel.variations_button.click, "Ctrl+Shift+V", "variations")

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
        if s.get_str("model/ref"):
            self.panel.remember_model(s.get_str("model/ref"))
        self.panel.device_box.setCurrentText(s.get_str("model/device", "auto"))
        self.panel.count_spin.setValue(s.get_int("generate/count", 8))
        self.panel.set_preset(s.get_str("generate/preset", self.panel.preset_box.currentText()))
        self.panel.steps_spin.setValue(s.get_int("generate/steps", self.panel.steps_spin.value()))
        self.panel.scheduler_box.setCurrentText(s.get_str("generate/scheduler", self.panel.scheduler_box.currentText()))
        self.transport.autoplay_button.setChecked(s.get_bool("audition/autoplay", True))
        self.transport.loop_button.setChecked(s.get_bool("audition/loop", True))
        self.audition.set_looping(self.transport.loop_button.isChecked())

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
        log.warning("shown to the user: %s", text)
        self.messages.show_message(text, "error")
        self.statusBar().showMessage(text.splitlines()[0], 15000)

    def show_info(self, text: str) -> None:
        self.messages.show_message(text, "info")
        self.statusBar().showMessage(text, 8000)

    def _on_audio_unavailable(self, text: str) -> None:
        self.transport.set_audio_problem(text)
        if text:
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
        self.rating_label.setText("★" * entry.rating + "☆" * (5 - entry.rating))
        self.favourite_button.setChecked(entry.favourite)
        self.favourite_button.setIcon(icon("star" if entry.favourite else "star-empty"))
        self.tag_editor.set_tags(entry.tags)
        self.keep_button.setEnabled(entry.is_fresh and not entry.kept)

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
        self.panel.set_busy(True, "loading model…")
        self.jobs.submit(
            "generation", job, self.model_cache, args, kind="generate",
            on_partial=lambda p: self._generation_partial(p, parent=parent, kind=kind),
            on_progress=self._generation_progress,
            on_done=on_done,
            on_error=lambda m: self._generation_failed(title, m),
            on_cancelled=lambda: self._generation_finished("cancelled"),
        )

    def cancel_generation(self) -> None:
        if self.jobs.running("generate"):
            self.jobs.cancel_kind("generate")
            self.panel.progress.setFormat("cancelling…")

    def _generation_partial(self, payload, *, parent: Entry | None, kind: str) -> None:
        what, value = payload
        if what == "model":
            self._model_info = value
            self.panel.status.setText(f"Running on {value['device']} · {value['ref']}")
            self.panel.progress.setFormat("warming up…")
        elif what == "batch":
            self.panel.show_pace(value)
            first = self._fresh_number + 1
            self._fresh_number += len(value)
            self.jobs.submit(
                "analysis", tasks.prepare_fresh_job, value, first, self.drag_cache, dict(self._model_info),
                parent.sample_id if parent else None, kind, kind=f"fresh-{first}",
                on_done=self._fresh_ready, on_error=lambda m: self.show_error(f"Could not analyse new loops: {m}"),
            )

    def _fresh_ready(self, entries: list[Entry]) -> None:
        first_ever = self.fresh_model.rowCount() == 0
        self.fresh_model.append(entries)
        self._gen_ready += len(entries)
        if self.jobs.running("generate") and self._gen_progress[1]:
            self._generation_progress(*self._gen_progress)  # "n ready" changes between steps too
        self.fresh_count.setText(f"{self.fresh_model.rowCount()} loops")
        if first_ever and self.current is None and entries:
            self.fresh_list.select_key(entries[0].key)

    def _generation_progress(self, done: int, total: int) -> None:
        self._gen_progress = (done, total)
        self.panel.set_progress(done, total, f"{self._gen_label}: {100 * done // max(1, total)}% · {self._gen_ready} ready")

    def _generation_finished(self, text: str) -> None:
        self.panel.set_busy(False, text)
        self.statusBar().showMessage(text.capitalize(), 8000)

    def _generation_failed(self, what: str, message: str) -> None:
        self.panel.set_busy(False, "failed")
        self.show_error(f"{what} failed: {message}")

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
            self.show_error(f"Extend: “{entry.name}” has no tempo, so there are no bars to continue")
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
            parent, kind=f"fresh-{self._fresh_number}", on_done=self._fresh_ready,
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
        self.filters.count_label.setText(f"{shown} of {result.total}" if shown < result.total else f"{shown} loops")
        self.filters.set_known_tags(result.tags)
        self.tag_editor.set_known_tags(result.tags)
        try:
            root = self.library.library.root
        except Exception:  # noqa: BLE001 - the label is cosmetic
            root = self.library.root
        self.library_label.setText(f"Library: {root}")

    def _update_entry(self, entry: Entry) -> None:
        """Put a changed entry wherever it is shown."""
        for model in (self.fresh_model, self.library_model):
            model.update(entry)
        if self.current is not None and self.current.key == entry.key:
            self.current = entry
            self._show_curation(entry)

    def _edit(self, entry: Entry, op: str, value=None, on_done=None) -> None:
        def failed(message: str) -> None:
            self.show_error(f"Could not {op} “{entry.name}”: {message}")
            self.refresh_library()  # the view showed the change at once: put back what is stored

        self.jobs.submit(
            "library", tasks.edit_job, self.library, entry.sample_id, op, value, kind=f"edit-{op}",
            on_done=on_done or self._update_entry, on_error=failed,
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
        self.statusBar().showMessage(f"Kept “{lib_entry.name}” in the library", 6000)
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
            self.fresh_count.setText(f"{self.fresh_model.rowCount()} loops")
            self.statusBar().showMessage(f"Discarded {len(entries)} fresh loop(s)", 5000)
        else:
            for entry in entries:
                self._edit(entry, "trash", on_done=self._trashed)
            for entry in entries:
                self.library_model.remove(entry.key)
        if self.current is not None and self.current.key in {e.key for e in entries}:
            self.audition.stop()
            self.current = None
            self.detail.clear()
        if view.entry_model().rowCount():
            view.setCurrentIndex(view.entry_model().index(min(max(row, 0), view.entry_model().rowCount() - 1)))

    def _trashed(self, entry: Entry) -> None:
        self._undo.append(entry)
        self.undo_action.setEnabled(True)
        self.undo_button.setEnabled(True)
        self.show_info(f"Moved “{entry.name}” to the trash. Ctrl+Z brings it back.")

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
        """The WAV a drag carries: prepared when the loop was selected or arrived."""
        if entry.sample_id is not None and not (entry.is_fresh and entry.drag_path):
            path = self.project_tempo.drag_file(entry) or self._drag_files.get(entry.sample_id)
            if path is not None and path.is_file():
                return path
            # Dragged before the background export finished: a drag cannot wait for a signal, and
            # writing one WAV of a few seconds takes milliseconds.
            from cratedigger.library import export_for_drag

            path = export_for_drag(self.library.library, entry.sample_id, cache_dir=self.drag_cache)
            self._drag_files[entry.sample_id] = path
            return path
        if entry.drag_path is None:
            raise ValueError("no whole-bar loop was found in it, so a DAW would get no tempo; keep or export it instead")
        return entry.drag_path

    def export_selection(self) -> None:
        entries = self.active_list().selected_entries() or ([self.current] if self.current else [])
        if not entries:
            self.statusBar().showMessage("Select loops to export", 4000)
            return
        folder = self.choose_export_folder()
        if not folder:
            return
        ids = [e.sample_id for e in entries if e.sample_id is not None]
        fresh = [e.drag_path for e in entries if e.sample_id is None and e.drag_path is not None]
        skipped = len(entries) - len(ids) - len(fresh)
        self.jobs.submit(
            "library", tasks.export_selection_job, self.library, ids, fresh, Path(folder), kind="export",
            on_done=lambda paths: self._exported(paths, folder, skipped),
            on_error=lambda m: self.show_error(f"Export failed: {m}"),
        )

    def _exported(self, paths: list[Path], folder: str, skipped: int) -> None:
        text = f"Exported {len(paths)} loop(s) to {folder}"
        if skipped:
            text += f"; {skipped} without a whole-bar loop were skipped"
        self.last_export = paths
        self.show_info(text)

    def import_dialog(self) -> None:
        paths = self.choose_import_files()
        if paths:
            self.import_paths([Path(p) for p in paths])

    def import_paths(self, paths: list[Path]) -> None:
        self.statusBar().showMessage(f"Importing {len(paths)} file(s)…")
        self.jobs.submit(
            "library", tasks.import_job, self.library, paths, kind="import",
            on_progress=lambda d, t: self.statusBar().showMessage(f"Importing {d}/{t}…"),
            on_done=self._imported, on_error=lambda m: self.show_error(f"Import failed: {m}"),
        )

    def _imported(self, outcome: tasks.ImportOutcome) -> None:
        self.refresh_library()
        if outcome.errors:
            self.show_error("Some files were not imported:\n" + "\n".join(outcome.errors))
        else:
            self.show_info(f"Imported {len(outcome.entries)} file(s)")

    @staticmethod
    def _dropped_files(mime) -> list[Path]:
        if mime is None or not mime.hasUrls():
            return []
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        return [p for p in paths if p.suffix.lower() in AUDIO_SUFFIXES]

    def dragEnterEvent(self, event) -> None:
        # Our own drags (file URLs into the drag cache) are for other programs, not re-imports.
        paths = self._dropped_files(event.mimeData())
        if paths and event.source() is None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        paths = self._dropped_files(event.mimeData())
        if not paths or event.source() is not None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_paths(paths)

    # -- quitting ------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        generating = self.jobs.running("generate")
        self.save_settings()
        self.audition.close()
        if generating:
            log.info("quitting mid-generation: cancelling")
        # Cancel everything and let the pools drain: the generation loop stops within one step.
        if not self.jobs.shutdown():
            log.warning("some background work did not finish before quitting")
        self.library.close()
        event.accept()
