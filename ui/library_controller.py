"""The library in the app: browsing (filters, the count), curation (keep, discard, trash and undo,
tags, rating, favourite, rename, notes, re-cut), import, export and the WAVs a drag carries. Writes go
to the library pool in order; the lists change at once and the library's answer confirms them. The
window it reports to (`shell`) shows messages, knows the selected loop and redraws the curation row."""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

from cratedigger_ui import tasks
from cratedigger_ui.entries import Entry
from cratedigger_ui.widgets.browser import BrowserFilters
from cratedigger_ui.widgets.entry_list import DragEntryModel, EntryList
from cratedigger_ui.widgets.tag_editor import TagEditor

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = {".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3", ".oga", ".opus"}
DETAIL_CACHE = 12  # library loops whose audio stays in memory for instant re-audition
EMPTY_LIBRARY = "The library is empty: generate breaks and keep them (K),\nor drop audio files here"


class LibraryController:
    def __init__(
        self,
        shell: Any,
        *,
        jobs,
        library_root: Path | None,
        filters: BrowserFilters,
        library_model: DragEntryModel,
        library_list: EntryList,
        fresh_model: DragEntryModel,
        fresh_list: EntryList,
        tag_editor: TagEditor,
        fresh_store,
        drag_cache: Path,
        settings,
    ) -> None:
        # shell: show_error/show_info/set_status, current, current_audio(), active_list(), update_actions(),
        # entry_changed(entry), clear_current(), show_entry(entry), set_undo_available(bool),
        # show_library_root(text), choose_export_options(...), choose_import_files(), project tempo
        self.shell = shell
        self.jobs = jobs
        self.library = tasks.LibraryHandle(library_root)
        self.filters = filters
        self.library_model = library_model
        self.library_list = library_list
        self.fresh_model = fresh_model
        self.fresh_list = fresh_list
        self.tag_editor = tag_editor
        self.fresh_store = fresh_store
        self.drag_cache = drag_cache
        self.settings = settings
        self._total = 0
        self._reselect: str | None = None
        self._restoring = False
        self._undo: list[Entry] = []
        self._drag_files: dict[int, Path] = {}
        self._details: OrderedDict[str, tasks.Detail] = OrderedDict()
        self.last_export: list[Path] = []

    @property
    def restoring(self) -> bool:
        """True while a refresh puts the selection back (no loop is newly selected then)."""
        return self._restoring

    # -- browsing ------------------------------------------------------------------------------

    def refresh(self) -> None:
        try:
            query = self.filters.query()
        except Exception as exc:  # noqa: BLE001 - a bad filter value is a message, not a crash
            self.shell.show_error(str(exc))
            return
        self.jobs.submit(
            "library", tasks.query_job, self.library, query, group="query", replace=True,
            on_done=self.show_result, on_error=lambda m: self.shell.show_error(f"Library: {m}"),
        )

    def show_result(self, result: tasks.QueryResult) -> None:
        """Show a query's loops (the filters', or More like this), keeping the selection where it was."""
        key = self.library_list.current_entry().key if self.library_list.current_entry() else None
        self._restoring = True
        try:
            self.library_model.set_entries(result.entries)
            if key is not None:
                self.library_list.select_key(key)
        finally:
            self._restoring = False
        self._total = result.total
        self._show_count(len(result.entries), result.total)
        if self._reselect and self.library_list.select_key(self._reselect):
            self.library_list.setFocus()
        self._reselect = None
        self.filters.set_known_tags(result.tags)
        self.tag_editor.set_known_tags(result.tags)
        try:
            root = self.library.library.root
        except Exception:  # noqa: BLE001 - the label is cosmetic
            root = self.library.root
        self.shell.show_library_root(f"Library: {root}")

    def _show_count(self, shown: int, total: int) -> None:
        self.filters.set_count(shown, total)
        if shown == 0:
            self.library_list.set_empty_text(
                "No matches: loosen the filters" if self.filters.is_filtering() else EMPTY_LIBRARY)

    def use_library(self, root: Path) -> None:
        old = self.library
        self.library = tasks.LibraryHandle(root)
        self._details.clear()
        self._drag_files.clear()
        self._undo.clear()
        self.shell.set_undo_available(False)
        self.jobs.submit("library", lambda ctx: old.close(), label="close-library")
        self.settings.set("library/root", str(root))
        self.refresh()

    def close(self) -> None:
        self.library.close()

    # -- a library loop's audio ----------------------------------------------------------------

    def cached_detail(self, key: str) -> tasks.Detail | None:
        return self._details.get(key)

    def load_detail(self, entry: Entry, on_ready: Callable[[tasks.Detail], None]) -> None:
        """The loop's audio and spectrogram: from the cache at once, else read on the analysis pool
        (a newer selection replaces the read)."""
        cached = self._details.get(entry.key)
        if cached is not None:
            self._details.move_to_end(entry.key)  # the least recently shown leaves first
            on_ready(cached)
            return

        def loaded(detail: tasks.Detail) -> None:
            self._details[detail.key] = detail
            self._details.move_to_end(detail.key)
            while len(self._details) > DETAIL_CACHE:
                self._details.popitem(last=False)
            on_ready(detail)

        self.jobs.submit(
            "analysis", tasks.load_detail_job, self.library, entry, group="detail", replace=True,
            on_done=loaded, on_error=lambda m: self.shell.show_error(f"Cannot open “{entry.name}”: {m}"),
        )

    # -- curation ------------------------------------------------------------------------------

    def update_entry(self, entry: Entry) -> None:
        """Put a changed entry wherever it is shown (and, for unkept fresh ones, on disk)."""
        for model in (self.fresh_model, self.library_model):
            model.update(entry)
        if entry.is_fresh and not entry.kept and self.fresh_model.get(entry.key) is not None:
            self.jobs.submit("library", lambda ctx, n=entry.number, rec=entry.to_record(): self.fresh_store.save_meta(n, rec),
                             label="fresh-meta", on_error=lambda m: log.warning("Fresh tray: %s", m))
        self.shell.entry_changed(entry)

    def _edit(self, entry: Entry, op: str, value=None, on_done=None, on_error=None) -> None:
        def failed(message: str) -> None:
            self.shell.show_error(f"Could not {op} “{entry.name}”: {message}")
            self.refresh()  # the view showed the change at once: put back what is stored

        self.jobs.submit(
            "library", tasks.edit_job, self.library, entry.sample_id, op, value, label=f"edit-{op}",
            on_done=on_done or self.update_entry, on_error=on_error or failed,
        )

    def change_current(self, op: str, value, local: Callable[[Entry], Entry]) -> None:
        """A curation change: fresh loops change in memory (kept with them), library loops in the DB."""
        entry = self.shell.current
        if entry is None:
            return
        self.update_entry(local(entry))  # show it at once; for a library loop the library's answer confirms it
        if entry.sample_id is not None and not (entry.is_fresh and not entry.kept):
            self._edit(entry, op, value)

    def add_tags(self, words: list[str]) -> None:
        from cratedigger.library.naming import clean_tags

        try:
            tags = clean_tags(words)
        except Exception as exc:  # noqa: BLE001
            self.shell.show_error(f"Tags: {exc}")
            return
        self.change_current("tag", list(tags), lambda e: e.with_(tags=tuple(dict.fromkeys(e.tags + tags))))
        self.tag_editor.set_known_tags(set(self.tag_editor.known_tags()) | set(tags))

    def remove_tag(self, tag: str) -> None:
        self.change_current("untag", [tag], lambda e: e.with_(tags=tuple(t for t in e.tags if t != tag)))

    def rate_current(self, rating: int) -> None:
        self.change_current("rate", rating, lambda e: e.with_(rating=rating))

    def toggle_favourite(self) -> None:
        if self.shell.current is None:
            return
        fav = not self.shell.current.favourite
        self.change_current("favourite", fav, lambda e: e.with_(favourite=fav))

    def rename_current(self, name: str) -> None:
        name = name.strip()
        if self.shell.current is None or not name or name == self.shell.current.name:
            return
        self.change_current("rename", name, lambda e: e.with_(name=name))

    def set_notes(self, notes: str) -> None:
        notes = notes.strip()
        if self.shell.current is None or notes == self.shell.current.notes:
            return
        self.change_current("notes", notes, lambda e: e.with_(notes=notes))

    # -- keep, discard, trash ------------------------------------------------------------------

    def keep_selection(self) -> None:
        current = self.shell.current
        entries = [e for e in self.fresh_list.selected_entries() if not e.kept]
        if not entries:
            if current is not None and current.is_fresh and not current.kept:
                entries = [current]
            else:
                self.shell.set_status("Nothing fresh to keep", 4000)
                return
        for entry in entries:
            self.jobs.submit(
                "library", tasks.keep_job, self.library, entry, label="keep",
                on_done=lambda lib_entry, fresh=entry: self._kept(fresh, lib_entry),
                on_error=lambda m, fresh=entry: self.shell.show_error(f"Could not keep “{fresh.name}”: {m}"),
            )

    def _kept(self, fresh: Entry, lib_entry: Entry) -> None:
        latest = self.fresh_model.get(fresh.key) or fresh
        self.update_entry(latest.with_(kept=True, sample_id=lib_entry.sample_id))
        # in the library now: the Fresh tray folder need not keep it across a restart
        self.jobs.submit("library", lambda ctx, n=fresh.number: self.fresh_store.remove(n), label="fresh-remove")
        self.shell.set_status(f"Kept “{lib_entry.name}” in the library", 6000)
        self.refresh()

    def delete_selection(self) -> None:
        """Discard the selected fresh loops, or move the selected library loops to the trash."""
        view = self.shell.active_list()
        entries = view.selected_entries()
        if not entries:
            return
        row = view.currentIndex().row()
        if view is self.fresh_list:
            for entry in entries:
                self.fresh_model.remove(entry.key)
                self.jobs.submit("library", lambda ctx, n=entry.number: self.fresh_store.remove(n), label="fresh-remove")
            self.shell.set_status(f"Discarded {tasks.plural(len(entries), 'fresh loop')}", 5000)
        else:
            for entry in entries:
                self._edit(entry, "trash", on_done=self._trashed, on_error=lambda m, e=entry: self._trash_failed(e, m))
            for entry in entries:
                self.library_model.remove(entry.key)
            self._show_count(self.library_model.rowCount(), self._total - len(entries))
        current = self.shell.current
        if current is not None and current.key in {e.key for e in entries}:
            self.shell.clear_current()
        if view.entry_model().rowCount():
            view.setCurrentIndex(view.entry_model().index(min(max(row, 0), view.entry_model().rowCount() - 1)))
        self.shell.update_actions()

    def _trash_failed(self, entry: Entry, message: str) -> None:
        """The row came back: say why, and put the selection back on it, not on its neighbour."""
        self.shell.show_error(f"Could not move “{entry.name}” to the trash: {message}")
        self._reselect = entry.key
        self.refresh()

    def _trashed(self, entry: Entry) -> None:
        self._undo.append(entry)
        self.shell.set_undo_available(True)
        self.shell.show_info(f"Moved “{entry.name}” to the trash. Ctrl+Z brings it back.")
        self.refresh()

    def undo_trash(self) -> None:
        if not self._undo:
            return
        entry = self._undo.pop()
        self.shell.set_undo_available(bool(self._undo))

        def restored(e: Entry) -> None:
            self.shell.show_info(f"Restored “{e.name}”")
            self.refresh()

        self._edit(entry, "restore", on_done=restored)

    # -- re-cut on the producer's grid ---------------------------------------------------------

    def recut_current(self, bpm: float, first: float, bars: int) -> None:
        """Cut whole bars again on the tempo and beat 1 the producer set (cratedigger.regrid)."""
        entry = self.shell.current
        if entry is None:
            return
        audio = entry.clip() if entry.is_fresh else (self.shell.current_audio() or (None,))[0]
        if audio is None:
            self.shell.show_error(f"Re-cut: “{entry.name}” is still loading; try again in a moment")
            return
        args = tasks.RecutArgs(audio=audio.copy(), sample_rate=entry.sample_rate, bpm=bpm, first_downbeat=first, bars=bars)
        failed = lambda m: self.shell.show_error(f"Re-cut “{entry.name}”: {m}")  # noqa: E731
        if entry.is_fresh and not entry.kept:
            self.jobs.submit("analysis", tasks.recut_entry_job, entry, args, self.drag_cache, self.fresh_store,
                             group="recut", replace=True, on_done=self._recut_fresh, on_error=failed)
        elif entry.sample_id is not None:
            self.jobs.submit("library", tasks.recut_library_job, self.library, entry, args, label="recut",
                             on_done=self._recut_library, on_error=failed)

    def _recut_fresh(self, entry: Entry) -> None:
        self.fresh_model.update(entry)
        current = self.shell.current
        if current is not None and current.key == entry.key:
            self.shell.show_entry(entry)
        self.shell.show_info(f"Re-cut “{entry.name}”: {entry.summary()}")

    def _recut_library(self, entry: Entry) -> None:
        self._reselect = entry.key
        self.refresh()
        self.shell.show_info(f"Kept the re-cut as “{entry.name}” ({entry.summary()}); the original is unchanged")

    # -- drag files ----------------------------------------------------------------------------

    def prepare_drag(self, entry: Entry) -> None:
        """Write the WAV a drag of this library loop will carry, before the drag starts."""
        if entry.sample_id is not None and entry.sample_id not in self._drag_files:
            self.jobs.submit(
                "analysis", tasks.drag_file_job, self.library, entry.sample_id, self.drag_cache, group="dragprep",
                replace=True, on_done=self._drag_ready, on_error=lambda m: log.info("drag file not prepared: %s", m),
            )

    def _drag_ready(self, result: tuple[int, Path]) -> None:
        sample_id, path = result
        self._drag_files[sample_id] = path

    def drag_file_for(self, entry: Entry) -> Path | None:
        """The WAV a drag carries: prepared when the loop was selected or arrived. Whole bars with
        tempo chunks when it has them, else the clip as is; at the project tempo when one is set."""
        fitted = self.shell.project_tempo.drag_file(entry)  # raises while it is being written
        if fitted is not None:
            return fitted
        if entry.sample_id is not None and not (entry.is_fresh and entry.drag_path):
            path = self._drag_files.get(entry.sample_id)
            if path is not None and path.is_file():
                return path
            # Dragged before its file is ready: the export runs on the pool, never on the GUI thread.
            self._drag_files.pop(entry.sample_id, None)
            self.jobs.submit(
                "analysis", tasks.drag_file_job, self.library, entry.sample_id, self.drag_cache, group="dragprep",
                replace=True, on_done=self._drag_ready,
                on_error=lambda m: self.shell.show_error(f"Cannot drag “{entry.name}”: {m}"),
            )
            raise ValueError("its file is still being written; drag again in a moment")
        if entry.drag_path is None or not Path(entry.drag_path).is_file():
            if entry.audio is not None:
                self.jobs.submit(
                    "analysis", tasks.fresh_drag_file_job, entry, self.drag_cache, group="dragprep-fresh",
                    replace=True, on_done=lambda path, e=entry: self.fresh_model.update(e.with_(drag_path=path)),
                    on_error=lambda m: self.shell.show_error(f"Cannot drag “{entry.name}”: {m}"),
                )
            raise ValueError("its file is still being written; drag again in a moment")
        return entry.drag_path

    # -- export and import ---------------------------------------------------------------------

    def export_defaults(self) -> tasks.ExportOptions:
        s = self.settings
        rate = s.get_int("export/rate", 0)
        tempo = self.shell.project_tempo_bar
        return tasks.ExportOptions(
            folder=Path(s.get_str("export/folder", str(Path.home()))), rate=rate or None,
            bits=s.get_int("export/bits", 16), as_is=s.get_bool("export/as_is", False),
            bpm=tempo.bpm(), fit=tempo.fit())

    def export_selection(self) -> None:
        current = self.shell.current
        entries = self.shell.active_list().selected_entries() or ([current] if current else [])
        if not entries:
            self.shell.set_status("Select loops to export", 4000)
            return
        without = sum(1 for e in entries if not (e.bpm and e.bars))
        options = self.shell.choose_export_options(self.export_defaults(), len(entries), without)
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
            "library", tasks.export_selection_job, self.library, ids, fresh, options, label="export",
            on_done=lambda outcome: self._exported(outcome, options.folder, options),
            on_error=lambda m: self.shell.show_error(f"Export failed: {m}"),
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
            self.shell.show_error(text + "\nNot exported:\n" + "\n".join(outcome.errors))
        else:
            self.shell.show_info(text)

    def import_dialog(self) -> None:
        paths = self.shell.choose_import_files()
        if paths:
            self.import_paths([Path(p) for p in paths])

    def import_paths(self, paths: list[Path], skipped: list[str] | None = None) -> None:
        audio = [p for p in paths if p.suffix.lower() in AUDIO_SUFFIXES or p.suffix == ""]
        skipped = list(skipped or []) + [p.name for p in paths if p not in audio]
        if not audio:
            self.shell.show_error(f"Nothing to import: {', '.join(skipped)} {'is' if len(skipped) == 1 else 'are'} not audio")
            return
        self.shell.set_status(f"Importing {tasks.plural(len(audio), 'file')}…")
        self.jobs.submit(
            "library", tasks.import_job, self.library, audio, label="import",
            on_progress=lambda d, t: self.shell.set_status(f"Importing {d}/{t}…"),
            on_done=lambda outcome: self._imported(outcome, skipped),
            on_error=lambda m: self.shell.show_error(f"Import failed: {m}"),
        )

    def _imported(self, outcome: tasks.ImportOutcome, skipped: list[str] = ()) -> None:
        self.refresh()
        summary = outcome.summary(skipped)
        if outcome.errors:
            self.shell.show_error(summary + "\nSome files were not imported:\n" + "\n".join(outcome.errors))
        else:
            self.shell.show_info(summary)
