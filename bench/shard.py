"""Sharding: memory that does not grow with the dataset, and speed next to plain pyarrow.

Builds synthetic work directories (pages with incompressible 120 kB "images", four pairs per page,
one partition per 64 documents) of two sizes, then runs ``write_shards`` on each in a fresh
process and reports its peak RSS; and times ``write_shards`` against ``pyarrow.parquet.write_table``
reading the same inputs and writing the very same rows (built in advance) to one file.

    .venv/bin/python bench/shard.py [--small 400] [--large 1600]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from docgen.core.config import ShardConfig
from docgen.core.workdir import WorkDir
from docgen.shard.files import COMPRESSION
from docgen.shard.schema import ROW_SCHEMA
from docgen.shard.stage import write_shards

DOCS_PER_PART = 64


def make_work(root: Path, documents: int) -> None:
    """A work dir with one page per document and four kept pairs per page."""
    wd, rng = WorkDir(root), random.Random(0)
    for start in range(0, documents, DOCS_PER_PART):
        part = f"{start // DOCS_PER_PART:06d}"
        ids = [f"doc{i:07d}" for i in range(start, min(start + DOCS_PER_PART, documents))]
        pages = [{"doc_id": d, "page": 1, "image": rng.randbytes(120_000), "image_bytes": 120_000,
                  "image_format": "png",
                  "lang": "en"} for d in ids]  # fmt: skip
        kept = [{"doc_id": d, "source": f"{d}.pdf", "question": f"What is item {k} of {d}?",
                 "answer": f"value {k} of {d}", "pages": [1], "keep": True,
                 "backend": "rules", "model": "rules"}
                for d in ids for k in range(4)]  # fmt: skip
        wd.write(wd.part_path("pages", part), pa.Table.from_pylist(pages), "bench", {})
        wd.write(wd.part_path("kept", part), pa.Table.from_pylist(kept), "bench", {})


def shard_in_child(work: Path, out: Path) -> tuple[float, int]:
    """(seconds, peak RSS in MB) of write_shards run alone in a new process."""
    code = (
        "import resource, sys, time\n"
        "from docgen.core.config import ShardConfig\nfrom docgen.shard.stage import write_shards\n"
        "t = time.perf_counter()\n"
        "write_shards(sys.argv[1], sys.argv[2], ShardConfig(max_shard_mb=64, row_group_mb=16))\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(work), str(out)], capture_output=True,
                          text=True, check=True)  # fmt: skip
    seconds, rss_kb = done.stdout.split()
    return float(seconds), int(rss_kb) // 1024


def shard_rows(out: Path):
    """The rows write_shards wrote, as one in-memory table with the output schema."""
    tables = [pq.read_table(f) for f in sorted((out / "data").glob("*.parquet"))]
    return pa.concat_tables(tables).replace_schema_metadata(ROW_SCHEMA.metadata)


def plain_pyarrow(table, work: Path, target: Path) -> tuple[float, float]:
    """Plain pyarrow doing the same job: read every kept and pages partition, write the same rows
    (already built, so no joining is counted) as one file. (seconds reading, seconds writing)"""
    t = time.perf_counter()
    for stage in ("kept", "pages"):
        for f in sorted((work / stage).glob("*.parquet")):
            pq.read_table(f)
    read = time.perf_counter() - t
    t = time.perf_counter()
    pq.write_table(table, target, compression=COMPRESSION, row_group_size=128)
    return read, time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", type=int, default=400, help="documents in the small dataset")
    p.add_argument("--large", type=int, default=1600, help="documents in the large dataset")
    args = p.parse_args()
    # In memory (tmpfs) where there is one: on disk, write-back made timings swing 4x run to run.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="docgen-bench-shard-", dir=shm))
    try:
        rows = {}
        for name, n in (("small", args.small), ("large", args.large)):
            make_work(root / name / "work", n)
            seconds, rss = shard_in_child(root / name / "work", root / name / "out")
            size = sum(f.stat().st_size for f in (root / name / "out" / "data").iterdir())
            rows[name] = (n, seconds, rss, size)
        # Best of seven each, taken in turns.
        table = shard_rows(root / "large" / "out")
        ours_runs, plain_runs = [], []
        for i in range(7):
            ours_runs.append(time_it(root, i))
            plain_runs.append(plain_pyarrow(table, root / "large" / "work", root / "plain.parquet"))
        ours = min(ours_runs)
        reading, writing = min(r for r, _ in plain_runs), min(w for _, w in plain_runs)
        plain = min(r + w for r, w in plain_runs)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; shards of 64 MB, "
              f"row groups of 16 MB; files in {shm or 'a temporary folder on disk'}")  # fmt: skip
        print(f"{'dataset':8} {'docs':>6} {'data MB':>8} {'seconds':>8} {'peak RSS MB':>12}")
        for name, (n, seconds, rss, size) in rows.items():
            print(f"{name:8} {n:>6} {size / 2**20:>8.0f} {seconds:>8.2f} {rss:>12}")
        small_rss, large_rss = rows["small"][2], rows["large"][2]
        print(f"peak RSS large/small: {large_rss / small_rss:.2f}x for "
              f"{args.large / args.small:.0f}x the data (target within 1.2x)")  # fmt: skip
        print(f"write_shards {ours:.2f} s vs plain pyarrow reading the same inputs and writing the "
              f"same rows {plain:.2f} s: {ours / plain:.2f}x (target <= 1.10x)")  # fmt: skip
        print(f"  of which plain reading {reading:.2f} s, plain write_table {writing:.2f} s; "
              f"write_shards vs write_table alone: {ours / writing:.2f}x")  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


def time_it(root: Path, i: int) -> float:
    out = root / f"again{i}"
    t = time.perf_counter()
    write_shards(root / "large" / "work", out, ShardConfig(max_shard_mb=64, row_group_mb=16))
    seconds = time.perf_counter() - t
    shutil.rmtree(out)  # in tmpfs: keep memory for the next run
    return seconds


if __name__ == "__main__":
    main()
