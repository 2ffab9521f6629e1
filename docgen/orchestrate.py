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
    import dask
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
    # Without a dashboard nobody reads the workers' statistical profiles; sampling every thread's
    # stack every 10 ms costs CPU the stages need.
    dask.config.set({"distributed.worker.profile.enabled": False})
    with (
        LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
        ) as lc,
        Client(lc) as client,
    ):
        yield client


def n_workers(client) -> int:
    return 1 if client is None else max(1, len(client.scheduler_info()["workers"]))


def gpu_workers(client) -> int:
    """How many workers of the cluster declare a ``GPU`` resource (``--resources GPU=1``)."""
    workers = client.scheduler_info()["workers"].values()
    return sum(1 for w in workers if w.get("resources", {}).get("GPU", 0) >= 1)


@contextmanager
def gpu_cluster(client):
    """A client whose workers can take GPU tasks: ``client`` itself when it has GPU workers; on a
    machine of our own, a LocalCluster of one worker holding the GPU(s), so that exactly one
    engine is built (CPU stages keep their own cluster)."""
    if client is None:
        yield None
        return
    if gpu_workers(client):
        yield client
        return
    if client.cluster is None:  # someone else's cluster: we cannot add a GPU worker to it
        raise SystemExit(
            "no worker of the Dask cluster declares a GPU: start GPU workers with "
            "`dask worker ADDRESS --nthreads 1 --resources GPU=1` (one per GPU)"
        )
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            resources={"GPU": 1},
        ) as lc,
        Client(lc) as gpu_client,
    ):
        yield gpu_client


def map_stage(
    client, fn, args: list[tuple], desc: str, progress: bool = True, resources=None
) -> list:
    """Run ``fn(*a)`` for every tuple in ``args``; results in the order of ``args``.

    ``resources`` (e.g. ``{"GPU": 1}``) restricts the tasks to workers that declare them."""
    bar = tqdm(total=len(args), desc=desc, unit="part", disable=not progress)
    if client is None:
        results = []
        for a in args:
            results.append(fn(*a))
            bar.update()
        bar.close()
        return results
    from dask.distributed import as_completed

    futures = [client.submit(fn, *a, pure=False, resources=resources) for a in args]
    index = {f.key: i for i, f in enumerate(futures)}
    results = [None] * len(args)
    for future in as_completed(futures):
        results[index[future.key]] = future.result()
        bar.update()
    bar.close()
    return results
