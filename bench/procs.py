"""Peak memory and CPU time of a tree of processes, sampled in a background thread (for the
benchmarks)."""

from __future__ import annotations

import threading

import psutil


class PeakRSS:
    """Sample the resident memory of ``roots`` and all their descendants every ``interval``
    seconds while in the ``with`` block. Afterwards:

    - ``total``: the largest sum over the whole tree at one instant (bytes);
    - ``largest``: the largest single process ever seen (bytes);
    - ``per_root``: for each root, the largest sum of it and its descendants at one instant;
    - ``cpu_seconds()``: user + system CPU time of the tree by kind of process (``child``: the
      isolation children, ``worker``: Dask worker processes, ``main``: the roots and the rest),
      each process counted at its last sample (what it spent after that is missed).

    RSS counts shared library pages in every process, so ``total`` overstates what the tree
    needs by the libraries loaded more than once; it is the figure ``ps`` and the OOM killer see.
    Sampling misses peaks shorter than the interval.
    """

    def __init__(self, roots: list[int], interval: float = 0.25):
        self.roots, self.interval = roots, interval
        self.total, self.largest = 0, 0
        self.per_root: dict[int, int] = {}
        self.cpu: dict[int, tuple[str, float]] = {}  # pid -> (kind, CPU seconds at last sample)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        total = 0
        for root in self.roots:
            try:
                proc = psutil.Process(root)
                tree = [proc, *proc.children(recursive=True)]
            except psutil.Error:
                continue
            here = 0
            for p in tree:
                try:
                    rss = p.memory_info().rss
                    times = p.cpu_times()
                    kind = self.cpu[p.pid][0] if p.pid in self.cpu else kind_of(p)
                except psutil.Error:  # ended between listing and reading
                    continue
                self.cpu[p.pid] = (kind, times.user + times.system)
                here += rss
                self.largest = max(self.largest, rss)
            self.per_root[root] = max(self.per_root.get(root, 0), here)
            total += here
        self.total = max(self.total, total)

    def cpu_seconds(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for kind, seconds in self.cpu.values():
            total[kind] = total.get(kind, 0.0) + seconds
        return total


def kind_of(p: psutil.Process) -> str:
    command = " ".join(p.cmdline())
    if "docgen.extract.isolate" in command:
        return "child"
    return "worker" if "multiprocessing" in command else "main"
