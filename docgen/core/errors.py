"""The errors docgen's library raises, and what the CLI makes of them.

Library code raises these; only the CLI's entry point (``docgen.cli.main``) turns them into one
line on stderr and an exit status: 0 done, 1 the run failed, 2 bad usage, config or input before
any work, 130 / 143 interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager


class DocgenError(Exception):
    """A failure the user can act on, said in one line."""

    exit_code = 1


class UsageError(DocgenError):
    """Refused before any work: a config value, an input, an option, a missing earlier stage."""

    exit_code = 2


class RunFailed(DocgenError):
    """A run that started and could not produce what it was asked for."""

    exit_code = 1


class Interrupted(BaseException):
    """SIGINT or SIGTERM reached the driver. A BaseException, like KeyboardInterrupt: no
    ``except Exception`` on the way up may swallow it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


# Where the stage in flight is, for the line printed on an interrupt (set by
# docgen.core.executor).
progress = {"stage": None, "done": 0, "total": 0, "unit": "part", "kept": 0}


KEPT = "finished partitions are kept; run the same command to go on"


def interrupted_line(exc: Interrupted, after: str = KEPT) -> str:
    where = ""
    if progress["stage"]:
        unit = "documents" if progress.get("unit") == "doc" else "tasks"
        total = f" of {progress['total']}" if progress["total"] else ""
        where = f" during {progress['stage']}, {progress['done']}{total} {unit} done"
        if unit == "documents" and progress["kept"] < progress["done"]:
            # Documents of a partition still being read are read again by the next run.
            where += f" ({progress['kept']} in finished partitions)"
    return f"interrupted ({exc}){where}: {after}"


@contextmanager
def signals_interrupt():
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread, so that ``with`` blocks
    close the cluster and release the work lock on the way out; a second signal ends the process
    at once (its worker processes killed first)."""

    first_at = []

    def first(signum, frame):
        first_at.append(time.monotonic())
        signal.signal(signal.SIGINT, second)
        signal.signal(signal.SIGTERM, second)
        quiet_shutdown()
        raise Interrupted(signum)

    def second(signum, frame):
        import multiprocessing

        if time.monotonic() - first_at[0] < 1.0:
            # The same interrupt twice: `timeout` and `kill -- -PGID` signal the process and
            # then its group. A person's second Ctrl-C comes later.
            return

        for child in multiprocessing.active_children():
            child.kill()
        os._exit(128 + signum)

    old = signal.signal(signal.SIGINT, first), signal.signal(signal.SIGTERM, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old[0])
        signal.signal(signal.SIGTERM, old[1])


def quiet_shutdown() -> None:
    """Closing a cluster whose tasks were cut short logs errors nobody can act on: silenced."""
    import logging

    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
