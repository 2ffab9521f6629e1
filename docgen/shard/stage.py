"""Shard stage: kept pairs and page images to Docmatix-style Parquet shards and a dataset card.

One row per document (split into rows of at most ``max_pages_per_row`` pages): ``images`` is a list
of ``{bytes, path}`` structs, ``texts`` a list of ``{user, assistant, source}``. Rows are written
in row groups of about ``row_group_mb`` and shards are cut at about ``max_shard_mb``, so no shard
has to fit in memory. Where shards and row groups end depends on the rows' sizes alone
(:class:`docgen.shard.files.Cutter`), whether the rows stream through this process in one pass
or the workers write a shard per task from a layout planned in advance, so the output is
deterministic: the same kept pairs give byte-identical shards either way, however many workers
write them.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from docgen.core.config import ShardConfig
from docgen.core.errors import RunFailed
from docgen.core.executor import Executor
from docgen.core.storage import is_local, location, move, remove_tree
from docgen.core.streams import prefetched
from docgen.core.workdir import KEPT, WorkDir, parquet_file
from docgen.filter.passes import joined
from docgen.shard.card import write_card
from docgen.shard.chat import write_dataset_info
from docgen.shard.configs import ROWS_OF
from docgen.shard.files import SplitWriter, shard_layout, staged, write_shard
from docgen.shard.schema import CONFIG_DIRS, shard_name


def plan_partition(work: str, part: str, cfg: ShardConfig, config: str) -> dict:
    """What one partition gives a config, without reading its images: each row's size and
    split, in order, and the partition's counts (a task of the shard stage's first pass)."""
    chunks, stats = ROWS_OF[config](WorkDir(work), part, cfg, with_bytes=False)
    sizes, splits = [], []
    for _, chunk_sizes, chunk_splits in chunks:
        sizes += chunk_sizes
        splits += chunk_splits
    names = sorted(set(splits))  # arrays, not lists of Python objects: the driver holds them all
    codes = {name: k for k, name in enumerate(names)}
    return {
        "sizes": np.array(sizes, np.int64),
        "split_names": names,
        "split_codes": np.array([codes[s] for s in splits], np.uint8),
        "stats": dict(stats),
    }


def write_shards(work: str, out: str, cfg: ShardConfig, ex: Executor | None = None) -> dict:
    """Write ``OUT/data/SPLIT-XXXXX-of-YYYYY.parquet`` (``OUT/pdf/…`` with ``shard.pdf_config``,
    ``OUT/messages/…`` and ``OUT/sharegpt/SPLIT/…`` with ``shard.chat_configs``) and
    ``OUT/README.md``; return stats.

    On the Dask cluster of ``ex``, in two passes of tasks: each partition's rows are sized
    without reading the images, the shards are laid out from the sizes alone, then each shard is
    written by a task of its own, which reads the partitions it draws on; workers read and write
    WORK and OUT themselves and no image passes through here. Without a cluster, in one pass in
    this process (no executor: no progress bar). Both cut with
    :class:`docgen.shard.files.Cutter`: the same bytes either way.
    """
    wd, out = WorkDir(work), location(out)
    start = time.perf_counter()
    if cfg.rating_columns is None:  # the rating columns when the pairs were rated
        cfg = replace(cfg, rating_columns=rated(wd))
    staging = out / ".staging"
    remove_tree(staging)
    configs = ["default", *(["pdf"] if cfg.pdf_config else []), *cfg.chat_configs]
    for config in configs:
        (staging / config).mkdir(parents=True, exist_ok=True)
    ex = ex or Executor()
    write = on_workers if ex.client is not None else in_process
    stats, counts = write(ex, wd, staging, cfg, configs)
    # Every shard is written: name them, replacing any of an earlier run.
    names: dict[str, dict[str, list[str]]] = {}  # config -> split -> shard file names
    for config, folder in CONFIG_DIRS.items():
        remove_tree(out / folder)
        if config in configs:
            (out / folder).mkdir(parents=True, exist_ok=True)
            names[config] = {}
            for split, n in sorted(counts.get(config, {}).items()):
                names[config][split] = [shard_name(config, split, i, n) for i in range(n)]
                for i, name in enumerate(names[config][split]):
                    (out / folder / name).parent.mkdir(parents=True, exist_ok=True)
                    move(staged(staging / config, split, i), out / folder / name)
    remove_tree(staging)
    data, default = out / "data", names.get("default", {})
    shards = [n for split in sorted(default) for n in default[split]]
    result = {
        "rows": stats["rows"],
        "pairs": stats["pairs"],
        "images": stats["images"],
        "rows_without_pairs": stats["rows_without_pairs"],
        "pairs_pages_apart": stats["pairs_pages_apart"],  # cited pages no row can hold
        "shards": shards,
        "splits": split_summary(data, default, stats, "rows"),
        "bytes": sum((data / n).stat().st_size for n in shards),
        "languages": {k[5:]: v for k, v in sorted(stats.items()) if k.startswith("lang:")},
        # shard.answer_boxes: how the answers were found on their pages (exact, fuzzy, not_found)
        **(
            {
                "answers_located": {
                    k[8:]: v for k, v in sorted(stats.items()) if k.startswith("answers_")
                }
            }
            if cfg.answer_boxes
            else {}
        ),  # fmt: skip
        "seconds": round(time.perf_counter() - start, 3),
    }
    if "pdf" in configs:
        pdf_splits = split_summary(out / "pdf", names.get("pdf", {}), stats, "pdf_rows")
        result["pdf"] = {
            "rows": sum(s["rows"] for s in pdf_splits.values()),
            "splits": pdf_splits,
            "missing": stats["pdf_missing"],
        }
    for config in cfg.chat_configs:
        chat_splits = split_summary(out / config, names.get(config, {}), stats, f"{config}_rows")
        result[config] = {"rows": sum(s["rows"] for s in chat_splits.values()),
                          "splits": chat_splits}  # fmt: skip
    (out / "dataset_info.json").unlink(missing_ok=True)
    if "sharegpt" in cfg.chat_configs:
        write_dataset_info(out, sorted(names.get("sharegpt", {})))
    train = default.get("train") or shards
    write_card(out, result, wd.manifest(), cfg, example=first_example(data, train))
    return result


def rated(wd: WorkDir) -> bool:
    """Whether the kept pairs carry ratings (``filter.rate`` ran)."""
    parts = wd.run_parts(KEPT)
    rating = "rating_relevance"
    return bool(parts) and rating in joined(wd, parts[0], [rating]).schema.names


def shard_on_workers(cfg: ShardConfig, scheduler: str | None, work: str, out: str) -> bool:
    """Whether the shard stage runs as tasks on the cluster (``shard.on_workers``; by default
    when the cluster is an existing one or WORK or OUT is a URL). On one machine, streaming in
    the driver once the workers are gone writes at the disk's speed with the least memory."""
    if scheduler == "sync":
        return False
    if cfg.on_workers is not None:
        return cfg.on_workers
    external = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    return bool(external) or not (is_local(location(work)) and is_local(location(out)))


def on_workers(ex: Executor, wd: WorkDir, staging, cfg: ShardConfig, configs: list[str]):
    """Plan on the workers, lay out here, write a shard per task; (stats, shard counts)."""
    work, parts = str(wd.root), wd.run_parts(KEPT)
    plan_args = [(work, part, cfg, config) for config in configs for part in parts]
    plans = all_done(ex.map(plan_partition, plan_args, "shard: plan"))
    stats: Counter = Counter()
    tasks, counts = [], {}
    for config in configs:
        mine = [(args[1], plan) for args, plan in zip(plan_args, plans) if args[3] == config]
        for _, plan in mine:
            stats.update(plan["stats"])
        for split in sorted({s for _, plan in mine for s in plan["split_names"]}):
            # The split's rows in output order, as arrays: partition (its place in `mine`),
            # row in the partition, size.
            taken = [(k, np.flatnonzero(p["split_codes"] == p["split_names"].index(split)))
                     for k, (_, p) in enumerate(mine) if split in p["split_names"]]  # fmt: skip
            part_of = np.concatenate([np.full(rows.size, k, np.int32) for k, rows in taken])
            row_of = np.concatenate([rows for _, rows in taken])
            sizes = np.concatenate([mine[k][1]["sizes"][rows] for k, rows in taken])
            shards = shard_layout(sizes, cfg)
            counts.setdefault(config, {})[split] = len(shards)
            for i, (first, end, groups) in enumerate(shards):
                parts, rows = part_of[first:end], row_of[first:end]
                wanted = {mine[k][0]: rows[parts == k] for k in dict.fromkeys(parts.tolist())}
                path = str(staged(staging / config, split, i))
                tasks.append((work, path, cfg, config, wanted, groups))
    all_done(ex.map(write_shard, tasks, "shard"))
    return stats, counts


def in_process(ex: Executor, wd: WorkDir, staging, cfg: ShardConfig, configs: list[str]):
    """Every partition's rows streamed into the split writers; (stats, shard counts)."""
    from tqdm import tqdm

    def chunks():
        """Every partition's chunks of rows, config by config; after a partition's chunks of a
        config, its counts (complete only once its chunks were read)."""
        for part in wd.run_parts(KEPT):
            for config in configs:
                part_chunks, part_stats = ROWS_OF[config](wd, part, cfg)
                for chunk in part_chunks:
                    yield config, chunk, None
                yield config, None, part_stats

    stats: Counter = Counter()
    writers: dict[tuple[str, str], SplitWriter] = {}
    bar = tqdm(desc="shard", unit="row", disable=not ex.progress, delay=0.5)
    # Chunks are read two ahead in a thread while the current one is written (reading and
    # writing Parquet let go of the GIL); at most three chunks of rows are in memory.
    for config, chunk, part_stats in prefetched(chunks(), 2):
        if chunk is None:
            stats.update(part_stats)
            bar.update(part_stats["rows"] if config == "default" else 0)
            continue
        rows, sizes, splits = chunk
        for split in sorted(set(splits)):
            key = (config, split)
            if key not in writers:
                writers[key] = SplitWriter(split, staging / config, cfg, config)
            if len(set(splits)) == 1:  # the usual case: no copy
                writers[key].add(rows, sizes)
                continue
            mask = [s == split for s in splits]
            chosen = [n for n, m in zip(sizes, mask) if m]
            writers[key].add(rows.filter(pa.array(mask)), chosen)
    bar.close()
    counts: dict = {}
    for (config, split), writer in writers.items():
        writer.close()
        counts.setdefault(config, {})[split] = writer.count
    return stats, counts


def all_done(results: list) -> list:
    """The results of a shard pass, unless a task kept killing its workers: shards are all or
    nothing, so the stage stops (the work directory is untouched; run it again)."""
    failed = [name for r in results if isinstance(r, dict) for name in r.get("failed", {})]
    if failed:
        raise RunFailed(
            f"shard: {len(failed)} task(s) failed, their workers died ({', '.join(failed[:3])}); "
            "nothing was published: run shard again"
        )
    return results


def split_summary(folder: Path, split_names: dict, stats: Counter, counter: str) -> dict:
    """Rows, bytes and shard count of each split of one config."""
    return {
        split: {
            "rows": stats[f"{counter}:{split}"],
            "bytes": sum((folder / n).stat().st_size for n in names),
            "shards": len(names),
        }
        for split, names in sorted(split_names.items())
    }


def first_example(data: Path, names: list[str]) -> dict | None:
    if not names:
        return None
    table = parquet_file(data / names[0]).read_row_group(0, columns=["texts"])
    texts = table.column("texts")[0].as_py()
    return texts[0] if texts else None
