"""Why documents failed and pairs were dropped, as a short table for the screen.

The run's error rows (``WORK/errors/``, this run's partitions only) grouped by reason, most
common first, each with one example source; the drops come from the filter's counts. The summary
after a run, the one line a run that produced nothing stops with, and ``docgen report`` use them.
"""

from __future__ import annotations

import re
from collections import Counter

from docgen.core.workdir import WorkDir, parquet_file

TOP = 3
MOST_REASONS = 1000  # distinct reasons kept in memory; the rest counted together
# What varies from one document to the next inside a reason: which pages were left undone.
PAGES_LEFT = re.compile(r"; pages \d+-\d+ not extracted$")


def failure_causes(work, stages=("extract", "generate")) -> list[tuple[str, str, int, str]]:
    """``(stage, reason, count, example source)`` for the run's failed documents and pages,
    most common first. One error file per partition is looked at: callers ask only when the
    stages' counts say something failed."""
    wd = WorkDir(work)
    parts = wd.manifest().get("parts") or []
    counts: Counter = Counter()
    example: dict = {}
    for stage in stages:
        names = [*parts, "inputs"] if stage == "extract" else parts
        for part in names:
            path = wd.error_path(stage, part)
            if not path.exists():
                continue
            errors = parquet_file(path)
            if not errors.metadata.num_rows:  # most partitions: read the footer, not the rows
                continue
            for row in errors.read(columns=["source", "error"]).to_pylist():
                key = (stage, PAGES_LEFT.sub("", row["error"] or "unknown")[:120])
                if key not in counts and len(counts) >= MOST_REASONS:
                    key = (stage, "other reasons")  # a reason per document: counted, not kept
                counts[key] += 1
                example.setdefault(key, row["source"])
    return [(s, printable(r), n, printable(example[(s, r)]))
            for (s, r), n in counts.most_common()]  # fmt: skip


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """A file name or a server's words as the terminal may show them: control characters (an
    escape sequence, a newline in a file name) written as \\xNN, not obeyed."""
    return CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", str(text))


def cause_lines(causes: list, indent: str = "    ", top: int = TOP) -> list[str]:
    """The most common causes, one line each, and where the rest are."""
    lines = [f"{indent}{n} × {reason} ({stage}; e.g. {source})"
             for stage, reason, n, source in causes[:top]]  # fmt: skip
    if len(causes) > top:
        rest = sum(n for *_, n, _ in causes[top:])
        lines.append(f"{indent}{rest} more, {len(causes) - top} other reason(s): WORK/errors/")
    return lines


def drop_lines(dropped: dict, indent: str = "    ", top: int = TOP) -> list[str]:
    """The most common reasons pairs were dropped, one line each."""
    ranked = sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = [f"{indent}{n} × {reason}" for reason, n in ranked[:top]]
    if len(ranked) > top:
        rest = sum(n for _, n in ranked[top:])
        lines.append(f"{indent}{rest} more, {len(ranked) - top} other reason(s): docgen report")
    return lines


def in_one_line(causes: list, top: int = TOP) -> str:
    """The most common causes, for a one-line error."""
    said = "; ".join(f"{n} × {reason} (e.g. {source})" for _, reason, n, source in causes[:top])
    return said or "no reason recorded"
