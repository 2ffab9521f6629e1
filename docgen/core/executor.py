"""The one executor: steps' tasks run on a Dask cluster of processes, or in this process.

Stages know nothing about Dask: a task is a plain function of small arguments (paths, ids and a
config) that reads its inputs and writes its outputs itself (a step of :mod:`docgen.core.step`), so
page images never travel through the scheduler. A stage hands its tasks to an
:class:`Executor`, which gives back each task's result (:meth:`Executor.map`) or their counts
added up as they arrive (:meth:`Executor.total`), with a progress bar; the clusters themselves
are made in :mod:`docgen.run.orchestrate`.

    ex = Executor(client, progress=True)
    counts = ex.total(filter_partition, [(work, part, cfg) for part in parts], "filter")
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from contextlib import contextmanager

from tqdm import tqdm

from docgen.core import errors
from docgen.core.progress import StageBar, clear_pending
from docgen.core.workdir import add_stats


class Executor:
    """Where tasks run: the workers of ``client`` (None: here, one after another), on those that
    declare ``resources`` (e.g. ``{"GPU": 1}``); ``progress``: a bar per batch of tasks."""

    def __init__(self, client=None, progress: bool = False, resources: dict | None = None):
        self.client, self.progress, self.resources = client, progress, resources

    @property
    def workers(self) -> int:
        """How many tasks run at once."""
        return 1 if self.client is None else max(1, len(self.client.scheduler_info()["workers"]))

    def on(self, client, resources: dict | None = None) -> Executor:
        """The same executor on another cluster (the LLM's workers, a GPU's)."""
        return Executor(client, self.progress, resources)

    def map(self, fn, args: list[tuple], desc: str = "") -> list:
        """``fn(*a)`` for every tuple in ``args``; the results in the order of ``args``. A bar
        named ``desc`` (none without a name)."""
        results: list = [None] * len(args)

        def keep(i: int, result) -> None:
            results[i] = result

        self.run(fn, args, desc, keep)
        return results

    def total(self, fn, args: list[tuple], desc: str = "", docs=None) -> dict:
        """``fn(*a)`` for every tuple in ``args``, their counts added up as they arrive
        (:func:`docgen.core.workdir.add_stats`): nothing is kept per task. ``docs``: see
        :meth:`run`."""
        total: dict = {}
        self.run(fn, args, desc, lambda i, r: add_stats(total, r), docs)
        return total

    def each_worker(self, fn: Callable[[], None]) -> None:
        """``fn()`` in each worker process (in this one without a cluster); best effort: a
        worker that cannot be reached is skipped."""
        if self.client is None:
            fn()
        else:
            self.client.run(fn, on_error="ignore")

    def run(self, fn, args: list[tuple], desc: str, deliver, docs=None) -> None:
        """Run ``fn(*a)`` for every tuple in ``args``, handing each result to ``deliver(i,
        result)``.

        ``docs``: ``(total, docs_of)``: the bar counts documents (as tasks tell them, see
        :mod:`docgen.core.progress`; ``docs_of(result)`` settles each task's count when it ends;
        total None: not known ahead), not tasks. Tasks are handed to the scheduler a window at a
        time (four per worker, at least 16), a new one as each ends, and each is released once its
        result is read: submitted all at once, every task left ~12 KB in the driver (its future,
        the scheduler's record of it; measured over 10,000 tasks), ~1 GB a stage at Docmatix's
        81k partitions; a window left ~2.7 KB."""
        total, docs_of = docs if docs else (len(args), None)
        shown = self.progress and bool(desc)
        with progress_bar(desc, total, shown, "doc" if docs else "part") as bar:
            counter = StageBar(bar, docs_of, self.client) if docs_of else None

            def arrived(key, result) -> None:  # on the bar at once; delivered a window at a time
                if counter is not None:
                    counter.settle(key, result)
                else:
                    bar.update()

            try:
                if self.client is None:
                    for i, a in enumerate(args):
                        result = fn(*a)
                        arrived(None, result)
                        deliver(i, result)
                else:
                    self.on_cluster(fn, args, deliver, arrived)
            finally:
                if counter is not None:
                    counter.close()

    def on_cluster(self, fn, args: list[tuple], deliver, arrived) -> None:
        """:meth:`run` on a Dask cluster, a window of tasks at a time."""
        from dask.distributed import KilledWorker, as_completed

        client = self.client
        window = max(16, 4 * self.workers)
        todo = iter(enumerate(args))
        index: dict = {}  # a task's key -> its place in args
        done: dict = {}  # futures read but not yet released -> their results
        running = as_completed()

        def submit(count: int) -> None:
            for i, a in itertools.islice(todo, count):
                future = client.submit(run_task, fn, *a, pure=False, resources=self.resources)
                index[future.key] = i
                running.add(future)

        def release() -> None:
            """Note the tasks whose worker died under them (the scheduler forgets them once
            their futures go), hand their results on, then let them go."""
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


@contextmanager
def progress_bar(desc: str, total: int | None, progress: bool, unit: str = "part"):
    """A bar over a stage's tasks that also tells :mod:`docgen.core.errors` how far the stage got
    (for the line an interrupt prints); closed on the way out, whatever happens."""
    # Shown after half a second: a stage a rerun finds done leaves no bar behind.
    bar = tqdm(total=total, desc=desc, unit=unit, disable=not progress, delay=0.5)
    errors.progress.update(stage=desc, done=0, total=total, unit=unit, kept=0)
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
