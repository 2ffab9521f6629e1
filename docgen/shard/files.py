"""Shard files: where shards and row groups end (:class:`Cutter`, :func:`shard_layout`), and
the two ways of writing them — a stream of rows in one process (:class:`SplitWriter`), or one
shard per task from a layout planned in advance (:func:`write_shard`). Both cut with the same
:class:`Cutter`, so they write the same bytes (see :mod:`docgen.shard.stage`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from docgen.core.config import ShardConfig
from docgen.core.storage import arrow_path, location
from docgen.core.streams import prefetched
from docgen.core.workdir import WorkDir
from docgen.shard.configs import ROWS_OF
from docgen.shard.schema import row_schema

# Images are already compressed (PNG/JPEG): compressing them again costs time and saves nothing.
COMPRESSION = {
    "images.list.element.bytes": "NONE",
    "pdf": "ZSTD",  # PDFs hold much uncompressed content (fonts, text streams)
    "images.list.element.path": "ZSTD",
    "texts.list.element.user": "ZSTD",
    "texts.list.element.assistant": "ZSTD",
    "texts.list.element.source": "ZSTD",
    "doc_id": "ZSTD",
    "languages.list.element": "ZSTD",
    "page_numbers.list.element": "ZSTD",
    "generator": "ZSTD",
    "kinds.list.element": "ZSTD",
    "answer_types.list.element": "ZSTD",
}


class Cutter:
    """Where shards and row groups end, decided row by row from sizes alone: a shard is closed
    before the row that would take it past ``max_shard_mb``, a row group after the row that
    takes it to ``row_group_mb``. Both ways of writing shards cut with it, so they agree byte
    for byte."""

    def __init__(self, cfg: ShardConfig):
        self.shard_limit, self.group_limit = cfg.max_shard_mb * 2**20, cfg.row_group_mb * 2**20
        self.shard_size = self.group_size = 0
        self.started = False

    def add(self, size: int) -> tuple[bool, bool]:
        """(whether this row starts a new shard, whether it ends its row group)."""
        full = bool(self.shard_size) and self.shard_size + size > self.shard_limit
        new = not self.started or full
        if new:
            self.started, self.shard_size, self.group_size = True, 0, 0
        self.shard_size += size
        self.group_size += size
        end = self.group_size >= self.group_limit
        if end:
            self.group_size = 0
        return new, end


def shard_layout(sizes: np.ndarray, cfg: ShardConfig) -> list[tuple[int, int, list[int]]]:
    """One split's rows (their sizes, in output order) cut into shards: ``(first row, end,
    row group lengths)`` for each."""
    cut, shards = Cutter(cfg), []
    for at in range(0, len(sizes), 1 << 20):  # Python ints a million at a time
        for i, size in enumerate(sizes[at : at + (1 << 20)].tolist(), at):
            new, end = cut.add(size)
            if new:
                shards.append([i, i, [0]])
            shards[-1][1] = i + 1
            shards[-1][2][-1] += 1
            if end:
                shards[-1][2].append(0)
    return [(first, last, [n for n in groups if n]) for first, last, groups in shards]


def shard_writer(path, cfg: ShardConfig, config: str) -> pq.ParquetWriter:
    where, fs = arrow_path(location(path))
    return pq.ParquetWriter(
        where,
        row_schema(
            cfg.metadata_columns,
            config,
            bool(cfg.rating_columns),
            cfg.answer_boxes,
            cfg.reasoning_column,
        ),
        filesystem=fs,
        compression=COMPRESSION,
        use_dictionary=["texts.list.element.source"],
    )


class SplitWriter:
    """The shards of one split written as a stream, in this process: rows are gathered into row
    groups and shards as :class:`Cutter` says. Shards are staged under numbers."""

    def __init__(self, split: str, staging, cfg: ShardConfig, config: str):
        self.split, self.staging, self.cfg, self.config = split, staging, cfg, config
        self.cut, self.count, self.writer = Cutter(cfg), 0, None
        self.group: list[pa.Table] = []

    def add(self, rows: pa.Table, sizes: list[int]) -> None:
        first = 0  # rows[first:i] belong to the current group but are not yet in self.group
        for i, size in enumerate(sizes):
            new, end = self.cut.add(size)
            if new:
                self.gather(rows, first, i)
                first = i
                self.close()
                self.writer = shard_writer(staged(self.staging, self.split, self.count), self.cfg,
                                           self.config)  # fmt: skip
                self.count += 1
            if end:
                self.gather(rows, first, i + 1)
                first = i + 1
                self.flush()
        self.gather(rows, first, rows.num_rows)

    def gather(self, rows: pa.Table, a: int, b: int) -> None:
        if b > a:
            self.group.append(rows.slice(a, b - a))

    def flush(self) -> None:
        """Write the rows gathered so far as one row group."""
        if self.group:
            write_group(self.writer, self.group)
        self.group = []

    def close(self) -> None:
        if self.writer is not None:
            self.flush()
            self.writer.close()
        self.writer = None


def write_group(writer: pq.ParquetWriter, tables: list[pa.Table]) -> None:
    table = pa.concat_tables(tables)
    writer.write_table(table, row_group_size=max(1, table.num_rows))


def staged(staging, split: str, number: int):
    """Where shard ``number`` of a split waits until every shard is written."""
    return staging / f"{split}-{number:05d}.parquet"


def write_shard(work: str, path, cfg: ShardConfig, config: str,
                wanted: dict[str, np.ndarray], groups: list[int]) -> None:  # fmt: skip
    """Write one shard: the rows ``wanted`` of each partition (ascending row numbers,
    partitions in output order) in row groups of ``groups`` rows (from :func:`shard_layout`).
    The partitions it draws on are read again chunk by chunk and only its rows are taken, so
    at most a chunk and a row group are in memory (a task of the shard stage's second pass on
    the workers)."""
    wd, path = WorkDir(work), location(path)

    def shard_chunks():
        """This shard's rows, a chunk at a time, in output order."""
        for part, rows in wanted.items():
            chunks, _ = ROWS_OF[config](wd, part, cfg)
            first = 0  # index of the chunk's first row in the partition
            for table, _, _ in chunks:
                last = first + table.num_rows
                mine = rows[(rows >= first) & (rows < last)] - first
                first = last
                if mine.size and mine[-1] - mine[0] + 1 == mine.size:
                    yield table.slice(int(mine[0]), int(mine.size))  # contiguous: no copy
                elif mine.size:
                    yield table.take(pa.array(mine, pa.int64()))

    group_sizes = iter(groups)
    need, gathered = next(group_sizes), []
    with shard_writer(path, cfg, config) as writer:
        # Chunks are read and cut two ahead in a thread while the current one is written
        # (reading and writing Parquet let go of the GIL).
        for table in prefetched(shard_chunks(), 2):
            while table.num_rows and need:
                taken = table.slice(0, need)
                gathered.append(taken)
                need -= taken.num_rows
                table = table.slice(taken.num_rows)
                if need == 0:
                    write_group(writer, gathered)
                    need, gathered = next(group_sizes, 0), []
    if need or gathered:  # the inputs changed since the plan: never write a short shard
        path.unlink(missing_ok=True)
        raise RuntimeError(f"{path.name}: rows missing from the work directory; run shard again")
