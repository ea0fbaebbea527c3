"""`cratedigger library ...` as the issue specifies it: in-process through cli.main for speed, and
as real subprocesses for the environment variable, a full disk and a read-only folder."""

from __future__ import annotations

import json
import os
import resource
import signal
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cratedigger.cli import main
from cratedigger.library import Library
from library_helpers import child_env, click_loop, parse_wav, run_cli, sndfile_info

SR = 22050


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def stocked(tmp_path):
    """A library with three loops of known tempo (imports would need the analysis engine)."""
    root = tmp_path / "lib"
    with Library.open(root, analyzer=None) as lib:
        for i, (bpm, bars, name) in enumerate([(84.0, 2, "slow one"), (96.0, 4, "mid one"), (172.0, 4, "fast one")]):
            lib.add_audio(click_loop(bpm=bpm, bars=bars, sample_rate=SR, seed=i), SR, name=name, source="sliced",
                          bpm=bpm, bars=bars, tags=["dusty"] if bpm < 100 else ["fast"])
    return root


def test_add_list_tag_rate_export_check(capsys, stocked, tmp_path):
    files = []
    for i, ext in enumerate(["wav", "flac", "ogg"]):
        path = tmp_path / f"mine {i}.{ext}"
        sf.write(path, click_loop(bpm=100, bars=1, sample_rate=44100, channels=2, seed=10 + i), 44100)
        files.append(path)
    code, out, err = cli(capsys, "library", "--root", stocked, "add", *files, "--tags", "mine, Crate")
    assert code == 0, err
    assert out.count("added") == 3
    code, out, _ = cli(capsys, "library", "--root", stocked, "add", files[0])
    assert code == 0 and "already in the library as 4" in out

    code, out, _ = cli(capsys, "library", "--root", stocked, "list", "--json")
    rows = json.loads(out)
    assert len(rows) == 6 and {"id", "path", "bpm", "bars", "tags", "rating"} <= set(rows[0])
    assert all((stocked / r["path"]).is_file() for r in rows)
    assert next(r for r in rows if r["id"] == 4)["tags"] == ["crate", "mine"]

    code, out, _ = cli(capsys, "library", "--root", stocked, "list", "--tag", "dusty", "--bpm", "80-100", "--json")
    assert sorted(r["bpm"] for r in json.loads(out)) == [84.0, 96.0]
    code, out, _ = cli(capsys, "library", "--root", stocked, "list", "--bpm", "150-", "--source", "sliced", "--json")
    assert [r["id"] for r in json.loads(out)] == [3]
    code, out, _ = cli(capsys, "library", "list", "--root", stocked, "--tag", "dusty", "--tag", "fast", "--any")
    assert code == 0 and len(out.strip().splitlines()) == 3 and "slow one" in out  # --root after the action too

    assert cli(capsys, "library", "--root", stocked, "tag", "2", "Amen-ish", "half-time")[0] == 0
    assert cli(capsys, "library", "--root", stocked, "rate", "2", "4")[0] == 0
    code, out, _ = cli(capsys, "library", "--root", stocked, "list", "--tag", "amen-ish", "--json")
    (row,) = json.loads(out)
    assert row["id"] == 2 and row["rating"] == 4 and row["tags"] == ["amen-ish", "dusty", "half-time"]
    assert cli(capsys, "library", "--root", stocked, "untag", "2", "half-time")[0] == 0

    code, out, err = cli(capsys, "library", "--root", stocked, "export", "1", "2", "--to", tmp_path / "out",
                         "--rate", "44100", "--bits", "24")
    assert code == 0, err
    paths = [Path(line) for line in out.split()]
    assert [p.name for p in paths] == ["slow_one_84bpm_2bar.wav", "mid_one_96bpm_4bar.wav"]
    wav = parse_wav(paths[1])
    assert (wav.sample_rate, wav.bits, wav.acid["beats"], round(wav.acid["tempo"])) == (44100, 24, 16, 96)
    assert "Tempo     : 96" in sndfile_info(paths[1])

    code, out, _ = cli(capsys, "library", "--root", stocked, "check")
    assert code == 0 and "library is consistent" in out

    assert cli(capsys, "library", "--root", stocked, "trash", "3")[0] == 0
    code, out, _ = cli(capsys, "library", "--root", stocked, "list", "--trash", "--json")
    assert [r["id"] for r in json.loads(out)] == [3]
    assert cli(capsys, "library", "--root", stocked, "restore", "3")[0] == 0
    assert cli(capsys, "library", "--root", stocked, "trash", "3")[0] == 0
    code, out, _ = cli(capsys, "library", "--root", stocked, "purge")
    assert code == 0 and "purged 1" in out


def test_check_reports_then_repairs(capsys, stocked):
    with Library.open(stocked, analyzer=None) as lib:
        victim = lib.get(1)
    victim.path.unlink()
    code, out, _ = cli(capsys, "library", "--root", stocked, "check")
    assert code == 1 and f"missing file: sample 1 -> {victim.rel_path}" in out
    code, out, _ = cli(capsys, "library", "--root", stocked, "check", "--repair")
    assert code == 0 and "removed row of sample 1" in out
    assert cli(capsys, "library", "--root", stocked, "check")[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rate", "1", "9"], "rating must be a whole number 0-5, got 9"),
        (["tag", "99", "x"], "no sample with id 99"),
        (["tag", "1", "a,b"], "commas"),
        (["export", "1", "--to", "{tmp}/o", "--rate", "96000"], "export rate must be"),
        (["export", "1", "--to", "{tmp}/o", "--bits", "8"], "--bits must be 16 or 24"),
        (["add", "{tmp}/nothing.wav"], "no such file"),
        (["add", "{tmp}"], "is a folder"),
        (["list", "--sort", "loudness"], "sort must be one of"),
        (["purge", "1"], "not in the trash"),
    ],
)
def test_errors_are_one_clear_line(capsys, stocked, tmp_path, args, message):
    code, out, err = cli(capsys, "library", "--root", stocked, *[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and out == ""
    assert err.startswith("cratedigger: error: ") and message in err and "Traceback" not in err


@pytest.mark.parametrize("args", [["rate", "x", "3"], ["list", "--bpm", "fast"], ["export", "1"], ["nope"]])
def test_malformed_arguments_are_usage_errors(capsys, stocked, args):
    with pytest.raises(SystemExit) as exc:
        main(["library", "--root", str(stocked), *args])
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_environment_variable_picks_the_library(tmp_path, stocked):
    """A real `python -m cratedigger` process, located by $CRATEDIGGER_LIBRARY alone."""
    done = run_cli("library", "list", "--json", env=child_env(CRATEDIGGER_LIBRARY=str(stocked)))
    assert done.returncode == 0, done.stderr
    assert sorted(r["name"] for r in json.loads(done.stdout)) == ["fast one", "mid one", "slow one"]


def _limit_file_size():
    # A file-size limit makes writes past it fail with EFBIG, as a full disk would with ENOSPC.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))


def test_full_disk_gives_clear_error_and_keeps_the_library(tmp_path, stocked):
    big = tmp_path / "long.flac"
    sf.write(big, click_loop(bpm=90, bars=8, sample_rate=44100, channels=2), 44100)  # > 400 kB as float WAV
    def snapshot():  # SQLite's -wal/-shm come and go with connections, the daily backup may appear; the rest must not change
        return sorted(p.relative_to(stocked) for p in stocked.rglob("*")
                      if p.is_file() and not p.name.endswith(("-wal", "-shm")) and p.parent.name != "backups")

    before = snapshot()
    done = run_cli("library", "--root", stocked, "add", big, preexec_fn=_limit_file_size)
    assert done.returncode == 2
    assert "disk is full" in done.stderr and "Traceback" not in done.stderr
    with Library.open(stocked, analyzer=None) as lib:
        assert lib.count() == 3 and lib.check().ok
    assert snapshot() == before


def _drop_root_file_powers():
    # Root ignores permission bits; without CAP_DAC_OVERRIDE/DAC_READ_SEARCH/FOWNER it obeys them.
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for cap in (1, 2, 3):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_read_only_library_gives_clear_error_and_loses_nothing(tmp_path):
    root = tmp_path / "lib"
    with Library.open(root, analyzer=None) as lib:
        lib.add_audio(click_loop(bpm=90, bars=1, sample_rate=SR), SR, name="safe", source="generated", bpm=90.0)
    src = tmp_path / "new.wav"
    sf.write(src, click_loop(bpm=90, bars=1, sample_rate=SR, seed=5), SR)
    folders = [root, *(p for p in root.rglob("*") if p.is_dir())]
    for folder in folders:
        os.chmod(folder, 0o555)
    preexec = _drop_root_file_powers if os.geteuid() == 0 else None
    try:
        done = run_cli("library", "--root", root, "add", src, preexec_fn=preexec)
        assert done.returncode == 2
        assert "the library folder is read-only" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        listed = run_cli("library", "--root", root, "list", "--json", preexec_fn=preexec)  # browsing still works
        assert listed.returncode == 0, listed.stderr
        assert [r["name"] for r in json.loads(listed.stdout)] == ["safe"]
    finally:
        for folder in folders:
            os.chmod(folder, 0o755)
    with Library.open(root, analyzer=None) as lib:
        (s,) = lib.query()
        assert s.name == "safe" and lib.check().ok
        audio, _ = lib.read_audio(s)
        np.testing.assert_array_equal(audio, click_loop(bpm=90, bars=1, sample_rate=SR))


def test_add_keeps_going_past_a_bad_file(capsys, stocked, tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, click_loop(bpm=100, bars=1, sample_rate=SR, seed=42), SR)
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    code, out, err = cli(capsys, "library", "--root", stocked, "add", bad, good)
    assert code == 2 and "bad.wav: not a readable audio file" in err
    assert out.startswith("added 4: good")
