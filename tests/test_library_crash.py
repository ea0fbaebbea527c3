"""Processes killed (SIGKILL) in the middle of add, export and purge leave no half file and no row
without its file; `check` sees what is left and `check --repair` puts it right."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cratedigger.library import Library
from library_helpers import child_env, click_loop, parse_wav

WORKER = Path(__file__).with_name("library_worker.py")
SR = 44100


def start_worker(root: Path, mode: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(root), mode, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(),
    )


def wait_for(proc: subprocess.Popen, word: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(word):
            return line
    proc.kill()
    raise AssertionError(f"worker never said {word!r}: {proc.stderr.read()[-2000:]}")


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()


def assert_no_half_files_no_orphan_rows(root: Path) -> Library:
    """The promises that must hold right after a kill, before any repair."""
    lib = Library.open(root, analyzer=None)
    report = lib.check()
    assert report.integrity == "ok"
    assert report.missing_files == (), "a row points at a missing or incomplete file"
    assert report.orphan_files == (), "a file no row owns and no journal entry explains"
    assert report.temp_files == (), "a temporary (half) file was left behind"
    owned = {s.rel_path: s for s in lib.query(limit=None) + lib.query(limit=None, trashed=True)}
    on_disk = [p for p in (root / "audio").rglob("*") if p.is_file()]
    for path in on_disk:
        data, rate = sf.read(path, dtype="float32", always_2d=True)  # every file reads completely
        rel = path.relative_to(root).as_posix()
        if rel in owned:
            assert data.shape == (owned[rel].frames, owned[rel].channels) and rate == owned[rel].sample_rate
        else:
            assert rel in report.interrupted
    return lib


def repair_and_verify(lib: Library) -> None:
    repaired = lib.check(repair=True)
    assert repaired.ok, repaired.lines()
    assert lib.check().ok
    files_left = {p.relative_to(lib.root).as_posix() for p in (lib.root / "audio").rglob("*") if p.is_file()}
    rows = {s.rel_path for s in lib.query(limit=None) + lib.query(limit=None, trashed=True)}
    assert files_left == rows
    lib.close()


@pytest.mark.parametrize("phase", ["mid-file", "file-linked", "in-row-tx"])
def test_add_killed_at_each_step(tmp_path, phase):
    root = tmp_path / "lib"
    with Library.open(root, analyzer=None) as lib:
        lib.add_audio(click_loop(bpm=95, bars=1, sample_rate=SR), SR, name="before", source="generated", bpm=95.0)
    proc = start_worker(root, "add", "--pause", phase)
    wait_for(proc, "PAUSED")
    kill(proc)
    lib = assert_no_half_files_no_orphan_rows(root)
    assert [s.name for s in lib.query(limit=None)] == ["before"]  # the killed add did not happen
    expect_interrupted = 0 if phase == "mid-file" else 1  # mid-file: the anonymous inode vanished with the process
    on_disk = [p for p in (root / "audio").rglob("*") if p.is_file()]
    assert len(on_disk) == 1 + expect_interrupted
    assert len(lib.check().interrupted) == 1  # the journal remembers the add either way
    repair_and_verify(lib)


def test_add_killed_mid_file_with_named_temp_fallback(tmp_path):
    """Where O_TMPFILE is missing a named temp file is used; check finds it, repair removes it."""
    root = tmp_path / "lib"
    proc = start_worker(root, "add", "--pause", "mid-file", "--no-tmpfile")
    wait_for(proc, "PAUSED")
    kill(proc)
    with Library.open(root, analyzer=None) as lib:
        report = lib.check()
        assert len(report.temp_files) == 1 and report.missing_files == () and lib.count() == 0
        assert Path(report.temp_files[0]).name.startswith(".tmp-")
        assert lib.check(repair=True).ok
        assert not [p for p in (root / "audio").rglob("*") if p.is_file()]


def test_add_killed_at_random_instants(tmp_path):
    root = tmp_path / "lib"
    rng = random.Random(440)
    done = 0
    for _ in range(5):
        proc = start_worker(root, "add")
        wait_for(proc, "DONE")
        time.sleep(rng.uniform(0.0, 0.12))
        kill(proc)
        lib = assert_no_half_files_no_orphan_rows(root)
        assert lib.count() > done  # committed adds survive
        done = lib.count()
        lib.close()
    lib = Library.open(root, analyzer=None)
    samples = lib.query(limit=None)
    for s in samples:
        audio, rate = lib.read_audio(s)
        assert rate == SR and audio.shape == (s.frames, 2) and s.tags == ("crash-test",)
    repair_and_verify(lib)


def test_two_writers_at_once_then_killed(tmp_path):
    """Two processes adding at the same time queue on SQLite's write lock; killing both mid-stream
    leaves a consistent library holding every add either finished."""
    root = tmp_path / "lib"
    Library.open(root, analyzer=None).close()
    procs = [start_worker(root, "add") for _ in range(2)]
    for proc in procs:
        wait_for(proc, "DONE")
    time.sleep(0.3)
    for proc in procs:
        kill(proc)
    lib = assert_no_half_files_no_orphan_rows(root)
    assert lib.count() >= 2
    repair_and_verify(lib)


@pytest.mark.parametrize("phase", [None, "before-unlink"])
def test_purge_killed(tmp_path, phase):
    root = tmp_path / "lib"
    with Library.open(root, analyzer=None) as lib:
        ids = [lib.add_audio(click_loop(bpm=95, bars=1, sample_rate=SR, seed=i), SR, name=f"s{i}",
                             source="generated", bpm=95.0).id for i in range(12)]
        for sid in ids[:8]:
            lib.trash(sid)
    proc = start_worker(root, "purge", *(["--pause", phase] if phase else []))
    if phase:
        wait_for(proc, "PAUSED")
    else:
        wait_for(proc, "DONE")
        time.sleep(0.03)
    kill(proc)
    lib = assert_no_half_files_no_orphan_rows(root)
    assert lib.count() == 4  # live samples untouched
    if phase:
        assert lib.count(trashed=True) == 7 and len(lib.check().interrupted) == 1
    repair_and_verify(lib)


@pytest.mark.parametrize("phase", ["mid-file", None])
def test_export_killed(tmp_path, phase):
    root, out = tmp_path / "lib", tmp_path / "out"
    with Library.open(root, analyzer=None) as lib:
        lib.add_audio(click_loop(bpm=95, bars=4, sample_rate=SR, channels=2), SR, name="loop", source="sliced",
                      bpm=95.0, bars=4)
    proc = start_worker(root, "export", "--out", str(out), *(["--pause", phase] if phase else []))
    if phase:
        wait_for(proc, "PAUSED")
    else:
        wait_for(proc, "DONE")
        time.sleep(random.Random(7).uniform(0.0, 0.1))
    kill(proc)
    exported = sorted(out.iterdir()) if out.exists() else []
    if phase:
        assert exported == []  # nothing half-written appeared under any name
    for path in exported:
        assert not path.name.startswith(".") and path.suffix == ".wav"
        data, rate = sf.read(path, dtype="float32")
        assert data.shape == (int(round(4 * 4 * 60 / 95 * SR)), 2) and rate == SR
        assert parse_wav(path).acid["beats"] == 16
    lib = assert_no_half_files_no_orphan_rows(root)
    assert lib.check().ok
    lib.close()


def test_check_finds_and_repairs_orphans_both_ways(tmp_path):
    root = tmp_path / "lib"
    lib = Library.open(root, analyzer=None)
    keep = lib.add_audio(click_loop(bpm=95, bars=1, sample_rate=SR), SR, name="keep", source="generated", bpm=95.0)
    lost = lib.add_audio(click_loop(bpm=95, bars=1, sample_rate=SR, seed=2), SR, name="lost", source="generated",
                         bpm=95.0, tags=["gone"])
    lost.path.unlink()  # the user deleted a file by hand
    stray_audio = click_loop(bpm=120, bars=2, sample_rate=SR, seed=3)
    stray = root / "audio" / "zz" / "dropped in.wav"
    stray.parent.mkdir(parents=True)
    sf.write(stray, stray_audio, SR)
    junk = root / "audio" / "zz" / "notes.txt"
    junk.write_text("not audio")
    truncated = lib.add_audio(click_loop(bpm=95, bars=1, sample_rate=SR, seed=4), SR, name="cut", source="generated")
    with open(truncated.path, "r+b") as fh:  # damage from outside: the file is shorter than its row says
        fh.truncate(truncated.path.stat().st_size // 2)

    report = lib.check()
    assert not report.ok
    assert set(report.missing_files) == {(lost.id, lost.rel_path), (truncated.id, truncated.rel_path)}
    assert set(report.orphan_files) == {"audio/zz/dropped in.wav", "audio/zz/notes.txt"}
    assert any("missing file" in line for line in report.lines())

    fixed = lib.check(repair=True)
    assert fixed.ok and fixed.repaired
    assert set(fixed.removed_rows) == {lost.id, truncated.id}
    assert set(fixed.moved_to_lost_found) == {"audio/zz/notes.txt", truncated.rel_path}
    assert (root / "lost+found" / "audio" / "zz" / "notes.txt").read_text() == "not audio"
    assert (root / "lost+found" / truncated.rel_path).is_file()  # damaged audio kept for salvage
    saved = list((root / "lost+found").glob("rows-without-files-*.json"))
    assert len(saved) == 1 and '"lost"' in saved[0].read_text()  # the metadata of removed rows is kept
    (adopted,) = fixed.adopted
    s = lib.get(adopted)
    assert s.source == "imported" and s.path == stray and s.provenance["recovered_file"] == "audio/zz/dropped in.wav"
    audio, _ = lib.read_audio(s)
    np.testing.assert_array_equal(audio, sf.read(stray, dtype="float32")[0])
    assert [x.id for x in lib.query(sort="id", descending=False)] == [keep.id, adopted]
    assert lib.check().ok
    lib.close()
