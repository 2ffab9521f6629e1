"""The pipeline on a real Dask cluster: a `dask scheduler` and two `dask worker` processes on
127.0.0.1, one of them killed mid-run."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dask_procs import DaskProcesses

from docgen.core.config import load_config
from docgen.core.errors import DocgenError
from docgen.run.pipeline import run_pipeline

DASK = str(Path(sys.executable).with_name("dask"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """(scheduler address, client) of a scheduler and two single-threaded workers."""
    with DaskProcesses(DASK, tmp_path / "dask", workers=2) as (address, client):
        yield address, client


def test_a_worker_killed_mid_run_costs_no_document(samples, tmp_path, dask_cluster, monkeypatch):
    address, client = dask_cluster
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)  # the cluster named by the environment
    cfg = load_config(
        "default",
        [f"input={samples}", f"work={tmp_path / 'work'}", f"out={tmp_path / 'out'}",
         "run.progress=false", "extract.docs_per_partition=2"],
    )  # fmt: skip
    pages = tmp_path / "work" / "pages"
    killed = []

    def kill_a_worker_once_work_is_flowing():
        deadline = time.monotonic() + 120
        while not list(pages.glob("part-*.parquet")) and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = client.run(os.getpid)  # the worker processes (their nannies stay)
        pid = sorted(pids.values())[0]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_a_worker_once_work_is_flowing)
    killer.start()
    manifest = run_pipeline(cfg)
    killer.join()
    assert killed

    extract = manifest["stages"]["extract"]
    assert extract.get("failed_tasks", 0) == 0
    assert extract.get("retried_tasks", 0) >= 1  # the killed worker's partition ran again
    docs = {r for f in pages.glob("*.parquet") for r in pq.read_table(f, columns=["doc_id"])
            .column("doc_id").to_pylist()}  # fmt: skip
    assert len(docs) == 48  # every sample document has its pages; none was lost
    # As on a LocalCluster (make dataset): 302 pairs, and the questions asked of another
    # document's page (how many depends on the partitions: two documents each here)
    made = manifest["stages"]["filter"]["unanswerable"]["unanswerable"]
    assert manifest["stages"]["filter"]["kept"] - made == 302 and made > 0
    assert manifest["stages"]["shard"]["rows"] == 48
    from docgen.run.summary import summary

    assert "workers     lost while running: extract" in summary(manifest)


def test_a_port_held_by_another_cluster_is_not_a_warning_on_the_terminal():
    """Two runs on one machine: the second cluster's scheduler finds Dask's default HTTP port
    taken and takes another, without three lines of Python warning."""
    import warnings

    from docgen.run.orchestrate import cluster

    held = socket.socket()
    try:
        held.bind(("", 8787))
        held.listen()
    except OSError:  # held already, by another cluster: the same situation
        pass
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with cluster(None, 1) as client:
                assert client.submit(sum, [1, 2]).result() == 3
        assert not [w for w in caught if "already in use" in str(w.message)]
    finally:
        held.close()


def test_an_unreachable_scheduler_is_a_clear_error(samples, tmp_path):
    cfg = load_config(
        "default",
        [f"input={samples}", f"work={tmp_path / 'work'}",
         f"run.scheduler=tcp://127.0.0.1:{free_port()}"],
    )  # fmt: skip
    with pytest.raises(DocgenError, match="cannot reach the Dask scheduler"):
        run_pipeline(cfg)


def test_workers_of_several_threads_are_refused_before_any_work(samples, tmp_path):
    with DaskProcesses(DASK, tmp_path / "dask", nthreads=2) as (address, _):
        cfg = load_config("default", [f"input={samples}", f"work={tmp_path / 'work'}",
                                      f"run.scheduler={address}"])  # fmt: skip
        with pytest.raises(DocgenError, match="run 2 threads each; .* --nthreads 1 --nworkers N"):
            run_pipeline(cfg)
    assert not (tmp_path / "work" / "pages").exists()


@pytest.mark.parametrize("stage", ["pages", "qa", "dataset/pair-signatures"])
def test_a_run_killed_with_sigkill_resumes_to_identical_shards(samples, tmp_path, stage):
    """SIGKILL the whole run (driver, nannies, workers) once `stage` has partitions on disk, run
    it again: the shards are byte for byte those of a run never stopped."""
    docgen = str(Path(sys.executable).with_name("docgen"))

    def command(root):
        return [docgen, "run", "default", "--set", f"input={samples}",
                "--set", f"work={root / 'work'}", "--set", f"out={root / 'out'}",
                "--set", "run.workers=2", "--set", "run.progress=false",
                "--set", "extract.docs_per_partition=2"]  # fmt: skip

    whole, broken = tmp_path / "whole", tmp_path / "broken"
    subprocess.run(command(whole), check=True, capture_output=True)
    run = subprocess.Popen(command(broken), start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    folder = broken / "work" / stage
    deadline = time.monotonic() + 120
    while not list(folder.glob("part-*.parquet")) and run.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert not (broken / "out" / "data").exists()  # killed before the shards
    subprocess.run(command(broken), check=True, capture_output=True)

    def shards(root):
        return {p.name: p.read_bytes() for p in sorted((root / "out" / "data").glob("*"))}

    assert shards(broken) == shards(whole) and shards(whole)


def kill_own_worker(work, part):
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_task_that_keeps_killing_workers_is_recorded_as_failed_and_the_stage_goes_on():
    import dask
    from dask.distributed import Client, LocalCluster

    from docgen.core.executor import Executor

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with (
            LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as lc,
            Client(lc) as client,
        ):
            ok = Executor(client).map(os.path.join, [("a", "b")])
            dead = Executor(client).map(kill_own_worker, [("work", "part-x")])
    assert ok == ["a/b"]
    assert dead == [{"failed_tasks": 1, "failed": {"part-x": 1}}]


def test_isolation_children_end_with_the_extract_stage(few_samples, tmp_path):
    """The later stages never need them, and each holds a few hundred MB."""
    import psutil

    from docgen.core.executor import Executor
    from docgen.run.orchestrate import cluster
    from docgen.run.pipeline import run_extract

    def children() -> list[str]:
        found = []
        for p in psutil.Process().children(recursive=True):
            try:  # a process may end (or be a zombie) between the listing and the question
                if "docgen.extract.isolate" in " ".join(p.cmdline()):
                    found.append(p.pid)
            except psutil.Error:
                continue
        return found

    cfg = load_config("default", [f"input={few_samples}",
                      f"work={tmp_path / 'work'}", "run.progress=false"])  # fmt: skip
    with cluster(None, 2) as client:
        seen = []
        client.run(lambda: None)  # workers up
        stop = threading.Event()

        def watch():
            while not stop.wait(0.05):
                seen.extend(children())

        watcher = threading.Thread(target=watch)
        watcher.start()
        stats = run_extract(Executor(client), cfg)
        stop.set()
        watcher.join()
        assert stats["documents"] == 3 and seen  # children did the work ...
        assert children() == []  # ... and are gone once the stage is over
