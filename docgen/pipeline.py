"""The whole flow: extract, generate, filter, shard; each stage skips partitions already done."""

from __future__ import annotations

import platform
import time
from dataclasses import asdict

from docgen import __version__
from docgen.config import RunConfig
from docgen.extract import extract_partition, plan
from docgen.filters import filter_partition
from docgen.generate import generate_partition
from docgen.orchestrate import cluster, map_stage
from docgen.shard import write_shards
from docgen.workdir import WorkDir, sum_stats


def run_extract(client, cfg: RunConfig) -> dict:
    parts, duplicates = plan(cfg.input, cfg.extract.docs_per_partition)
    args = [(cfg.work, part, docs, cfg.extract) for part, docs in parts]
    stats = sum_stats(map_stage(client, extract_partition, args, "extract", cfg.run.progress))
    return {**stats, "partitions": len(parts), "duplicate_inputs": duplicates}


def run_over_parts(client, cfg: RunConfig, stage: str, source: str, fn, stage_cfg) -> dict:
    parts = WorkDir(cfg.work).parts(source)
    args = [(cfg.work, part, stage_cfg) for part in parts]
    stats = sum_stats(map_stage(client, fn, args, stage, cfg.run.progress))
    return {**stats, "partitions": len(parts)}


def run_pipeline(cfg: RunConfig) -> dict:
    """Run every stage and return the manifest (also written to ``WORK/manifest.json``)."""
    if not cfg.input:
        raise SystemExit("no input: give PDF files or folders (config `input:`)")
    wd = WorkDir(cfg.work)
    start = time.perf_counter()
    stages, timings = {}, {}
    wd.update_manifest(
        config=asdict(cfg), versions={"docgen": __version__, "python": platform.python_version()}
    )
    with cluster(cfg.run.scheduler, cfg.run.workers) as client:
        for name, step in [
            ("extract", lambda: run_extract(client, cfg)),
            (
                "generate",
                lambda: run_over_parts(
                    client, cfg, "generate", "pages", generate_partition, cfg.generate
                ),
            ),
            (
                "filter",
                lambda: run_over_parts(client, cfg, "filter", "qa", filter_partition, cfg.filter),
            ),
        ]:
            t = time.perf_counter()
            stages[name] = step()
            timings[name] = round(time.perf_counter() - t, 2)
            wd.update_manifest(stages=stages, timings=timings)
    t = time.perf_counter()
    stages["shard"] = write_shards(cfg.work, cfg.out, cfg.shard, cfg.run.progress)
    timings["shard"] = round(time.perf_counter() - t, 2)
    timings["total"] = round(time.perf_counter() - start, 2)
    return wd.update_manifest(stages=stages, timings=timings)


def summary(manifest: dict) -> str:
    """The closing summary printed after a run."""
    s, t = manifest.get("stages", {}), manifest.get("timings", {})
    ex, ge, fi, sh = (s.get(k, {}) for k in ("extract", "generate", "filter", "shard"))
    dropped = ", ".join(f"{k} {v}" for k, v in sorted(fi.get("dropped", {}).items())) or "none"
    return "\n".join(
        [
            "docgen run summary",
            f"  documents   {ex.get('documents', 0)} ok, {ex.get('failed_documents', 0)} failed, "
            f"{ex.get('duplicate_inputs', 0)} duplicate inputs",
            f"  pages       {ex.get('pages', 0)} ({ex.get('failed_pages', 0)} failed)",
            f"  pairs       {ge.get('pairs', 0)} generated, {fi.get('kept', 0)} kept",
            f"  dropped     {dropped}",
            f"  rows        {sh.get('rows', 0)} in {len(sh.get('shards', []))} shard(s)",
            f"  skipped     {ex.get('skipped', 0)} extract, {ge.get('skipped', 0)} generate, "
            f"{fi.get('skipped', 0)} filter partitions already done",
            f"  time        {t.get('total', 0):.1f} s",
        ]
    )
