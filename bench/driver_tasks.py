"""What each Dask task leaves in the driver: docgen's ``map_stage`` (tasks handed over a window
at a time, each released once read) against submitting every task at once and keeping the
futures until the stage ends, on a real LocalCluster of 2 worker processes, in one run.

Tasks do nothing (a partition's stats come back), so what is measured is Dask's bookkeeping:
the driver's RSS after each of two stages of ``--tasks`` tasks, per task. Docmatix at 16
documents a partition is ~81k tasks a stage.

    .venv/bin/python bench/driver_tasks.py --tasks 10000
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def noop(work: str, part: str) -> dict:
    return {"pages": 1}


def all_at_once(client, fn, args: list[tuple], desc: str, progress: bool = False) -> list:
    """The reference: every task submitted, futures held until the last result is read."""
    from dask.distributed import as_completed

    futures = [client.submit(fn, *a, pure=False) for a in args]
    index = {f.key: i for i, f in enumerate(futures)}
    results: list = [None] * len(args)
    for future in as_completed(futures):
        results[index[future.key]] = future.result()
    return results


def measure(way: str, tasks: int) -> None:
    """One way, in a process of its own (so that neither inherits the other's memory)."""
    import psutil
    from dask.distributed import Client, LocalCluster

    from docgen.core.executor import Executor

    def window(client, fn, args, desc, progress=False) -> list:
        return Executor(client).map(fn, args)

    run = window if way == "window" else all_at_once

    def rss() -> float:
        gc.collect()
        return psutil.Process().memory_info().rss / 2**20

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        run(client, noop, [("w", f"warm{i}") for i in range(200)], "warm", progress=False)
        before, start = rss(), time.perf_counter()
        cells = []
        for stage in (1, 2):
            run(client, noop, [("w", f"s{stage}-{i}") for i in range(tasks)], "x", progress=False)
            grown = rss() - before
            cells.append(f"+{grown:5.0f} MB {grown * 1024 / (stage * tasks):5.2f} KB/task")
        seconds = time.perf_counter() - start
    print(f"{way:12} " + "   ".join(cells) + f"   {2 * tasks / seconds:6.0f} tasks/s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=10000, help="tasks a stage")
    p.add_argument("--way", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.way:
        return measure(args.way, args.tasks)
    print(f"{args.tasks} tasks a stage, 2 stages; driver RSS growth after stage 1 | stage 2")
    for way in ("all-at-once", "window"):
        subprocess.run([sys.executable, __file__, "--tasks", str(args.tasks), "--way", way],
                       check=True, stderr=subprocess.DEVNULL)  # fmt: skip


if __name__ == "__main__":
    main()
