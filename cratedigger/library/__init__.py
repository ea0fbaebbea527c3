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

Modules: `db` (schema, migrations, transactions), `store` (Library), `integrity` (check, repair),
`models` (Sample, SampleQuery, CheckReport), `files` (crash-safe writes), `export` (whole-bar WAVs),
`riff` (acid/smpl chunks), `naming` (roots, tags, export file names).
"""

from cratedigger.library.db import SOURCES
from cratedigger.library.export import export_for_drag, export_sample, export_samples, loop_audio, write_loop_wav
from cratedigger.library.models import CheckReport, ImportResult, Sample, SampleQuery
from cratedigger.library.naming import default_root, resolve_root
from cratedigger.library.store import Library

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
