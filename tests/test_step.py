"""The step contract (docgen.core.step): the skip, the stored fingerprint by outcome, the order of
writes, a file written in pieces removed when its run fails."""

import pyarrow as pa
import pytest

from docgen.core.step import Output, Step, done, run_step
from docgen.core.workdir import FAILED_MARK, RETRY_MARK, WorkDir

STEP = Step("example", "example")
ROWS = pa.table({"x": [1, 2]})
ERROR = {"doc_id": "d", "source": "d.pdf", "page": None, "stage": "example", "error": "bad"}


def test_a_step_runs_once_then_skips_with_its_counts(tmp_path):
    wd = WorkDir(tmp_path)
    runs = []

    def run():
        runs.append(1)
        return Output(ROWS, {"rows": 2}, errors=[], beside={"other": ROWS})

    first = run_step(wd, STEP, "a", "fp1", run)
    assert first["rows"] == 2 and "seconds" in first
    assert run_step(wd, STEP, "a", "fp1", run) == {**first, "skipped": 1}
    assert len(runs) == 1
    assert wd.read("other", "a") == ROWS and wd.read_errors().num_rows == 0
    run_step(wd, STEP, "a", "fp2", run)  # another fingerprint: run again
    assert len(runs) == 2


def test_failures_for_good_are_done_unless_retried_and_those_that_may_pass_never(tmp_path):
    wd = WorkDir(tmp_path)
    run_step(wd, STEP, "a", "fp", lambda: Output(ROWS, {}, errors=[ERROR]))
    assert FAILED_MARK in wd.fingerprint_of(STEP.path(wd, "a"))
    assert done(wd, STEP, "a", "fp") is not None
    assert done(wd, STEP, "a", "fp", retry_failed=True) is None
    assert wd.read_errors()["error"].to_pylist() == ["bad"]
    run_step(wd, STEP, "b", "fp", lambda: Output(ROWS, {}, may_pass=True))
    assert wd.fingerprint_of(STEP.path(wd, "b")).startswith(RETRY_MARK)
    assert done(wd, STEP, "b", "fp") is None


def test_a_file_written_in_pieces_is_there_only_when_its_run_ends(tmp_path):
    wd = WorkDir(tmp_path)
    pieces = Step("pieces", "pieces", schema=ROWS.schema)

    def fails(writer):
        writer.write(ROWS)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_step(wd, pieces, "a", "fp", fails)
    assert not any((tmp_path / "pieces").iterdir())  # no file, no temporary file

    def writes(writer):
        writer.write(ROWS)
        writer.write(ROWS)
        return Output(None, {"rows": 4})

    run_step(wd, pieces, "a", "fp", writes)
    assert wd.read("pieces", "a").num_rows == 4
    assert done(wd, pieces, "a", "fp")["rows"] == 4
