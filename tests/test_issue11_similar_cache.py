"""The cold `library similar` path reads every vector as one cached blob, and the cache follows the library."""

from __future__ import annotations

import numpy as np

from cratedigger import similarity
from cratedigger.library import Library
from drum_audio import rock_pattern

SR = 22050


def add_rocks(lib, bpms):
    return [lib.add_audio(rock_pattern(bpm=b, bars=2, sample_rate=SR), SR, name=f"rock {b}", source="sliced",
                          bpm=b, bars=2).id for b in bpms]


def test_a_cold_search_stores_one_matrix_and_the_next_reads_it_instead_of_the_rows(tmp_path, monkeypatch):
    with Library.open(tmp_path / "lib", analyzer=None) as lib:
        ids = add_rocks(lib, (90.0, 93.4, 120.0, 170.0))
        first = similarity.similar(lib, ids[1], limit=3)
        (gen, count, stored), = lib._read("SELECT generation, samples, ids FROM similarity_matrix")
        assert count == 4 and np.frombuffer(stored, "<i8").tolist() == sorted(ids)
        # The next cold search must not go back to the rows: fail loudly if it does.
        monkeypatch.setattr(similarity, "load_vectors", lambda _lib: (_ for _ in ()).throw(AssertionError("rows read")))
        monkeypatch.setattr(similarity, "ensure_features", lambda *_a, **_k: (_ for _ in ()).throw(AssertionError("backfill")))
        again = similarity.similar(lib, ids[1], limit=3)
        assert [(n.id, n.distance) for n in again] == [(n.id, n.distance) for n in first]
        assert [n.id for n in first][0] == ids[0]  # 90 is the nearest tempo to 93.4


def test_the_cache_is_rebuilt_when_a_sample_is_added_or_purged(tmp_path):
    with Library.open(tmp_path / "lib", analyzer=None) as lib:
        ids = add_rocks(lib, (90.0, 120.0))
        similarity.similar(lib, ids[0], limit=5)
        new = add_rocks(lib, (91.0,))[0]
        near = similarity.similar(lib, ids[0], limit=5)
        assert near[0].id == new  # not the stale two-sample matrix
        assert lib._read("SELECT samples FROM similarity_matrix")[0][0] == 3
        with lib._tx("test purge") as conn:  # rows leave with their sample and bump no generation
            conn.execute("DELETE FROM samples WHERE id = ?", (new,))
        assert [n.id for n in similarity.similar(lib, ids[0], limit=5)] == [ids[1]]


def test_a_torn_cache_row_is_ignored_and_rebuilt(tmp_path):
    with Library.open(tmp_path / "lib", analyzer=None) as lib:
        ids = add_rocks(lib, (90.0, 120.0))
        similarity.similar(lib, ids[0], limit=5)
        with lib._tx("test tear") as conn:
            conn.execute("UPDATE similarity_matrix SET vectors = x'00'")
        assert [n.id for n in similarity.similar(lib, ids[0], limit=5)] == [ids[1]]
        (vectors,), = lib._read("SELECT vectors FROM similarity_matrix")
        assert len(vectors) == 2 * similarity.DIM * 4
