"""Failures that may pass are tried again by a rerun; failures for good only with --retry-failed."""

import os
import signal
import threading
import time

import pyarrow.parquet as pq
from test_cluster import free_port

from docgen.cli import main
from docgen.core.config import load_config
from docgen.core.errors import DocgenError
from docgen.core.workdir import WorkDir
from docgen.extract import isolate
from docgen.run.pipeline import run_pipeline
from docgen.run.summary import summary


def error_rows(work) -> list[dict]:
    table = WorkDir(work).read_errors()
    return [] if table is None else table.to_pylist()


def config(inputs, root, *extra):
    return load_config("default", [f"input={inputs}", f"work={root / 'work'}",
                                   f"out={root / 'out'}", "run.scheduler=sync",
                                   "run.progress=false", *extra])  # fmt: skip


def test_a_document_whose_process_was_killed_is_extracted_by_the_rerun(few_samples, tmp_path):
    """The kernel's out-of-memory killer (or anyone) kills the isolation child mid-document:
    that document fails for this run only."""
    killed = []

    def kill_the_child_once():
        deadline = time.monotonic() + 60
        while 0 not in isolate._children and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(isolate._children[0].proc.pid, signal.SIGKILL)
        killed.append(True)

    killer = threading.Thread(target=kill_the_child_once)
    killer.start()
    first = run_pipeline(config(few_samples, tmp_path))
    killer.join()
    assert killed
    extract = first["stages"]["extract"]
    assert extract["retryable_documents"] >= 1
    assert any("killed by SIGKILL" in e["error"] for e in error_rows(tmp_path / "work"))
    assert "may pass" in summary(first)

    again = run_pipeline(config(few_samples, tmp_path))
    extract = again["stages"]["extract"]
    assert extract["documents"] == 3 and extract["failed_documents"] == 0
    assert extract.get("skipped", 0) == 0  # the partition was done again, not skipped
    assert error_rows(tmp_path / "work") == []
    assert again["stages"]["shard"]["rows"] == 3


def test_a_document_that_failed_for_good_is_tried_again_only_when_asked(
    few_samples, tmp_path, capsys
):
    (few_samples / "broken.pdf").write_bytes(b"%PDF-1.7\nnot really a PDF")
    args = ["run", "--input", str(few_samples), "--work", str(tmp_path / "work"),
            "--out", str(tmp_path / "out"), "--scheduler", "sync",
            "--set", "run.progress=false"]  # fmt: skip
    assert main(args) == 0
    assert "3 ok, 1 failed" in capsys.readouterr().out
    assert main(args) == 0
    assert "1 extract" in capsys.readouterr().out  # skipped: the failure is for good

    # --retry-failed reads it again; the same failure, so the later stages keep their work.
    assert main([*args, "--retry-failed"]) == 0
    out = capsys.readouterr().out
    assert "3 ok, 1 failed" in out and "skipped     0 extract, 1 generate, 1 filter" in out
    assert len(error_rows(tmp_path / "work")) == 1
    rows = sum(pq.read_metadata(f).num_rows for f in (tmp_path / "out" / "data").glob("*"))
    assert rows == 3


def test_documents_the_server_could_not_answer_are_asked_again_by_the_rerun(
    few_samples, tmp_path, server_factory
):
    port = free_port()
    down = server_factory("--port", str(port), "--fault-rate", "1", "--faults", "500")
    sets = [f"generate.base_urls=[\"http://127.0.0.1:{port}/v1\"]", "generate.max_attempts=2",
            "generate.backoff_base=0.05", "generate.backoff_max=0.1",
            "filter.check_language=false"]  # fmt: skip
    cfg = load_config("openai", [f"input={few_samples}", f"work={tmp_path / 'work'}",
                                 f"out={tmp_path / 'out'}", "run.scheduler=sync",
                                 "run.progress=false", *sets])  # fmt: skip
    try:
        run_pipeline(cfg)
    except DocgenError as stop:  # every document failed: the run stops
        assert "generate failed for every document" in str(stop)
    assert down.requests == 3 * 2
    assert ("generate    3 of 3 documents failed, 0 partly (3 may pass: run the same command to "
            "try again)") in summary(WorkDir(cfg.work).manifest())  # fmt: skip
    down.stop()

    up = server_factory("--port", str(port))  # the same server, back
    manifest = run_pipeline(cfg)
    generated = manifest["stages"]["generate"]
    assert generated["failed_documents"] == 0 and generated["pairs"] > 0
    assert up.requests == 3
    assert not [e for e in error_rows(tmp_path / "work") if e["stage"] == "generate"]
