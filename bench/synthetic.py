"""The dataset pass on generated work directories of 100k to 1M pages (``bench/scale.py
--synthetic``): its driver's peak memory and its CPU time per page as the corpus grows, and two
workers against one.

A generated work directory holds what the pass reads: ``pages`` (doc id, page, text; four pages
a document, 256 pages a partition) and ``kept`` (four pairs a page). Words are drawn from a
Zipf-like vocabulary of 30,000; of the pages, 4% are near-copies of one of 20 recent forms
(1.5% of their words changed: similar), 2% looser copies (10% changed: LSH candidates, not
similar), 2% exact copies and 1% short receipts differing in one word. Of the pairs, 40% ask
one of 50 common questions about a word of their page (the same question with thousands of
answers), 10% are a common question with a common answer (copies across the dataset), the
rest are unique; 10% were dropped by a rule of their partition. The same seed makes the same
directory.

Each measured pass runs in a process of its own with a LocalCluster of N worker processes, with
no ``WORK/dataset`` left from an earlier one (``kept`` is hard-linked from the generated
``kept.orig``: the pass only reads it).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from docgen.core.workdir import WorkDir  # noqa: E402

PAGES_PER_PART, PAGES_PER_DOC, PAIRS_PER_PAGE = 256, 4, 4
COMMON = [f"What is the {w} of the {v}?" for w in ("total", "date", "name", "title", "number")
          for v in ("form", "invoice", "report", "letter", "table", "page", "figure", "list",
                    "contract", "receipt")]  # fmt: skip


class Vocabulary:
    """30,000 made-up words drawn with Zipf-like frequencies."""

    def __init__(self, rng):
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        self.words = ["".join(rng.choice(letters, rng.integers(3, 10))) for _ in range(30000)]
        weights = 1.0 / np.arange(1, len(self.words) + 1) ** 1.05
        self.cdf = np.cumsum(weights) / weights.sum()
        self.rng = rng

    def draw(self, n: int) -> list[str]:
        at = np.minimum(np.searchsorted(self.cdf, self.rng.random(n)), len(self.words) - 1)
        return [self.words[i] for i in at.tolist()]


def generate(folder: Path, pages: int, seed: int = 1) -> Path:
    """A work directory of ``pages`` pages in ``folder`` (made once; reused when complete)."""
    done = folder / "generated.json"
    if done.exists() and json.loads(done.read_text()).get("pages") == pages:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(seed)
    vocabulary = Vocabulary(rng)
    wd = WorkDir(folder)
    forms: list[list[str]] = []  # pages copied (one made every 2,000 pages; the last 20 used)
    for start in range(0, pages, PAGES_PER_PART):
        part = f"{start // PAGES_PER_PART:06d}"
        rows, kept = [], []
        for n in range(start, min(pages, start + PAGES_PER_PART)):
            draw = rng.random()
            if forms and draw < 0.08:  # a copy of a recent form: near, loose or exact
                text = list(forms[int(rng.integers(max(0, len(forms) - 20), len(forms)))])
                share = 0.015 if draw < 0.04 else (0.10 if draw < 0.06 else 0.0)
                changed = rng.choice(len(text), int(share * len(text)), replace=False)
                for at, word in zip(changed.tolist(), vocabulary.draw(changed.size)):
                    text[at] = word
            elif draw < 0.09:
                text = f"Receipt {rng.integers(1, 50)} coffee shop total paid EUR thanks".split()
            else:
                text = vocabulary.draw(int(rng.integers(150, 450)))
            if n % 2000 == 0:
                forms.append(text)
            doc, page = f"d{n // PAGES_PER_DOC}", n % PAGES_PER_DOC + 1
            rows.append({"doc_id": doc, "page": page, "text": " ".join(text)})
            for _ in range(PAIRS_PER_PAGE):
                kind = rng.random()
                if kind < 0.4:  # a common question, answered with a word of the page
                    question = COMMON[int(rng.integers(len(COMMON)))]
                    answer = text[int(rng.integers(len(text)))]
                elif kind < 0.5:
                    question, answer = COMMON[int(rng.integers(5))], "the city office"
                else:
                    at = int(rng.integers(max(1, len(text) - 6)))
                    question, answer = f"What follows {' '.join(text[at : at + 4])}?", text[-1]
                reason = "ungrounded" if rng.random() < 0.1 else None
                kept.append({"doc_id": doc, "pages": [page], "question": question, "answer": answer,
                             "keep": reason is None, "reason": reason})  # fmt: skip
        wd.write(wd.part_path("pages", part), pa.Table.from_pylist(rows), f"p{part}", {})
        wd.write(wd.part_path("kept.orig", part), pa.Table.from_pylist(kept), f"k{part}", {})
    done.write_text(json.dumps({"pages": pages, "seed": seed}))
    return folder


def measure(work: Path, workers: int) -> dict:
    """The pass over ``work`` with ``workers`` workers, in a process of its own: its figures."""
    shutil.rmtree(work / "kept", ignore_errors=True)
    shutil.rmtree(work / "dataset", ignore_errors=True)
    subprocess.run(["cp", "-al", str(work / "kept.orig"), str(work / "kept")], check=True)
    command = [sys.executable, __file__, "--pass", str(work), "--workers", str(workers)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def one_pass(work: str, workers: int) -> None:
    """Run the pass; print JSON: wall seconds, CPU seconds (driver and workers), peak RSS."""
    from dask.distributed import Client, LocalCluster

    from docgen.core.config import FilterConfig
    from docgen.core.executor import Executor
    from docgen.filter.dataset_pass import dedup_dataset

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    parts = WorkDir(work).parts("kept")
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        workers_before = sum(client.run(cpu).values())
        driver_before, start = cpu(), time.perf_counter()
        drops = dedup_dataset(work, parts, FilterConfig(), Executor(client))
        wall = time.perf_counter() - start
        worker_cpu = sum(client.run(cpu).values()) - workers_before
        driver_cpu = cpu() - driver_before
        worker_rss = max(client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
                         .values())  # fmt: skip
    print(json.dumps({
        "wall": wall, "driver_cpu": driver_cpu, "worker_cpu": worker_cpu,
        "driver_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_mb": worker_rss / 1024, "parts": len(parts), "drops": dict(drops),
    }))  # fmt: skip


def report(sizes: list[int], cache: Path) -> None:
    """Generate (once) and measure each size with two workers, and the smallest with one."""
    results = {}
    for pages in sizes:
        t = time.perf_counter()
        work = generate(cache / f"synthetic-{pages}", pages)
        made = time.perf_counter() - t
        results[pages] = measure(work, 2)
        r = results[pages]
        print(f"{pages:>9,} pages ({r['parts']} partitions; generated in {made:.0f} s): "
              f"pass {r['wall']:.0f} s, CPU {r['driver_cpu'] + r['worker_cpu']:.0f} s "
              f"({1000 * (r['driver_cpu'] + r['worker_cpu']) / pages:.2f} ms a page; driver "
              f"{r['driver_cpu']:.1f} s), driver peak RSS {r['driver_peak_mb']:.0f} MB, largest "
              f"worker {r['worker_peak_mb']:.0f} MB; drops {r['drops']}", flush=True)  # fmt: skip
    small, big = min(sizes), max(sizes)
    one = measure(cache / f"synthetic-{small}", 1)
    two = measure(cache / f"synthetic-{small}", 2)

    def per_page(r, n):
        return (r["driver_cpu"] + r["worker_cpu"]) / n

    print(
        f"\ndriver peak RSS, {big:,} vs {small:,} pages: "
        f"{results[big]['driver_peak_mb'] / results[small]['driver_peak_mb']:.2f}x (goal <= 1.2)"
    )
    print(
        f"CPU time a page, {big:,} vs {small:,} pages: "
        f"{per_page(results[big], big) / per_page(results[small], small):.2f}x (goal <= 1.2)"
    )
    print(f"{small:,} pages, 2 workers against 1: {one['wall']:.0f} s / {two['wall']:.0f} s = "
          f"{one['wall'] / two['wall']:.2f}x (goal >= 1.6)")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["--pass"]:
        one_pass(sys.argv[2], int(sys.argv[4]))
    else:
        cache = Path(os.environ.get("DOCGEN_BENCH_CACHE", "/tmp/docgen-bench"))
        report([int(s) for s in sys.argv[1].split(",")], cache)
