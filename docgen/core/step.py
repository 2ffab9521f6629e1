"""The step contract: every step that writes a file per partition of the work directory.

A step declares its name and the folder it writes (:class:`Step`). For a partition it gives the
fingerprint of everything its output depends on and a ``run`` that returns an :class:`Output`:
the table, the counts, the error rows, whether failures may pass. :func:`run_step` does the
rest, the same way for extract, generate, the filter's rules, every pass and the dataset pass's
sub-steps:

- the skip: a file there made with that fingerprint gives its stored counts, nothing is run;
- the fingerprint the file is stored under, by how its inputs fared (all well: the
  fingerprint; failures for good: marked, so ``--retry-failed`` does them again; failures that
  may pass or work left undone: a mark no rerun takes as done —
  :func:`docgen.core.workdir.outcome_fingerprint`);
- the atomic writes: the step's other files first, its own last, so that its file is the mark
  of a finished partition;
- the counts, with the seconds it took (a core's: times ``Output.cores``).

A step that makes several partitions at once (generate asks an LLM about many partitions in one
task, to keep its batch full) uses the two halves, :func:`done` and :func:`store`.

    EXAMPLE = Step("example", "example")

    def example_partition(work, part, cfg):
        wd = WorkDir(work)
        fp = fingerprint([wd.fingerprint_of(wd.part_path(KEPT, part)), cfg.setting])
        return run_step(wd, EXAMPLE, part, fp, lambda: Output(make_table(wd, part), {"rows": 1}))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from docgen.core.workdir import PartWriter, WorkDir, outcome_fingerprint

ERROR_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("source", pa.string()),
        ("page", pa.int32()),
        ("stage", pa.string()),
        ("error", pa.string()),
    ]
)


@dataclass(frozen=True)
class Step:
    """A step as the work directory knows it: its name (its error rows go to
    ``WORK/errors/<name>-part-<part>.parquet``) and the folder of its files
    (``WORK/<folder>/part-<part>.parquet``)."""

    name: str
    folder: str
    schema: pa.Schema | None = None  # given: the file is written in pieces (run gets a writer)
    row_group: int | None = None  # rows per row group of files written whole (None: one)

    def path(self, wd: WorkDir, part: str):
        return wd.part_path(self.folder, part)


@dataclass
class Output:
    """What a step's run made of one partition."""

    table: pa.Table | None  # its file (None: written in pieces to the writer run was given)
    counts: dict  # what the task reports; stored in the file too
    errors: list[dict] | None = None  # rows of ERROR_SCHEMA; None: the step keeps no error file
    may_pass: bool = False  # some failures may pass, or work was left undone: a rerun does it
    stored: dict = field(default_factory=dict)  # stored in the file only (e.g. a pass's input)
    # folder -> table, or a function making it (made when written, then dropped: a step whose
    # other files are large holds one at a time): the partition's other files
    beside: dict = field(default_factory=dict)
    # Processes the task kept busy on average (an extract task reading with several children):
    # its ``seconds`` are a core's, the time it took times this (``docgen plan`` scales them).
    cores: float = 1.0


def done(wd: WorkDir, step: Step, part: str, fp: str, retry_failed: bool = False) -> dict | None:
    """The stored counts of ``part``'s file when made with fingerprint ``fp`` (failures for good
    count as done unless ``retry_failed``), else None."""
    return wd.done(step.path(wd, part), fp, retry_failed)


def run_step(
    wd: WorkDir,
    step: Step,
    part: str,
    fp: str,
    run: Callable[..., Output],
    retry_failed: bool = False,
    skipped: Callable[[dict], dict] | None = None,
) -> dict:
    """Step ``step`` over ``part``: its stored counts if done with ``fp`` (passed through
    ``skipped``, by default marked ``skipped: 1``); else ``run()`` (``run(writer)`` for a step
    written in pieces, the writer removed if run fails) and its output stored. Returns the
    counts."""
    if (stats := done(wd, step, part, fp, retry_failed)) is not None:
        return skipped(stats) if skipped else {**stats, "skipped": 1}
    start = time.perf_counter()
    if step.schema is None:
        return store(wd, step, part, fp, run(), time.perf_counter() - start)
    writer = wd.writer(step.path(wd, part), step.schema)
    try:
        out = run(writer)
        return store(wd, step, part, fp, out, time.perf_counter() - start, writer)
    except BaseException:
        writer.abort()
        raise


def store(wd: WorkDir, step: Step, part: str, fp: str, out: Output, seconds: float,
          writer: PartWriter | None = None) -> dict:  # fmt: skip
    """Write ``out`` as ``part``'s files of ``step`` (made with fingerprint ``fp``, in
    ``seconds``); return its counts."""
    counts = {**out.counts, "seconds": round(seconds * out.cores, 3)}
    stats = {**counts, **out.stored}
    fp = outcome_fingerprint(fp, out.errors or [], out.may_pass)
    for folder, table in out.beside.items():
        table = table() if callable(table) else table
        wd.write(wd.part_path(folder, part), table, fp, stats, step.row_group)
    if out.errors is not None:
        errors = pa.Table.from_pylist(out.errors, ERROR_SCHEMA)
        wd.write(wd.error_path(step.name, part), errors, fp, stats)
    if writer is not None:
        writer.finish(fp, stats)
    else:
        wd.write(step.path(wd, part), out.table, fp, stats, step.row_group)
    return counts
