"""Progress people can read: a stage's bar counts documents, not partitions.

A task tells how far it got as it goes (:func:`tell`: documents done, and for LLM work the
requests answered, pairs written and tokens generated); on a Dask worker the counts travel as
worker events to the driver, which adds them to the stage's bar. When a task ends, its result's
own counts settle what its events left unsaid, so a task skipped on a rerun, one whose last
events were still on their way, or one run in this process all count exactly once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict

from docgen.core import errors

TOPIC = "docgen-progress"
FLUSH_S = 0.5  # a worker sends its counts at most twice a second
SETTLED_KEPT = 4096

_pending: Counter = Counter()
_last_flush = [0.0]
_local = threading.local()  # in this process (no cluster): the bar to tell directly


def tell(**counts: int) -> None:
    """Called in a task: add ``counts`` (``documents``, ``requests``, ``pairs``, ``tokens``) to
    the running stage's bar. Cheap: counts are sent in batches."""
    sink = getattr(_local, "sink", None)
    if sink is not None:
        sink(None, counts)
        return
    _pending.update(counts)
    if time.monotonic() - _last_flush[0] >= FLUSH_S:
        flush()


def clear_pending() -> None:
    """Forget counts not yet sent (a task ends: its result settles them)."""
    _pending.clear()


def flush() -> None:
    """Send what this worker counted since the last flush, tagged with its task."""
    try:
        from distributed import get_worker

        worker = get_worker()
        key = worker.get_current_task()
    except (ImportError, ValueError):  # not on a worker: nobody to tell
        _pending.clear()
        return
    if _pending:
        worker.log_event(TOPIC, {"key": str(key), "counts": dict(_pending)})
        _pending.clear()
    _last_flush[0] = time.monotonic()


class StageBar:
    """The driver's bar for one stage: ``unit`` counted by tasks' events and settled by their
    results (``settle(result)``: the result's own count of ``unit`` and of the extras)."""

    EXTRAS = ("requests", "pairs", "tokens")

    def __init__(self, bar, units_of, client=None):
        self.bar, self.units_of, self.client = bar, units_of, client
        self.told: dict = {}  # task key -> Counter of what its events said
        # Tasks whose result came: their late events are not news. The last few thousand only
        # (an event trails its task's result by moments, not by thousands of tasks), so the
        # driver keeps no entry per task of a large run.
        self.settled: OrderedDict = OrderedDict()
        self.totals: Counter = Counter()
        self.start = time.monotonic()
        self.lock = threading.Lock()
        if client is not None:
            client.subscribe_topic(TOPIC, self.event)
        else:
            _local.sink = self.add

    def event(self, event) -> None:
        _, msg = event
        self.add(msg.get("key"), msg.get("counts", {}))

    def add(self, key, counts: dict) -> None:
        with self.lock:
            if key in self.settled:
                return
            self.told.setdefault(key, Counter()).update(counts)
            self.totals.update({k: v for k, v in counts.items() if k != "documents"})
            self.bar.update(counts.get("documents", 0))
            self.show()

    def settle(self, key, result) -> None:
        """A task ended: what its result counts and its events did not say is added now."""
        if not isinstance(result, dict):
            return
        with self.lock:
            if key is not None:
                self.settled[key] = None
                if len(self.settled) > SETTLED_KEPT:
                    self.settled.popitem(last=False)
            said = self.told.pop(key, Counter()) + self.told.pop(None, Counter())
            self.bar.update(max(0, self.units_of(result) - said["documents"]))
            # The documents whose task ended are kept; an interrupt's line tells them apart.
            errors.progress["kept"] = errors.progress.get("kept", 0) + self.units_of(result)
            for extra, stat in (("requests", "requests"), ("pairs", "pairs"),
                                ("tokens", "completion_tokens")):  # fmt: skip
                self.totals[extra] += max(0, result.get(stat, 0) - said[extra])
            self.show()

    def show(self) -> None:
        if not self.totals["requests"] and not self.totals["pairs"]:
            return
        seconds = max(1e-6, time.monotonic() - self.start)
        fields = {"requests": self.totals["requests"], "pairs": self.totals["pairs"]}
        if self.totals["tokens"]:
            fields["tok/s"] = f"{self.totals['tokens'] / seconds:.0f}"
        self.bar.set_postfix(fields, refresh=False)

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.unsubscribe_topic(TOPIC)
            except Exception:  # noqa: BLE001 - a cluster closing: nothing left to stop
                pass
        _local.sink = None
