"""Map a stage over partitions: on a Dask cluster of processes, or in this process (``sync``).

Stages know nothing about Dask: a task is a plain function of small arguments (paths, ids and a
config) that reads its inputs and writes its outputs itself, so page images never travel through
the scheduler. PyMuPDF is not thread-safe, hence processes with one thread each.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import sys
from contextlib import contextmanager

from tqdm import tqdm

from docgen import errors
from docgen.errors import UsageError
from docgen.progress import StageBar, clear_pending
from docgen.workdir import add_stats


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
    with (
        LocalCluster(**{"dashboard_address": None, **kwargs}, threads_per_worker=1,
                     processes=True, silence_logs=dask_log_level()) as lc,
        Client(lc) as client,
    ):  # fmt: skip
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
        raise UsageError(
            "no worker of the Dask cluster declares a GPU: start GPU workers with "
            "`dask worker ADDRESS --nthreads 1 --resources GPU=1` (one per GPU)"
        )
    with local_client(n_workers=1, resources={"GPU": 1}) as gpu_client:
        yield gpu_client


def map_stage(
    client, fn, args: list[tuple], desc: str, progress: bool = True, resources=None
) -> list:
    """Run ``fn(*a)`` for every tuple in ``args``; results in the order of ``args``."""
    results: list = [None] * len(args)

    def keep(i: int, result) -> None:
        results[i] = result

    run_tasks(client, fn, args, desc, progress, resources, keep)
    return results


def map_reduce(
    client, fn, args: list[tuple], desc: str, progress: bool = True, resources=None, docs=None
) -> dict:
    """Run ``fn(*a)`` for every tuple in ``args`` and add up their stats (``sum_stats``) as they
    arrive: nothing is kept per task. ``docs``: see :func:`run_tasks`."""
    total: dict = {}
    run_tasks(client, fn, args, desc, progress, resources, lambda i, r: add_stats(total, r), docs)
    return total


def run_tasks(client, fn, args: list[tuple], desc: str, progress, resources, deliver,
              docs=None) -> None:  # fmt: skip
    """Run ``fn(*a)`` for every tuple in ``args``, handing each result to ``deliver(i, result)``.

    ``resources`` (e.g. ``{"GPU": 1}``) restricts the tasks to workers that declare them.
    ``docs``: ``(total, docs_of)``: the bar counts documents (as tasks tell them, see
    :mod:`docgen.progress`; ``docs_of(result)`` settles each task's count when it ends; total
    None: not known ahead), not partitions. Tasks are handed to the scheduler a window at a time
    (four per worker, at least 16), a new one as each ends, and each is released once its result
    is read: submitted all at once, every task left ~12 KB in the driver (its future, the
    scheduler's record of it; measured over 10,000 tasks), ~1 GB a stage at Docmatix's 81k
    partitions; a window left ~2.7 KB."""
    total, docs_of = docs if docs else (len(args), None)
    with progress_bar(desc, total, progress, "doc" if docs else "part") as bar:
        counter = StageBar(bar, docs_of, client) if docs_of else None

        def arrived(key, result) -> None:  # on the bar at once; delivered a window at a time
            if counter is not None:
                counter.settle(key, result)
            else:
                bar.update()

        try:
            if client is None:
                for i, a in enumerate(args):
                    result = fn(*a)
                    arrived(None, result)
                    deliver(i, result)
            else:
                run_on_cluster(client, fn, args, resources, deliver, arrived)
        finally:
            if counter is not None:
                counter.close()


@contextmanager
def progress_bar(desc: str, total: int | None, progress: bool, unit: str = "part"):
    """A bar over a stage's tasks that also tells :mod:`docgen.errors` how far the stage got
    (for the line an interrupt prints); closed on the way out, whatever happens."""
    # Shown after half a second: a stage a rerun finds done leaves no bar behind.
    bar = tqdm(total=total, desc=desc, unit=unit, disable=not progress, delay=0.5)
    errors.progress.update(stage=desc, done=0, total=total, unit=unit)
    update = bar.update

    def step(n: int = 1) -> None:
        errors.progress["done"] += n
        update(n)

    bar.update = step
    try:
        yield bar
    finally:
        bar.close()
    errors.progress["stage"] = None  # not on the way out of an interrupt: its line says where


def run_task(fn, *args):
    """A task as a worker runs it: counts left from the task before are not this one's."""
    clear_pending()
    try:
        return fn(*args)
    finally:
        clear_pending()


def run_on_cluster(client, fn, args: list[tuple], resources, deliver, arrived) -> None:
    """:func:`run_tasks` on a Dask cluster, a window of tasks at a time."""
    from dask.distributed import KilledWorker, as_completed

    window = max(16, 4 * n_workers(client))
    todo = iter(enumerate(args))
    index: dict = {}  # a task's key -> its place in args
    done: dict = {}  # futures read but not yet released -> their results
    running = as_completed()

    def submit(count: int) -> None:
        for i, a in itertools.islice(todo, count):
            future = client.submit(run_task, fn, *a, pure=False, resources=resources)
            index[future.key] = i
            running.add(future)

    def release() -> None:
        """Note the tasks whose worker died under them (the scheduler forgets them once their
        futures go), hand their results on, then let them go."""
        retried = workers_lost(client, [f.key for f in done])
        for f, result in done.items():
            if retried.get(f.key) and isinstance(result, dict) and "failed_tasks" not in result:
                result = {**result, "retried_tasks": 1}
            deliver(index.pop(f.key), result)
        done.clear()

    submit(window)
    for future in running:
        try:
            done[future] = future.result()
        except KilledWorker:
            # The scheduler moved the task to another worker each time its worker died
            # (distributed.scheduler.allowed-failures times, 3 by default), then gave up: the
            # task is recorded as failed and the stage goes on; a rerun tries it again.
            name = task_name(args[index[future.key]])
            done[future] = {"failed_tasks": 1, "failed": {name: 1}}
        arrived(str(future.key), done[future])
        if len(done) >= window:
            release()
        submit(1)
    release()


def on_every_worker(client, fn) -> None:
    """``fn()`` in each worker process (in this one without a cluster); best effort: a worker
    that cannot be reached is skipped."""
    if client is None:
        fn()
    else:
        client.run(fn, on_error="ignore")


def task_name(args: tuple) -> str:
    """A task's partition id(s) (its second argument, after the work directory)."""
    part = args[1] if len(args) > 1 else args[0]
    return part if isinstance(part, str) else ",".join(map(str, part))


def workers_lost(client, keys: list) -> dict:
    """How many workers died while running each task (the scheduler's ``suspicious`` count)."""

    def count(dask_scheduler, keys):
        tasks = dask_scheduler.tasks
        return {k: tasks[k].suspicious for k in keys if k in tasks and tasks[k].suspicious}

    try:
        return client.run_on_scheduler(count, keys=keys)
    except Exception:  # an older scheduler without the attribute: nothing to report
        return {}
