"""Map a stage over partitions: on a Dask cluster of processes, or in this process (``sync``).

Stages know nothing about Dask: a task is a plain function of small arguments (paths, ids and a
config) that reads its inputs and writes its outputs itself, so page images never travel through
the scheduler. PyMuPDF is not thread-safe, hence processes with one thread each.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def cluster(scheduler: str | None, workers: int | None):
    """A Dask client (LocalCluster of processes unless ``scheduler`` is an address), or None."""
    if scheduler == "sync":
        yield None
        return
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise SystemExit(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
        ) as lc,
        Client(lc) as client,
    ):
        yield client


def map_stage(client, fn, args: list[tuple], desc: str, progress: bool = True) -> list:
    """Run ``fn(*a)`` for every tuple in ``args``; results in the order of ``args``."""
    bar = tqdm(total=len(args), desc=desc, unit="part", disable=not progress)
    if client is None:
        results = []
        for a in args:
            results.append(fn(*a))
            bar.update()
        bar.close()
        return results
    from dask.distributed import as_completed

    futures = [client.submit(fn, *a, pure=False) for a in args]
    index = {f.key: i for i, f in enumerate(futures)}
    results = [None] * len(args)
    for future in as_completed(futures):
        results[index[future.key]] = future.result()
        bar.update()
    bar.close()
    return results
