"""A Dask cluster started the way users start one: `dask scheduler` and `dask worker` processes,
each in a folder of its own, found through a scheduler file."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path


class DaskProcesses:
    """``with DaskProcesses(dask, folder, workers=2) as (address, client):`` — the scheduler and
    ``workers`` single-process workers (each with a nanny, which starts a new worker process when
    one dies), ``nthreads`` threads each. Every process group is stopped on the way out."""

    def __init__(self, dask: str, folder: Path, workers: int = 1, nthreads: int = 1, env=None):
        self.dask, self.folder, self.workers, self.nthreads = dask, folder, workers, nthreads
        self.env = env
        self.procs, self.client = [], None

    def start(self, name: str, *argv: str) -> None:
        cwd = self.folder / name
        cwd.mkdir(parents=True)
        log = (cwd / "log.txt").open("w")
        self.procs.append(subprocess.Popen([self.dask, *argv], cwd=cwd, env=self.env, stdout=log,
                                           stderr=log, start_new_session=True))  # fmt: skip

    def __enter__(self):
        from dask.distributed import Client

        file = self.folder / "scheduler.json"
        self.start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0",
                   "--no-dashboard", "--scheduler-file", str(file))  # fmt: skip
        for i in range(self.workers):
            self.start(f"worker{i}", "worker", "--scheduler-file", str(file), "--name", f"w{i}",
                       "--nthreads", str(self.nthreads), "--no-dashboard")  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not file.exists():
                assert time.monotonic() < deadline, "the scheduler did not start"
                time.sleep(0.2)
            address = json.loads(file.read_text())["address"]
            self.client = Client(address, timeout="60s")
            self.client.wait_for_workers(self.workers, timeout=120)
        except BaseException:
            self.__exit__()
            raise
        return address, self.client

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
        for proc in reversed(self.procs):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
