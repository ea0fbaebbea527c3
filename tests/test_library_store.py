"""The library store on a real database and real files: add, edit, query, trash, migrations, errors."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cratedigger.errors import AudioFileError, BadParameterError, LibraryError
from cratedigger.library import Library, SampleQuery, resolve_root
from cratedigger.library import db as library_db
from library_helpers import FakeAnalysis, analysis_for, click_loop

SR = 22050


@pytest.fixture
def lib(tmp_path):
    with Library.open(tmp_path / "lib", analyzer=None) as library:
        yield library


def add_loop(lib: Library, *, bpm=90.0, bars=2, name="loop", source="generated", tags=(), seed=1, **kw):
    audio = click_loop(bpm=bpm, bars=bars, sample_rate=SR, seed=seed)
    return lib.add_audio(audio, SR, name=name, source=source, provenance={"seed": seed}, tags=tags,
                         analysis=analysis_for(audio, bpm=bpm, sample_rate=SR), **kw)


def test_new_library_layout_and_pragmas(tmp_path):
    root = tmp_path / "new" / "lib"
    with Library.open(root, analyzer=None) as lib:
        conn = sqlite3.connect(lib.db_path)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == library_db.MIGRATIONS[-1].version
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert lib._conn().execute("PRAGMA foreign_keys").fetchone()[0] == 1
        conn.close()
        assert lib.backups == ()  # nothing to back up in a new library
    assert (root / "library.db").is_file()


def test_add_audio_writes_file_then_row_with_everything_stored(lib):
    audio = click_loop(bpm=90, bars=2, sample_rate=SR, channels=2)
    analysis = analysis_for(audio, bpm=90.0, sample_rate=SR)
    parent = add_loop(lib, name="parent")
    s = lib.add_audio(
        audio, SR, name="  Dusty   one ", source="variation", analysis=analysis, tags=["Dusty", "half-time", "dusty"],
        provenance={"model": "teticio/audio-diffusion-breaks-256", "revision": "abc", "scheduler": "ddim", "steps": 50,
                    "seed": 7, "params": {"eta": 0.0}},
        parent_id=parent.id, notes="keeper",
    )
    assert s.path.is_file() and s.path == lib.root / s.rel_path and not Path(s.rel_path).is_absolute()
    data, rate = sf.read(s.path, dtype="float32")
    np.testing.assert_array_equal(data, audio)  # float storage is lossless
    assert (rate, s.sample_rate, s.channels, s.frames) == (SR, SR, 2, audio.shape[0])
    assert s.name == "Dusty one" and s.source == "variation" and s.parent_id == parent.id
    assert s.tags == ("dusty", "half-time")
    assert s.bars == 2 and s.beats_per_bar == 4 and s.bpm == pytest.approx(90.0, abs=0.01)
    assert s.beats == analysis.beats and s.downbeats == analysis.downbeats
    assert s.provenance["params"] == {"eta": 0.0} and s.provenance["steps"] == 50
    assert lib.analysis(s.id)["backend"] == "fake" and s.notes == "keeper"
    assert s.duration == pytest.approx(2 * 4 * 60 / 90, abs=1e-4)
    assert lib.get(s.id) == s
    assert s.created.tzinfo is not None


def test_whole_bar_detection_takes_exact_tempo_from_length(lib):
    audio = click_loop(bpm=93.0, bars=4, sample_rate=SR)
    s = lib.add_audio(audio, SR, name="x", source="sliced", analysis=FakeAnalysis(bpm=92.4))  # estimate a bit off
    assert s.bars == 4 and s.bpm == pytest.approx(93.0, abs=0.01)
    odd = lib.add_audio(audio[: int(len(audio) * 0.8)], SR, name="y", source="generated", analysis=FakeAnalysis(bpm=93.0))
    assert odd.bars is None and odd.bpm == pytest.approx(93.0)  # 3.2 bars: not a loop, tempo kept
    explicit = lib.add_audio(audio, SR, name="z", source="sliced", bpm=186.0, bars=8)
    assert (explicit.bpm, explicit.bars) == (186.0, 8)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "name is empty"),
        ({"name": "x" * 201}, "longer than 200"),
        ({"source": "stolen"}, "unknown source 'stolen'"),
        ({"tags": ["ok", "a,b"]}, "commas"),
        ({"tags": ["   "]}, "tag is empty"),
        ({"provenance": {"seed": object()}}, "provenance must be plain JSON"),
        ({"provenance": {"x": float("nan")}}, "provenance must be plain JSON"),
        ({"bars": 0, "bpm": 90.0}, "bars must be"),
        ({"bars": 2}, "bars given without a tempo"),
        ({"bpm": -3.0}, "bpm must be 1-999"),
    ],
)
def test_add_audio_rejects_bad_input_and_writes_nothing(lib, kwargs, message):
    args = {"name": "ok", "source": "generated", **kwargs}
    with pytest.raises(BadParameterError, match=message):
        lib.add_audio(np.zeros(1000, np.float32) + 0.1, SR, **args)
    assert lib.count() == 0 and not list((lib.root).rglob("*.wav"))


def test_add_audio_rejects_bad_audio_and_missing_parent(lib):
    with pytest.raises(AudioFileError, match="no samples"):
        lib.add_audio(np.zeros(0, np.float32), SR, name="x", source="generated")
    with pytest.raises(AudioFileError, match="NaN"):
        lib.add_audio(np.array([0.1, np.nan], np.float32), SR, name="x", source="generated")
    with pytest.raises(BadParameterError, match="sample rate"):
        lib.add_audio(np.ones(10, np.float32), 0, name="x", source="generated")
    with pytest.raises(LibraryError, match="parent sample 99 does not exist"):
        lib.add_audio(np.ones(10, np.float32) * 0.1, SR, name="x", source="variation", parent_id=99)
    assert lib.count() == 0 and not list(lib.root.rglob("*.wav"))  # the written file was taken back
    assert lib.check().ok


def test_edit_operations(lib):
    s = add_loop(lib, tags=["dusty"])
    assert lib.tag(s.id, ["Amen-ish", "dusty"]).tags == ("amen-ish", "dusty")
    assert lib.untag(s.id, ["dusty", "never-there"]).tags == ("amen-ish",)
    assert lib.all_tags() == ("amen-ish",)  # unused tags vanish from completion
    assert lib.rate(s.id, 5).rating == 5
    assert lib.set_favourite(s.id).favourite is True
    assert lib.set_favourite(s.id, False).favourite is False
    assert lib.rename(s.id, "Funky Drummer-ish").name == "Funky Drummer-ish"
    assert lib.get(s.id).path == s.path  # renaming never moves the stored file
    assert lib.set_notes(s.id, "from the crate").notes == "from the crate"
    for bad in (6, -1, 2.5, True, "3"):
        with pytest.raises(BadParameterError, match="rating must be"):
            lib.rate(s.id, bad)
    with pytest.raises(LibraryError, match="no sample with id 404"):
        lib.rate(404, 3)
    with pytest.raises(LibraryError, match="no sample with id 404"):
        lib.tag(404, ["x"])
    with pytest.raises(BadParameterError, match="sample id must be a whole number"):
        lib.get("1; DROP TABLE samples")


def test_trash_restore_purge(lib):
    keep, gone = add_loop(lib, name="keep"), add_loop(lib, name="gone", seed=2, tags=["only-here"])
    child = add_loop(lib, name="child", seed=3, source="variation", parent_id=gone.id)
    lib.trash(gone.id)
    assert [s.id for s in lib.query()] == [child.id, keep.id]
    assert [s.id for s in lib.query(trashed=True)] == [gone.id] and gone.path.exists()
    assert lib.restore(gone.id).trashed is False
    with pytest.raises(LibraryError, match="not in the trash"):
        lib.purge([gone.id])
    lib.trash(gone.id)
    assert lib.purge() == 1
    assert not gone.path.exists() and lib.count(trashed=True) == 0
    with pytest.raises(LibraryError, match=f"no sample with id {gone.id}"):
        lib.get(gone.id)
    assert lib.get(child.id).parent_id is None  # ON DELETE SET NULL; provenance keeps the story
    assert "only-here" not in lib.all_tags()
    assert lib.check().ok


def test_query_filters_sort_and_paging(lib):
    a = add_loop(lib, name="amen slow", bpm=84.0, bars=2, tags=["amen", "dusty"], seed=1)
    b = add_loop(lib, name="think break", bpm=96.0, bars=4, tags=["dusty"], seed=2, source="sliced")
    c = add_loop(lib, name="jungle 100%_fast", bpm=170.0, bars=4, tags=["amen", "fast"], seed=3)
    d = lib.add_audio(np.full(5000, 0.1, np.float32), SR, name="no tempo", source="imported")
    lib.rate(a.id, 4), lib.rate(b.id, 2), lib.set_favourite(c.id)
    lib.set_notes(b.id, "Lyn Collins")

    ids = lambda **kw: [s.id for s in lib.query(**kw)]  # noqa: E731
    assert ids() == [d.id, c.id, b.id, a.id]  # newest first
    assert ids(tags=["amen"]) == [c.id, a.id]
    assert ids(tags=["amen", "dusty"]) == [a.id]
    assert ids(tags=["amen", "dusty"], tag_mode="any") == [c.id, b.id, a.id]
    assert ids(tags=["AMEN"]) == [c.id, a.id]
    assert ids(bpm_min=80, bpm_max=100) == [b.id, a.id]
    assert ids(bpm_min=150) == [c.id]
    assert ids(bars=4) == [c.id, b.id] and ids(bars=[2, 4]) == [c.id, b.id, a.id]
    assert ids(rating_min=3) == [a.id] and ids(favourite=True) == [c.id]
    assert ids(favourite=False) == [d.id, b.id, a.id]
    assert ids(sources="sliced") == [b.id] and ids(sources=["imported", "sliced"]) == [d.id, b.id]
    assert ids(text="amen") == [c.id, a.id]  # name or tag
    assert ids(text="lyn") == [b.id]  # notes
    assert ids(text="dusty slow") == [a.id]  # every word must match
    assert ids(text="100%") == [c.id] and ids(text="%") == [c.id] and ids(text="_") == [c.id]  # wildcards are literal
    assert ids(sort="bpm", descending=False) == [a.id, b.id, c.id, d.id]  # no tempo sorts last
    assert ids(sort="name", descending=False) == [a.id, c.id, d.id, b.id]
    assert ids(sort="rating")[:2] == [a.id, b.id]
    assert ids(sort="duration", descending=False)[0] == d.id
    assert ids(limit=2) == [d.id, c.id] and ids(limit=2, offset=2) == [b.id, a.id] and ids(limit=2, offset=4) == []
    assert lib.count(tags=["amen"]) == 2 and lib.count(limit=1) == 4
    assert lib.query(SampleQuery(tags=("dusty",), sort="id", descending=False))[0] == lib.get(a.id)
    assert lib.tag_counts() == {"amen": 2, "dusty": 2, "fast": 1}
    u = lib.rename(d.id, "Überbreak")
    assert ids(text="überBREAK") == [u.id] and ids(text="no tempo") == []  # Unicode case, renames followed
    lib.untag(a.id, ["dusty"])
    assert ids(text="dusty") == [b.id]  # untagging updates the search too
    lib.set_notes(b.id, "")
    assert ids(text="lyn") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sort": "created; DROP TABLE samples"}, "sort must be one of"),
        ({"tag_mode": "some"}, "tag_mode"),
        ({"bpm_min": 120, "bpm_max": 90}, "BPM range is empty"),
        ({"bpm_min": float("nan")}, "bpm_min must be"),
        ({"rating_min": 9}, "rating_min"),
        ({"limit": -1}, "limit"),
        ({"offset": -5}, "offset"),
        ({"sources": ["bought"]}, "unknown source"),
        ({"bars": [0]}, "bars must be"),
    ],
)
def test_bad_queries_raise_clear_errors(lib, kwargs, message):
    with pytest.raises(BadParameterError, match=message):
        lib.query(**kwargs)


def test_reads_from_another_thread_while_writing(lib):
    errors: list[BaseException] = []
    stop = threading.Event()
    seen: list[int] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                seen.append(len(lib.query(limit=None)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(15):
        add_loop(lib, seed=i, bars=1)
    stop.set()
    thread.join()
    assert not errors and seen and max(seen) <= 15 and lib.count() == 15


def test_import_formats_dedupe_and_analysis(tmp_path):
    calls = []

    def analyzer(audio, sample_rate):
        calls.append((audio.ndim, sample_rate))
        return FakeAnalysis(bpm=120.0)

    audio = click_loop(bpm=120, bars=2, sample_rate=44100, channels=2)
    src = tmp_path / "src"
    src.mkdir()
    paths = {}
    for fmt, subtype, ext in [("WAV", "PCM_24", "wav"), ("FLAC", "PCM_16", "flac"), ("AIFF", "PCM_16", "aiff"),
                              ("OGG", "VORBIS", "ogg"), ("MP3", "MPEG_LAYER_III", "mp3")]:
        paths[ext] = src / f"Break {ext}.{ext}"
        sf.write(paths[ext], audio, 44100, format=fmt, subtype=subtype)
    mono48 = src / "mono48.wav"
    sf.write(mono48, click_loop(bpm=100, bars=1, sample_rate=48000), 48000)

    with Library.open(tmp_path / "lib", analyzer=analyzer) as lib:
        imported = {ext: lib.import_file(p, tags=["mine"]) for ext, p in paths.items()}
        assert all(s.source == "imported" and s.channels == 2 and s.sample_rate == 44100 for s in imported.values())
        assert imported["wav"].bars == 2 and imported["wav"].bpm == pytest.approx(120.0, abs=0.01)
        assert imported["wav"].provenance["original_format"] == "wav" and imported["flac"].name == "Break flac"
        assert calls and all(ndim == 1 for ndim, _ in calls)  # analysed as mono
        m = lib.import_file(mono48)
        assert (m.channels, m.sample_rate) == (1, 48000)

        n = lib.count()
        again = lib.import_file_detailed(paths["flac"], tags=["again"])
        assert again.duplicate and again.sample.id == imported["flac"].id and lib.count() == n
        assert again.sample.tags == ("again", "mine")
        lib.trash(imported["wav"].id)
        back = lib.import_file_detailed(paths["wav"])
        assert back.duplicate and not back.sample.trashed  # importing it again brings it back
        assert len(calls) == 6  # duplicates are not re-analysed


def test_import_rejects_bad_files_clearly(tmp_path):
    junk = tmp_path / "notes.wav"
    junk.write_text("this is not audio")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), SR)
    with Library.open(tmp_path / "lib", analyzer=None) as lib:
        with pytest.raises(AudioFileError, match="not a readable audio file"):
            lib.import_file(junk)
        with pytest.raises(AudioFileError, match="no such file"):
            lib.import_file(tmp_path / "missing.flac")
        with pytest.raises(AudioFileError, match="is a folder"):
            lib.import_file(tmp_path)
        with pytest.raises(AudioFileError, match="no audio"):
            lib.import_file(empty)
        assert lib.count() == 0 and lib.check().ok


def test_import_survives_failing_or_missing_analysis(tmp_path):
    from cratedigger.errors import AnalysisError

    def broken(audio, sample_rate):
        raise AnalysisError("too quiet to find a beat")

    path = tmp_path / "quiet.wav"
    sf.write(path, np.full(4000, 1e-4, np.float32), SR)
    with Library.open(tmp_path / "lib", analyzer=broken) as lib:
        s = lib.import_file(path)
        assert s.bpm is None and s.bars is None


def test_root_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("CRATEDIGGER_LIBRARY", str(tmp_path / "env"))
    assert resolve_root(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_root(None) == tmp_path / "env"
    monkeypatch.delenv("CRATEDIGGER_LIBRARY")
    default = resolve_root(None)
    assert default.name == "library" and "CrateDigger" in str(default)


def test_refuses_folders_that_are_not_libraries(tmp_path):
    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "song.mp3").write_bytes(b"x")
    with pytest.raises(LibraryError, match="not a CrateDigger library"):
        Library.open(tmp_path / "music")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(LibraryError, match="is a file"):
        Library.open(tmp_path / "afile")
    assert sorted(p.name for p in (tmp_path / "music").iterdir()) == ["song.mp3"]


def test_corrupt_database_is_reported_and_left_untouched(tmp_path):
    root = tmp_path / "lib"
    with Library.open(root, analyzer=None) as lib:
        add_loop(lib)
    db_file = root / "library.db"
    garbage = b"definitely not sqlite " * 500
    db_file.write_bytes(garbage)
    with pytest.raises(LibraryError, match="damaged or not a CrateDigger library"):
        Library.open(root, analyzer=None)
    assert db_file.read_bytes() == garbage
    assert len(list((root / "audio").rglob("*.wav"))) == 1  # the audio is still there


def test_locked_database_gives_clear_error_and_loses_nothing(tmp_path):
    root = tmp_path / "lib"
    with Library.open(root, analyzer=None, busy_timeout_s=0.2) as lib:
        first = add_loop(lib)
        other = sqlite3.connect(root / "library.db", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(LibraryError, match="locked by another program"):
                add_loop(lib, seed=9)
            with pytest.raises(LibraryError, match="locked by another program"):
                lib.rate(first.id, 3)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert lib.count() == 1 and lib.get(first.id).rating == 0
        assert len(list((root / "audio").rglob("*.wav"))) == 1
        assert lib.check().ok


def test_disk_full_leaves_nothing_behind(lib, monkeypatch):
    import errno

    from cratedigger.library import files

    real_write = os.write

    def full_disk(fd, data):
        if len(data) > 10_000:  # the audio payload, not SQLite's own small writes
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(files.os, "write", full_disk)
    with pytest.raises(LibraryError, match="disk is full"):
        add_loop(lib)
    monkeypatch.undo()
    assert lib.count() == 0 and not list(lib.root.rglob("*.wav"))
    assert lib.check().ok  # no journal entry left either


def _v2_add_colour(conn):
    conn.execute("ALTER TABLE samples ADD COLUMN colour TEXT")


def _v2_broken(conn):
    conn.execute("ALTER TABLE samples ADD COLUMN colour TEXT")
    raise RuntimeError("bug in migration")


def test_migration_backs_up_then_upgrades(tmp_path):
    root = tmp_path / "lib"
    with Library.open(root, analyzer=None) as lib:
        s = add_loop(lib, tags=["dusty"])
    steps = (*library_db.MIGRATIONS, library_db.Migration(2, "colour", _v2_add_colour))
    with Library.open(root, analyzer=None, migrations=steps) as lib:
        assert len(lib.backups) == 1 and lib.backups[0].parent == root / "backups"
        assert lib.get(s.id).tags == ("dusty",)
        assert library_db.schema_version(lib._conn()) == 2
        assert "colour" in [r[1] for r in lib._conn().execute("PRAGMA table_info(samples)")]
    backup = sqlite3.connect(lib.backups[0])
    assert backup.execute("PRAGMA user_version").fetchone()[0] == 1
    assert backup.execute("SELECT name FROM samples").fetchall() == [("loop",)]
    backup.close()
    with pytest.raises(LibraryError, match="made by a newer CrateDigger"):
        Library.open(root, analyzer=None)  # this build only knows schema 1


def test_failed_migration_rolls_back_and_keeps_the_library(tmp_path):
    root = tmp_path / "lib"
    with Library.open(root, analyzer=None) as lib:
        s = add_loop(lib)
    steps = (*library_db.MIGRATIONS, library_db.Migration(2, "broken", _v2_broken))
    with pytest.raises(LibraryError, match="left at schema 1; a backup is in"):
        Library.open(root, analyzer=None, migrations=steps)
    with Library.open(root, analyzer=None) as lib:
        assert library_db.schema_version(lib._conn()) == 1
        assert "colour" not in [r[1] for r in lib._conn().execute("PRAGMA table_info(samples)")]
        assert lib.get(s.id).name == "loop"


def test_sample_json_view(lib):
    s = add_loop(lib, tags=["a"])
    d = s.to_dict()
    assert json.loads(json.dumps(d))["path"] == s.rel_path
    assert {"id", "path", "bpm", "bars", "tags", "rating"} <= set(d)
    assert hash(s) == hash(lib.get(s.id))


def test_stored_paths_cannot_escape_the_root(lib):
    s = add_loop(lib)
    with lib._tx("tamper") as conn:
        conn.execute("UPDATE samples SET path = '../../etc/passwd' WHERE id = ?", (s.id,))
    with pytest.raises(LibraryError, match="points outside the library"):
        lib.get(s.id)
    report = lib.check()
    assert report.missing_files == ((s.id, "../../etc/passwd"),)


def test_query_ids_and_get_many_page_a_big_view(lib):
    made = [add_loop(lib, seed=i, bars=1, name=f"n{i}") for i in range(5)]
    ids = lib.query_ids(limit=None, sort="name", descending=False)
    assert ids == [s.id for s in made]
    assert [s.name for s in lib.get_many(reversed(ids[:3]))] == ["n2", "n1", "n0"]
    assert lib.get_many([ids[0], 999]) == [lib.get(ids[0])]  # unknown ids are left out
    assert lib.get_many([]) == []


def test_engine_library_imports_without_qt_or_torch():
    import subprocess
    import sys

    code = (
        "import sys; import cratedigger.library, cratedigger.library.export, cratedigger.cli.library; "
        "bad = [m for m in ('PySide6', 'torch', 'cratedigger.analysis') if m in sys.modules]; "
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_numpy_values_in_analysis_and_provenance_are_stored_as_numbers(lib):
    audio = click_loop(bpm=100, bars=1, sample_rate=SR)
    analysis = FakeAnalysis(bpm=np.float64(100.0), beats=tuple(np.arange(4) * 0.6), beats_per_bar=np.int64(4),
                            confidence=float("nan"))
    s = lib.add_audio(audio, SR, name="np", source="generated", analysis=analysis,
                      provenance={"seed": np.int64(7), "eta": np.float32(0.5), "mask": np.array([1, 2])})
    assert s.provenance == {"seed": 7, "eta": 0.5, "mask": [1, 2]}
    assert s.bars == 1 and s.beats_per_bar == 4 and lib.analysis(s.id)["confidence"] is None
    absurd = lib.add_audio(audio, SR, name="absurd", source="generated", analysis=FakeAnalysis(bpm=5000.0))
    assert absurd.bpm is None and absurd.bars is None


def test_check_leaves_live_writers_alone_but_not_stale_entries(lib):
    import time

    with lib._tx("fake journal") as conn:
        conn.execute("INSERT INTO pending_files VALUES ('audio/aa/live.wav', 'add', ?, ?)", (os.getpid(), time.time()))
        conn.execute("INSERT INTO pending_files VALUES ('audio/aa/old.wav', 'add', ?, ?)", (os.getpid(), time.time() - 7200))
    assert lib.check().interrupted == ("audio/aa/old.wav",)  # our own in-flight write is not touched


@pytest.mark.parametrize("hard_links", [True, False])
def test_named_temp_fallback_never_clobbers(tmp_path, monkeypatch, hard_links):
    """Without O_TMPFILE (macOS, Windows, FAT sticks) files go through a named temp file; without
    hard links too (FAT), a look-then-rename. Either way: complete files, no overwrite, no leftovers."""
    import errno

    from cratedigger import atomic
    from cratedigger.library import files

    monkeypatch.setattr(atomic, "supports_tmpfile", lambda: False)
    if not hard_links:
        def no_links(src, dst, **kwargs):
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(files.os, "link", no_links)
    target = tmp_path / "a.wav"
    files.write_new_file(target, b"first")
    with pytest.raises(FileExistsError):
        files.write_new_file(target, b"second")
    files.write_new_file(target, b"third", overwrite=True)
    assert target.read_bytes() == b"third"
    got = files.write_unique(tmp_path, iter(["a.wav", "b.wav"]), b"fourth")
    assert got.name == "b.wav" and got.read_bytes() == b"fourth"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav"]
