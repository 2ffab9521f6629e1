"""The work directory: Parquet partitions per stage, atomic writes, skip markers, the manifest.

Every partition file carries in its Parquet metadata the fingerprint of the config that made it and
the stats of the task that wrote it, so a rerun can skip it (same fingerprint) and still report
complete counts without reading its rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from docgen.core.storage import arrow_path, location, move

META_KEY = b"docgen"

# The work directory's folders, named here once (a step declares the folder it writes: a pass's
# is in docgen.filter.passes.REGISTRY). The run's own files (manifest.json, .lock) are at the top.
PAGES = "pages"  # extract: page records, a file per partition
DOCUMENTS = "documents"  # extract: where each document's bytes are, what was noticed about it
QA = "qa"  # generate: question-answer pairs
KEPT = "kept"  # the filter's rules: every pair, with keep and reason
DATASET = "dataset"  # the dataset pass's steps: signatures, edges, surplus, verdicts
ERRORS = "errors"  # every step's error rows, <step>-part-<part>.parquet
CACHE = "cache"  # every answer a model gave, a folder per LLM task


def fingerprint(obj) -> str:
    """A short stable hash of any JSON-able object (a config, a list of ids)."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


FAILED_MARK = "+failed-"
RETRY_MARK = "retry-"


def outcome_fingerprint(fp: str, failures: list, may_pass: bool) -> str:
    """The fingerprint a partition file is stored with, by how its inputs fared. All well: ``fp``.
    Some failed for good (not a PDF, encrypted): ``fp`` and a hash of the failures, so a later
    step sees another input when ``--retry-failed`` changes them. Some failed in a way that may
    pass (a killed process, a timeout, a server that did not answer): a mark that never equals
    ``fp``, so a rerun does the partition again (and every later step with it)."""
    if may_pass:
        return f"{RETRY_MARK}{fp}-{time.time_ns()}"
    return f"{fp}{FAILED_MARK}{fingerprint(failures)}" if failures else fp


class WorkDir:
    """Paths and reads/writes inside one work directory: a local folder or an fsspec URL
    (see :mod:`docgen.core.storage`); paths below are ``Path`` or ``UPath`` accordingly."""

    def __init__(self, root: str | Path):
        self.root = location(root)

    def part_path(self, stage: str, part: str) -> Path:
        return self.root / stage / f"part-{part}.parquet"

    def error_path(self, stage: str, part: str) -> Path:
        return self.root / ERRORS / f"{stage}-part-{part}.parquet"

    def parts(self, stage: str) -> list[str]:
        """Ids of the finished partitions of a stage, sorted."""
        folder = self.root / stage
        if not folder.is_dir():
            return []
        return sorted(p.name[5:-8] for p in folder.glob("part-*.parquet"))

    def run_parts(self, stage: str) -> list[str]:
        """The partitions of ``stage`` that belong to the current run: those the last extract
        planned (kept in the manifest), so leftovers of another input set are never mixed in."""
        planned = self.manifest().get("parts")
        existing = self.parts(stage)
        if planned is None:
            return existing
        have = set(existing)
        return [p for p in sorted(planned) if p in have]

    def write(self, path: Path, table: pa.Table, fp: str, stats: dict, row_group=None) -> None:
        """Write a table atomically (temp file, then rename) with its fingerprint and stats
        (in row groups of ``row_group`` rows when given)."""
        meta = dict(table.schema.metadata or {})
        meta[META_KEY] = json.dumps({"fingerprint": fp, "stats": stats}).encode("utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        where, fs = arrow_path(tmp)
        pq.write_table(
            table.replace_schema_metadata(meta),
            where,
            filesystem=fs,
            row_group_size=row_group,
            **encoding_of(table.schema),
        )
        move(tmp, path)

    def writer(self, path: Path, schema: pa.Schema) -> PartWriter:
        """A partition written in pieces (row groups), for outputs too large to hold at once."""
        return PartWriter(path, schema)

    def info(self, path: Path) -> dict:
        """The fingerprint and stats stored in a partition file ({} if missing or unreadable)."""
        try:
            where, fs = arrow_path(path)
            return json.loads((pq.read_metadata(where, filesystem=fs).metadata or {})[META_KEY])
        except (OSError, KeyError, ValueError, pa.ArrowInvalid):
            return {}

    def fingerprint_of(self, path: Path) -> str | None:
        return self.info(path).get("fingerprint")

    def step_fingerprint(self, source: str, part: str, cfg) -> str:
        """What a stage's output depends on: its input partition (by fingerprint) and its config."""
        upstream = self.fingerprint_of(self.part_path(source, part))
        return fingerprint({"input": upstream, "cfg": dataclasses.asdict(cfg)})

    def done(self, path: Path, fp: str, retry_failed: bool = False) -> dict | None:
        """The stats of a finished partition made with fingerprint ``fp``, else None. A partition
        some of whose inputs failed for good (see :func:`outcome_fingerprint`) is finished too,
        unless ``retry_failed``; one with failures that may pass never is."""
        info = self.info(path)
        stored = info.get("fingerprint") or ""
        if stored == fp or (not retry_failed and stored.partition(FAILED_MARK)[0] == fp):
            return info["stats"]
        return None

    def read(self, stage: str, part: str, columns: list[str] | None = None) -> pa.Table:
        return read_table(self.part_path(stage, part), columns=columns)

    def read_errors(self) -> pa.Table | None:
        files = sorted((self.root / ERRORS).glob("*.parquet"))
        return pa.concat_tables([read_table(f) for f in files]) if files else None

    # -- manifest ---------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def manifest(self) -> dict:
        try:
            return json.loads(self.manifest_path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}

    def update_manifest(self, **sections) -> dict:
        """Merge sections into manifest.json (written atomically) and return the result."""
        data = self.manifest()
        data.update(sections)
        data["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), "utf-8")
        move(tmp, self.manifest_path)
        return data


class PartWriter:
    """Rows appended in batches to a temporary file; :meth:`finish` stores the fingerprint and
    stats and renames it into place, :meth:`abort` removes it."""

    def __init__(self, path: Path, schema: pa.Schema):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.schema = path, schema
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        where, fs = arrow_path(self.tmp)
        self.out = pq.ParquetWriter(where, schema, filesystem=fs, **encoding_of(schema))

    def write(self, rows: list[dict] | pa.Table) -> None:
        """Append rows (dicts, or a table already built) as one row group."""
        if isinstance(rows, pa.Table):
            self.out.write_table(rows)
        elif rows:
            self.out.write_table(pa.Table.from_pylist(rows, self.schema))

    def finish(self, fp: str, stats: dict) -> None:
        self.out.add_key_value_metadata(
            {META_KEY: json.dumps({"fingerprint": fp, "stats": stats}).encode("utf-8")}
        )
        self.out.close()
        move(self.tmp, self.path)

    def abort(self) -> None:
        self.out.close()
        self.tmp.unlink(missing_ok=True)


def read_table(path, columns: list[str] | None = None) -> pa.Table:
    """A whole Parquet file, local or remote. Through ParquetFile, not pq.read_table: that
    goes through pyarrow.dataset (5 ms more a file, and its first use imports pandas)."""
    return parquet_file(path).read(columns=columns)


def parquet_file(path) -> pq.ParquetFile:
    """A Parquet file opened for reading row group by row group, local or remote."""
    where, fs = arrow_path(path)
    return pq.ParquetFile(where, filesystem=fs)


# Columns zstd cannot shrink, so it would spend time on both write and read to save nothing:
# already-compressed bytes (rendered page images) and random 32-bit item hashes (the dataset pass).
STORED_AS_IS = {"image", "hashes.list.element"}
# Long values (page images, page texts, Markdown tables): dictionary encoding and min/max
# statistics cost a quarter of a pages file's write time, and nothing reads them back.
LONG_VALUES = {"image", "text", "tables.list.element"}


def encoding_of(schema: pa.Schema) -> dict:
    """ParquetWriter options for a work table: per-column codecs (page images stored as they
    are, everything else zstd); dictionaries for short top-level columns (ids, languages);
    statistics for all but long values."""
    key = schema.remove_metadata().to_string()
    if key not in _encodings:
        buf = pa.BufferOutputStream()
        pq.ParquetWriter(buf, schema.remove_metadata()).close()
        paths = [c.path for c in pq.ParquetFile(pa.BufferReader(buf.getvalue())).schema]
        _encodings[key] = {
            "compression": {p: "NONE" if p in STORED_AS_IS else "ZSTD" for p in paths},
            "use_dictionary": [p for p in paths if "." not in p and p not in LONG_VALUES],
            "write_statistics": [p for p in paths if p not in LONG_VALUES],
        }
    return _encodings[key]


_encodings: dict[str, dict] = {}


def release_memory() -> None:
    """Give freed memory back to the system (Python's heap via glibc, Arrow's pool), so that a
    long-lived worker's footprint follows what it holds now, not the largest thing it once held."""
    import ctypes

    # No gc.collect(): refcounting frees what we drop, and a full collection of a Dask worker's
    # heap costs tens of milliseconds.
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def sum_stats(stats: list[dict]) -> dict:
    """Add up per-partition stats: numbers are summed, dicts of numbers merged and summed,
    strings kept."""
    total: dict = {}
    for s in stats:
        add_stats(total, s)
    return total


def add_stats(total: dict, s: dict) -> None:
    """Add one partition's stats into ``total`` (see ``sum_stats``)."""
    for key, value in s.items():
        if isinstance(value, bool) or key == "part":
            continue
        if isinstance(value, (int, float)):
            total[key] = total.get(key, 0) + value
        elif isinstance(value, str):
            total[key] = value  # e.g. the model a backend used: the same in every partition
        elif isinstance(value, dict):  # counts by name (failures by cause), to any depth
            add_stats(total.setdefault(key, {}), value)
