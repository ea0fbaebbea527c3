"""The sample library: a folder with an SQLite database (`library.db`) and the audio it points at.

    from cratedigger.library import Library, export_sample
    with Library.open(root) as lib:                      # root None: $CRATEDIGGER_LIBRARY or the user data folder
        s = lib.add_audio(audio, 22050, name="dusty", source="generated", provenance={"seed": 7})
        lib.tag(s.id, ["dusty", "half-time"]); lib.rate(s.id, 4)
        hits = lib.query(tags=["dusty"], bpm_min=80, bpm_max=100, sort="rating")
        export_sample(lib, s.id, "~/Desktop", rate=44100, bits=24)

A big view can page with `lib.query_ids(query)` (every id, cheap) and `lib.get_many(ids)` as rows
come into sight; `export_for_drag(lib, id)` prepares the file a drag-and-drop carries.

Threads: each thread gets its own SQLite connection; writes from any thread queue on SQLite's write
lock. Every sample file is written completely before its row exists; `lib.check(repair=True)` finishes
whatever a killed process left half done.

Modules: `db` (schema, migrations, the transaction), `connection` (opening a library folder, a
connection per thread, reads and writes), `queries` (SampleQuery -> SQL), `rows` (column values <->
Sample), `store` (Library: the operations), `integrity` (check, repair), `rebuild` (a new database
from backups and audio), `models` (Sample, SampleQuery, CheckReport), `files` (crash-safe writes),
`export` (whole-bar WAVs), `riff` (acid/smpl chunks), `naming` (roots, tags, export file names).
Imports point one way, down that list's layers: rows and queries know nothing of the store, and
integrity reaches the library only through its public `connection` and `adopt_orphan`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cratedigger.library.db import SOURCES
from cratedigger.library.models import CheckReport, ImportResult, Sample, SampleQuery
from cratedigger.library.naming import default_root, resolve_root

if TYPE_CHECKING:
    from cratedigger.library.export import export_for_drag, export_sample, export_samples, loop_audio, write_loop_wav
    from cratedigger.library.store import Library

# Loaded on first use, so that importing one small module (rows, queries, connection) does not load
# the store and everything it imports.
_LAZY = {
    "Library": "store",
    "export_for_drag": "export",
    "export_sample": "export",
    "export_samples": "export",
    "loop_audio": "export",
    "write_loop_wav": "export",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

__all__ = [
    "SOURCES",
    "CheckReport",
    "ImportResult",
    "Library",
    "Sample",
    "SampleQuery",
    "default_root",
    "export_for_drag",
    "export_sample",
    "export_samples",
    "loop_audio",
    "resolve_root",
    "write_loop_wav",
]
