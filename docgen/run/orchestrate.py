"""The Dask clusters a run's tasks go to (:mod:`docgen.core.executor` hands them over): a
LocalCluster of processes, an existing scheduler, a GPU worker for the LLM's engines; or none
(``sync``: in this process). PyMuPDF is not thread-safe, hence processes with one thread each.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import warnings
from contextlib import contextmanager

from docgen.core.errors import UsageError


def dask_log_level() -> int:
    """Dask's own warnings (a port in use, a worker restarted) stay out of the terminal unless
    ``-v`` (``DOCGEN_VERBOSE``) asks for them."""
    return logging.WARNING if os.environ.get("DOCGEN_VERBOSE") else logging.ERROR


def leave_signals_to_the_driver() -> None:
    """In a worker process of our own LocalCluster: a process group of its own, and SIGINT
    ignored. A terminal's Ctrl-C (and `kill -- -PGID`) goes to the whole foreground group; a
    worker it killed would end its task half-done. The driver stops the cluster itself, and a
    worker whose driver is gone exits (Dask watches the parent)."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed.worker").addFilter(SchedulerGone())


class SchedulerGone(logging.Filter):
    """Our LocalCluster's scheduler lives in the driver and goes only when the driver stops the
    cluster (at the end, or on an interrupt); a worker's heartbeat that fails then logs an error
    and a traceback on the terminal that nobody can act on: dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Failed to communicate with scheduler" not in record.getMessage()


@contextmanager
def local_client(**kwargs):
    """A client of a LocalCluster of one-thread worker processes that leave signals to the
    driver (a worker the nanny starts again gets the same: a plugin runs on every worker that
    joins)."""
    from dask.distributed import Client, LocalCluster, WorkerPlugin

    class LeaveSignalsToTheDriver(WorkerPlugin):
        name = "docgen-leave-signals-to-the-driver"

        def setup(self, worker):
            leave_signals_to_the_driver()

    logging.getLogger("distributed").setLevel(dask_log_level())
    with warnings.catch_warnings():
        if not os.environ.get("DOCGEN_VERBOSE"):
            # Another cluster on this machine (another run) holds the default port of the
            # scheduler's HTTP server; it takes another one. Dask says so as a Python warning,
            # not in its log: three lines on the terminal about a port nobody asked for.
            warnings.filterwarnings("ignore", r"Port \d+ is already in use", UserWarning)
        lc = LocalCluster(**{"dashboard_address": None, **kwargs}, threads_per_worker=1,
                          processes=True, silence_logs=dask_log_level())  # fmt: skip
    with lc, Client(lc) as client:
        client.register_plugin(LeaveSignalsToTheDriver())
        yield client


@contextmanager
def cluster(scheduler: str | None, workers: int | None, dashboard: bool = False):
    """A Dask client (LocalCluster of processes unless ``scheduler`` is an address), or None;
    ``dashboard``: a LocalCluster serves Dask's dashboard, on a free port."""
    if scheduler == "sync":
        yield None
        return
    import dask
    from dask.distributed import Client

    scheduler = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if scheduler:
        try:
            # A scheduler file (`dask scheduler --scheduler-file F`, as on Slurm) or an address.
            where = (
                {"scheduler_file": scheduler}
                if scheduler.endswith(".json")
                else {"address": scheduler}
            )
            client = Client(**where, timeout="10s")
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            check_one_thread(client, scheduler)
            print(f"Dask scheduler {scheduler}, dashboard {client.dashboard_link}")
            yield client
        return
    n = workers or os.cpu_count() or 1
    # Without a dashboard nobody reads the workers' statistical profiles; sampling every thread's
    # stack every 10 ms costs CPU the stages need.
    dask.config.set({"distributed.worker.profile.enabled": dashboard})
    with local_client(n_workers=n, dashboard_address=":0" if dashboard else None) as client:
        if dashboard:
            print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
        yield client


def check_one_thread(client, scheduler: str) -> None:
    """PyMuPDF must not run on two threads of one process: a worker started by hand with
    `dask worker`'s default (a thread per core) would run partitions side by side in it."""
    threads = {w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()}
    if max(threads, default=1) > 1:
        raise UsageError(
            f"the Dask workers at {scheduler} run {max(threads)} threads each; docgen's stages "
            "need one thread per worker process: start them with `dask worker ADDRESS "
            "--nthreads 1 --nworkers N`"
        )


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
        raise UsageError(
            "no worker of the Dask cluster declares a GPU: start GPU workers with "
            "`dask worker ADDRESS --nthreads 1 --resources GPU=1` (one per GPU)"
        )
    with local_client(n_workers=1, resources={"GPU": 1}) as gpu_client:
        yield gpu_client
