"""Ctrl-C and SIGTERM through the CLI, as a terminal sends them: to the whole process group
(driver, nannies, Dask workers, isolation children). The interrupted run prints one line and
exits 130 / 143; a rerun ends with the shards of a run never interrupted, byte for byte."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

DOCGEN = str(Path(sys.executable).with_name("docgen"))


def command(samples, root: Path, *extra: str) -> list[str]:
    return [DOCGEN, "run", "--input", str(samples), "--work", str(root / "work"),
            "--out", str(root / "out"), "--set", "run.workers=2", "--set", "run.progress=false",
            "--set", "extract.docs_per_partition=2", *extra]  # fmt: skip


def shards(root: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted((root / "out" / "data").glob("*"))}


@pytest.fixture(scope="module")
def whole(samples, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("whole")
    subprocess.run(command(samples, root), check=True, capture_output=True)
    return shards(root)


def interrupt(cmd: list[str], folder: Path, signum: int) -> tuple[int, str]:
    """Start ``cmd`` in a group of its own, send ``signum`` to the group once ``folder`` holds a
    partition file; (exit status, what it printed)."""
    run = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(folder.glob("part-*.parquet")) and run.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(run.pid, signum)
    out, _ = run.communicate(timeout=120)
    return run.returncode, out


@pytest.mark.parametrize(
    "stage,signum,scheduler",
    [("pages", signal.SIGINT, None), ("pages", signal.SIGTERM, None),
     ("pages", signal.SIGINT, "sync"), ("qa", signal.SIGINT, None),
     ("dataset/pair-signatures", signal.SIGINT, None),
     # the shuffle, once a block has written some of its bands (band 0, its mark, comes last)
     ("dataset/page-band-3", signal.SIGINT, None)],
)  # fmt: skip
def test_an_interrupted_run_says_so_in_one_line_and_its_rerun_loses_nothing(
    samples, tmp_path, whole, stage, signum, scheduler
):
    extra = ["--scheduler", scheduler] if scheduler else []
    cmd = command(samples, tmp_path, *extra)
    code, out = interrupt(cmd, tmp_path / "work" / stage, signum)
    finished = (tmp_path / "out" / "data").exists()
    if stage == "pages" or not finished:  # a later stage may end before the signal lands
        assert code == 128 + signum, out
        assert not finished
        lines = [line for line in out.splitlines() if line.strip()]
        assert len(lines) == 1, out
        assert lines[0].startswith(f"docgen run: interrupted ({signal.Signals(signum).name})")
        assert "run the same command to go on" in lines[0]

    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert shards(tmp_path) == whole
    # No document was recorded as failed because the interrupt reached its worker.
    errors = tmp_path / "work" / "errors"
    assert sum(pq.read_metadata(f).num_rows for f in errors.glob("*.parquet")) == 0
    assert "48 ok, 0 failed" in again.stdout


def test_a_workers_complaint_about_the_scheduler_the_driver_stopped_is_dropped():
    """On an interrupt the driver stops the cluster; a worker's heartbeat then fails and would
    print an error with a traceback on the terminal: only that message is dropped."""
    import logging

    from docgen.run.orchestrate import SchedulerGone

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("distributed.worker", logging.ERROR, "", 0, message, None, None)

    assert not SchedulerGone().filter(
        record("Failed to communicate with scheduler during heartbeat.")
    )
    assert SchedulerGone().filter(record("Compute Failed"))


def test_the_line_tells_documents_of_unfinished_partitions_apart(monkeypatch):
    """A partition is the unit a rerun skips: documents read in a partition the interrupt cut
    short are read again, and the line says how many of those done are kept."""
    from docgen.core import errors

    exc = errors.Interrupted(signal.SIGINT)
    monkeypatch.setitem(errors.progress, "stage", "extract")
    monkeypatch.setitem(errors.progress, "unit", "doc")
    monkeypatch.setitem(errors.progress, "total", 4)
    monkeypatch.setitem(errors.progress, "done", 1)
    monkeypatch.setitem(errors.progress, "kept", 0)
    line = errors.interrupted_line(exc)
    assert "1 of 4 documents done (0 in finished partitions): finished partitions are kept" in line
    monkeypatch.setitem(errors.progress, "kept", 1)
    assert "1 of 4 documents done: finished" in errors.interrupted_line(exc)
