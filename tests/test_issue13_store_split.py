"""Issue 13 item 3: the library store split by job (connection, queries, rows, operations), imports
pointing one way, and integrity reaching the library only through public names."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cratedigger.errors import LibraryError
from cratedigger.library import Library, SampleQuery, queries
from library_helpers import REPO, child_env, click_loop

LIBRARY = REPO / "cratedigger" / "library"
SR = 22050


def _loaded_library_modules(module: str) -> set[str]:
    code = (
        f"import importlib, sys; importlib.import_module({module!r}); "
        "print(' '.join(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('cratedigger.library.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), cwd=REPO,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


@pytest.mark.parametrize("module, never", [
    ("rows", {"store", "integrity", "connection", "queries", "export"}),
    ("queries", {"store", "integrity", "connection", "rows", "export"}),
    ("connection", {"store", "integrity", "rows", "queries", "export"}),
    ("integrity", {"store", "rebuild", "export"}),
])
def test_each_piece_imports_alone_without_the_layers_above_it(module, never):
    loaded = _loaded_library_modules(f"cratedigger.library.{module}")
    assert module in loaded
    assert not loaded & never, f"importing {module} loaded {sorted(loaded & never)}"


def _imports_of(path: Path) -> set[str]:
    """The cratedigger.library modules `path` imports anywhere (lazy imports in functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "cratedigger.library":
            for alias in node.names:
                # Inside the library, names come from the module that defines them, not the package.
                assert (LIBRARY / f"{alias.name}.py").is_file(), f"{path.name} imports {alias.name} from the package"
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cratedigger.library."):
            found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("cratedigger.library.")}
    return found - {path.stem}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> list[str] | None:
        if node in trail:
            return [*trail[trail.index(node):], node]
        if node in done:
            return None
        for nxt in sorted(graph.get(node, ())):
            found = visit(nxt, [*trail, node])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return None


def test_library_modules_import_one_way():
    graph = {p.stem: _imports_of(p) for p in LIBRARY.glob("*.py") if p.stem != "__init__"}
    assert _cycle(graph) is None, f"import loop: {' -> '.join(_cycle(graph))}"
    assert "integrity" in graph["store"] and "store" not in graph["integrity"]
    assert {"connection", "queries", "rows"} <= graph["store"]
    # The checker itself finds the loop the split removed (store -> integrity -> store).
    assert _cycle({**graph, "integrity": graph["integrity"] | {"store"}}) is not None


def _private_reaches(path: Path, base: Path = REPO) -> list[str]:
    """`x._name` where x is not self, cls or a class of the same module; `from m import _name`."""
    tree = ast.parse(path.read_text())
    own = {"self", "cls"} | {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if not (isinstance(node.value, ast.Name) and node.value.id in own):
                out.append(f"{path.relative_to(base)}:{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cratedigger"):
            out += [f"{path.relative_to(base)}:{node.lineno}: imports {a.name}" for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")]
    return sorted(out)


def test_no_library_module_reaches_into_another_ones_private_names():
    assert [hit for p in sorted(LIBRARY.glob("*.py")) for hit in _private_reaches(p)] == []


def test_the_private_reach_check_catches_what_integrity_used_to_do(tmp_path):
    old = tmp_path / "integrity_before.py"
    old.write_text(
        "from cratedigger.library.store import _KNOWN_ENTRIES\n"
        "class Report:\n"
        "    def _own(self):\n"
        "        return self._cache, Report._made\n"
        "def check_library(lib):\n"
        "    return lib._read('PRAGMA quick_check'), lib._adopt('a', None, 1)\n"
    )
    assert _private_reaches(old, base=tmp_path) == [
        "integrity_before.py:1: imports _KNOWN_ENTRIES",
        "integrity_before.py:6: lib._adopt",
        "integrity_before.py:6: lib._read",
    ]


def _library_private_names() -> set[str]:
    names: set[str] = set()
    for module, classes in (("store", {"Library"}), ("connection", {"LibraryConnection"})):
        for node in ast.walk(ast.parse((LIBRARY / f"{module}.py").read_text())):
            if isinstance(node, ast.ClassDef) and node.name in classes:
                for item in ast.walk(node):
                    name = getattr(item, "name", None) or (item.attr if isinstance(item, ast.Attribute) else None)
                    if name and name.startswith("_") and not name.startswith("__"):
                        names.add(name)
    return names


# Callers still on the names Library kept for them (only tests now); engine and app code goes through
# `lib.connection` and `models.sample_id`.
STILL_ON_OLD_NAMES: dict[str, set[str]] = {}


def test_outside_the_library_nobody_new_calls_the_stores_private_names():
    private = _library_private_names()
    assert {"_read", "_tx", "_insert_row"} <= private and "_adopt" not in private
    reached: dict[str, set[str]] = {}
    for top in ("cratedigger", "ui"):
        for path in sorted((REPO / top).rglob("*.py")):
            if path.parent == LIBRARY:
                continue
            for hit in _private_reaches(path):
                name = hit.rsplit(".", 1)[1]
                if name in private:
                    reached.setdefault(str(path.relative_to(REPO)), set()).add(name)
    for where, names in reached.items():
        assert names <= STILL_ON_OLD_NAMES.get(where, set()), f"{where} calls Library's private {sorted(names)}"


def test_query_sql_is_the_stores_sql_unchanged():
    q = SampleQuery(text="Über 50%_x", tags=["dusty", "half-time"], bpm_min=80, bpm_max=100, bars=[1, 2],
                    rating_min=3, favourite=True, sources=["imported"], parent_id=7, sort="bpm", descending=False,
                    limit=None, offset=5)
    sql, params = queries.page_ids_sql(q)
    assert sql == (
        "SELECT s.id FROM samples s WHERE s.trashed_at IS NULL AND s.search LIKE ? ESCAPE '\\' AND s.search LIKE ? "
        "ESCAPE '\\' AND s.id IN (SELECT st.sample_id FROM sample_tags st JOIN tags t ON t.id = st.tag_id WHERE "
        "t.name IN (?, ?) GROUP BY st.sample_id HAVING COUNT(*) = 2) AND s.bpm >= ? AND s.bpm <= ? AND s.bars IN "
        "(?, ?) AND s.rating >= ? AND s.favourite = ? AND s.source IN (?) AND s.parent_id = ? ORDER BY s.bpm IS "
        "NULL, s.bpm ASC, s.id ASC LIMIT ? OFFSET ?"
    )
    assert params == ["%über%", "%50\\%\\_x%", "dusty", "half-time", 80.0, 100.0, 1, 2, 3, 1, "imported", 7, -1, 5]
    count_sql, count_params = queries.count_sql(q)
    assert count_sql == "SELECT COUNT(*) FROM samples s WHERE " + sql.split(" WHERE ", 1)[1].split(" ORDER BY ")[0]
    assert count_params == params[:-2]


@pytest.fixture
def stocked(tmp_path):
    root = tmp_path / "lib"
    with Library.open(root, analyzer=None) as lib:
        for n in range(3):
            lib.add_audio(click_loop(bpm=96.0, bars=1, sample_rate=SR, seed=n), SR, name=f"loop {n}",
                          source="generated", bpm=96.0, bars=1, tags=["dusty"])
    return root


def test_the_connection_reads_writes_in_one_transaction_and_rolls_back(stocked):
    with Library.open(stocked, analyzer=None) as lib:
        with lib.connection.transaction("rate everything") as conn:
            conn.execute("UPDATE samples SET rating = 4")
        assert [s.rating for s in lib.query()] == [4, 4, 4]
        with pytest.raises(ZeroDivisionError):
            with lib.connection.transaction("rate and fail") as conn:
                conn.execute("UPDATE samples SET rating = 1")
                1 / 0
        assert lib.connection.read("SELECT DISTINCT rating FROM samples")[0][0] == 4
        with pytest.raises(LibraryError, match="cannot read the library"):
            lib.connection.read("SELECT nothing FROM nowhere")
        here = lib.connection.for_this_thread()
        there = []
        worker = threading.Thread(target=lambda: there.append(lib.connection.for_this_thread()))
        worker.start()
        worker.join()
        assert there[0] is not here and lib.connection.for_this_thread() is here
    with pytest.raises(LibraryError, match="the library is closed"):
        lib.connection.read("SELECT 1")


def _drop_root_file_powers():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER: root obeys the mode bits
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP


def test_a_read_only_folder_opens_read_only_and_still_lists_samples(stocked):
    script = (
        "import json, sys\n"
        "from cratedigger.errors import LibraryError\n"
        "from cratedigger.library import Library\n"
        "lib = Library.open(sys.argv[1], analyzer=None)\n"
        "out = {'read_only': lib.read_only, 'names': [s.name for s in lib.query(tags=['dusty'], sort='name',"
        " descending=False)], 'count': lib.connection.read('SELECT COUNT(*) FROM samples')[0][0]}\n"
        "for what, act in (('write', lambda: lib.connection.transaction('tag the sample')),"
        " ('rate', lambda: lib.rate(1, 5))):\n"
        "    try:\n"
        "        act()\n"
        "    except LibraryError as exc:\n"
        "        out[what] = str(exc)\n"
        "print(json.dumps(out))\n"
    )
    os.chmod(stocked, 0o555)
    try:
        done = subprocess.run([sys.executable, "-c", script, str(stocked)], cwd=REPO, env=child_env(),
                              capture_output=True, text=True, timeout=120,
                              preexec_fn=_drop_root_file_powers if os.geteuid() == 0 else None)
    finally:
        os.chmod(stocked, 0o755)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["read_only"] is True
    assert out["names"] == ["loop 0", "loop 1", "loop 2"] and out["count"] == 3
    root = stocked.absolute()
    assert out["write"] == f"{root}: cannot tag the sample: the library folder is read-only (browsing only)"
    assert out["rate"] == f"{root}: cannot rate the sample: the library folder is read-only (browsing only)"


def test_check_repair_adopts_an_orphan_through_the_public_operation(stocked):
    with Library.open(stocked, analyzer=None) as lib:
        victim = lib.get(2)
        with lib.connection.transaction("forget a row") as conn:  # its file stays: an orphan
            conn.execute("DELETE FROM samples WHERE id = ?", (victim.id,))
        report = lib.check(repair=True)
        assert len(report.adopted) == 1 and report.ok
        adopted = lib.get(report.adopted[0])
        assert adopted.rel_path == victim.rel_path and adopted.name.startswith("recovered ")
        assert adopted.provenance == {"recovered_file": victim.rel_path}
