"""How fast the sample library answers queries at 10,000 samples (the issue asks <= 50 ms each).

    python benchmarks/library_query.py [--samples 10000] [--real 300] [--repeat 15] [--root DIR]

The first --real samples go through Library.add_audio (real files, journal, tags). The rest are
copies of those rows with fresh ids/uids, inserted in one transaction: a query never opens audio files,
so their contents do not change the timing, and writing 10,000 fsynced WAVs would only time the disk.
Each query runs --repeat times on a warm connection; median and worst are printed in ms. The
50 ms bar applies to paged queries (what a browser view asks for); "all rows, no limit" builds 10,000
Sample objects in Python and is printed for information, next to `query_ids` for all rows. The
verdict uses each query's median; the slowest single run is printed too.

"similar" rows time more like this (20 nearest) over every sample's stored vector: the real samples'
vectors come from the add hook, the bulk rows copy one of them with a little noise (the distance does
the same arithmetic whatever the values). The app's SimilarityIndex keeps the vectors in memory and
checks the database for changes on every search (that check is in the time, and judged). A cold
search, a fresh index as a one-off `library similar` makes, loads all 10,000 vectors as one cached
blob (judged); the first cold search after a vector was added rebuilds that blob from the rows and
stores it again, which is printed for information (the cache is dropped before each of those runs).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from cratedigger import similarity
from cratedigger.library import Library, SampleQuery

TAGS = ["dusty", "amen-ish", "half-time", "crispy", "lofi", "jungle", "boom-bap", "ghost-notes", "swing", "heavy",
        "vinyl", "live", "tight", "loose", "fast", "slow", "bright", "dark", "breakbeat", "funk"]
WORDS = ["think", "amen", "funky", "drummer", "apache", "impeach", "synthetic", "substitution", "ashley", "roadrunner"]
SOURCES = ["generated", "variation", "extended", "sliced", "imported"]
LIMIT_MS = 50.0


def build(root: Path, *, samples: int, real: int, seed: int = 440) -> float:
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    with Library.open(root, analyzer=None) as lib:
        for i in range(real):
            bpm = rng.uniform(70, 180)
            bars = rng.choice([1, 2, 4, 8])
            n = int(round(bars * 4 * 60 / bpm * 2000))  # 2 kHz keeps the files tiny; the rows are what we time
            audio = (nrng.standard_normal(n) * 0.1).astype(np.float32)
            beats = [k * 60 / bpm for k in range(bars * 4)]
            s = lib.add_audio(
                audio, 2000, name=f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i}", source=rng.choice(SOURCES),
                provenance={"model": "teticio/audio-diffusion-breaks-256", "seed": i, "steps": 50, "scheduler": "ddim"},
                analysis={"bpm": bpm, "beats": beats, "downbeats": beats[::4], "beats_per_bar": 4}, bars=bars, bpm=bpm,
                tags=rng.sample(TAGS, rng.randint(0, 4)),
            )
            lib.rate(s.id, rng.randint(0, 5))
            if rng.random() < 0.1:
                lib.set_favourite(s.id)
        real_s = time.perf_counter() - t0
        with lib._tx("benchmark bulk rows") as conn:
            cols = [r[1] for r in conn.execute("PRAGMA table_info(samples)") if r[1] not in ("id", "uid", "path")]
            base = [dict(r) for r in conn.execute(f"SELECT s.id AS base_id, {', '.join(cols)} FROM samples s")]
            data = {r["sample_id"]: tuple(r)[1:] for r in conn.execute("SELECT * FROM sample_data")}
            similarity.ensure_table(conn)
            vectors = {r[0]: np.frombuffer(r[1], dtype="<f4") for r in conn.execute("SELECT sample_id, vector FROM sample_features")}
            tag_ids = [r[0] for r in conn.execute("SELECT id FROM tags")]
            for i in range(samples - real):
                row = dict(rng.choice(base))
                base_id = row.pop("base_id")
                row["name"] = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {real + i}"
                row["bpm"] = rng.uniform(70, 180)
                row["rating"] = rng.randint(0, 5)
                row["favourite"] = int(rng.random() < 0.1)
                row["source"] = rng.choice(SOURCES)
                row["created"] = f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T12:00:00.{i:06d}+00:00"
                uid = uuid.uuid4().hex
                cur = conn.execute(
                    f"INSERT INTO samples (uid, path, {', '.join(row)}) VALUES (?, ?, {', '.join('?' * len(row))})",
                    (uid, f"audio/{uid[:2]}/{uid}.wav", *row.values()),
                )
                conn.execute("INSERT INTO sample_data VALUES (?, ?, ?, ?, ?)", (cur.lastrowid, *data[base_id]))
                if base_id in vectors:
                    vec = (vectors[base_id] + nrng.normal(0, 0.02, similarity.DIM)).astype("<f4")
                    similarity.save_vector(conn, cur.lastrowid, vec.tobytes())
                for tag in rng.sample(tag_ids, rng.randint(0, 4)):
                    conn.execute("INSERT INTO sample_tags (sample_id, tag_id) VALUES (?, ?)", (cur.lastrowid, tag))
                Library._refresh_search(conn, cur.lastrowid)  # what add_audio/tag do for real rows
        lib._conn().execute("PRAGMA optimize")
    print(f"built {samples} samples ({real} through add_audio in {real_s:.1f} s, "
          f"{1000 * real_s / max(real, 1):.1f} ms each) in {time.perf_counter() - t0:.1f} s")
    return real_s


QUERIES = {
    "newest page (100)": SampleQuery(),
    "text 'amen'": SampleQuery(text="amen"),
    "text two words": SampleQuery(text="funky dusty"),
    "tags all (2)": SampleQuery(tags=("dusty", "half-time")),
    "tags any (3)": SampleQuery(tags=("dusty", "lofi", "jungle"), tag_mode="any"),
    "bpm 80-100 by bpm": SampleQuery(bpm_min=80, bpm_max=100, sort="bpm", descending=False),
    "4 bars, rating>=3 by rating": SampleQuery(bars=(4,), rating_min=3, sort="rating"),
    "favourites by name": SampleQuery(favourite=True, sort="name", descending=False),
    "source sliced by duration": SampleQuery(sources=("sliced",), sort="duration"),
    "everything combined": SampleQuery(text="a", tags=("dusty",), bpm_min=85, bpm_max=175, rating_min=1,
                                       sources=("generated", "sliced", "variation"), sort="bpm"),
    "deep page (offset 9000)": SampleQuery(offset=9000),
    "trash": SampleQuery(trashed=True),
    "all rows, no limit": SampleQuery(limit=None),
}


def timed(fn, repeat: int, setup=None) -> tuple[float, float, object]:
    fn()  # warm the page cache and statement cache
    times, result = [], None
    for _ in range(repeat):
        if setup is not None:
            setup()  # not timed
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--real", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--root", type=Path, default=None, help="reuse or build the library here (default: a temp folder)")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="cd-bench-")) / "lib"
    if not (root / "library.db").exists():
        build(root, samples=args.samples, real=min(args.real, args.samples))
    worst_median = worst_any = 0.0
    with Library.open(root, analyzer=None) as lib:
        total = lib.count()
        print(f"library: {root} ({total} samples)")
        print(f"{'query':32} {'rows':>6} {'count':>6} {'median ms':>10} {'worst ms':>9}")
        for label, q in QUERIES.items():
            median, worst, rows = timed(lambda q=q: lib.query(q), args.repeat)
            count = lib.count(q)
            print(f"{label:32} {len(rows):>6} {count:>6} {median:>10.2f} {worst:>9.2f}")
            if q.limit is not None:
                worst_median, worst_any = max(worst_median, median), max(worst_any, worst)
        index = similarity.SimilarityIndex(lib)

        def drop_cache() -> None:
            with lib._tx("benchmark: drop the similarity cache") as conn:
                conn.execute("DELETE FROM similarity_matrix")

        cold = lambda: similarity.similar(lib, total // 3, limit=20)  # noqa: E731 - a fresh index each call
        median, worst, _ = timed(cold, max(3, args.repeat // 3), setup=drop_cache)
        print(f"{'similar, cold after a change':32} {'':>6} {'':>6} {median:>10.2f} {worst:>9.2f}  "
              "(information: rebuilds and stores the cache)")
        for label, fn in {"query_ids, all rows": lambda: lib.query_ids(limit=None),
                          "count (bpm range)": lambda: lib.count(bpm_min=80, bpm_max=100),
                          "all_tags": lib.all_tags, "get(id)": lambda: lib.get(total // 2),
                          "similar, cold (cached vectors)": cold,
                          "similar, app's index (20 nearest)": lambda: index.similar(total // 2, limit=20)}.items():
            median, worst, _ = timed(fn, args.repeat)
            print(f"{label:32} {'':>6} {'':>6} {median:>10.2f} {worst:>9.2f}")
            worst_median, worst_any = max(worst_median, median), max(worst_any, worst)
    # Judged on medians: single worst runs on a shared 2-core machine include other processes' bursts.
    ok = worst_median <= LIMIT_MS
    print(json.dumps({"samples": total, "slowest_median_ms": round(worst_median, 2), "slowest_single_run_ms": round(worst_any, 2),
                      "limit_ms": LIMIT_MS, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
