"""The whole flow: extract, generate, filter, shard; each stage skips partitions already done."""

from __future__ import annotations

import os
import platform
import sys
import time
from contextlib import ExitStack, nullcontext
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa

from docgen import __version__
from docgen.core.config import RunConfig, local, settle_paths
from docgen.core.config_check import check_config
from docgen.core.errors import RunFailed, UsageError
from docgen.core.executor import Executor
from docgen.core.lock import work_lock
from docgen.core.step import ERROR_SCHEMA
from docgen.core.storage import check_writable
from docgen.core.workdir import KEPT, PAGES, QA, WorkDir, add_stats, release_memory
from docgen.extract import isolate, ocr
from docgen.extract.stage import error_row, extract_partition, lanes_for, plan
from docgen.filter import passes
from docgen.filter.llm_pass import llm_pass_parts
from docgen.filter.rules import filter_partition
from docgen.generate.stage import generate_parts
from docgen.run.llm_workers import budget_left, check_generate, in_waves, llm_workers, task_groups
from docgen.run.orchestrate import cluster
from docgen.run.outcome import (
    budget_stop,
    check_generated,
    check_kept,
    check_llm_pass,
    kept_counts,
    nothing_done,
)
from docgen.run.reasons import failure_causes, in_one_line
from docgen.shard.stage import shard_on_workers, write_shards


def run_extract(ex: Executor, cfg: RunConfig) -> dict:
    skip = tuple(Path(p).resolve() for p in (cfg.work, cfg.out) if local(p))
    parts, counts = plan(cfg.input, cfg.extract.docs_per_partition, cfg.extract.max_file_mb, skip,
                         cfg.extract.partition_mb, cfg.run.limit)  # fmt: skip
    wd = WorkDir(cfg.work)
    unreadable = counts.pop("unreadable")
    if not parts and not unreadable:
        raise UsageError(
            f"no PDFs in {', '.join(cfg.input)} (searched for *.pdf, *.tar shards, *.parquet "
            "and list files; WORK and OUT are left out)"
        )
    wd.write(wd.error_path("extract", "inputs"), pa.Table.from_pylist(unreadable, ERROR_SCHEMA),
             "", {"unreadable_inputs": len(unreadable)})  # fmt: skip
    if cfg.extract.ocr != "off" and (message := ocr.missing_message(cfg.extract.ocr_languages)):
        print(f"extract: {message}")  # said once for the run, not once per page
    # Largest partitions first, so that no worker is left with a big one at the end.
    parts.sort(key=lambda p: -sum(src.size for _, src in p[1]))
    lanes = lanes_for(len(parts), ex.workers)
    args = [
        (cfg.work, part, docs, cfg.extract, cfg.run.retry_failed, lanes) for part, docs in parts
    ]
    wd.update_manifest(parts=sorted(part for part, _ in parts))
    stats: dict = {}

    def arrived(i: int, result: dict) -> None:  # added up as they arrive: nothing kept per task
        add_stats(stats, result)
        if result.get("failed_tasks"):  # kept killing workers: every document gets its error row
            part, docs = parts[i]
            reason = "the worker running this partition died each time it was tried; rerun to retry"
            rows = [error_row(doc_id, src.name, None, reason) for doc_id, src in docs]
            wd.write(wd.error_path("extract", part), pa.Table.from_pylist(rows, ERROR_SCHEMA), "",
                     {"failed": len(rows)})  # fmt: skip

    docs = (
        sum(len(d) for _, d in parts),
        lambda r: r.get("documents", 0) + r.get("failed_documents", 0),
    )
    ex.run(extract_partition, args, "extract", arrived, docs)
    # The isolation children (a few hundred MB each) are not needed by the later stages. Best
    # effort: a worker that cannot be reached now keeps its child, and the run goes on.
    ex.each_worker(end_extraction)
    stats = {**stats, **counts, "unreadable_inputs": len(unreadable), "partitions": len(parts)}
    if not stats.get("documents"):  # nothing to go on with: not an empty dataset
        failed = stats.get("failed_documents", 0) + len(unreadable)
        raise RunFailed(f"every document failed ({failed}): {in_one_line(failure_causes(cfg.work))}"
                        f"; the rest in {cfg.work}/errors")  # fmt: skip
    return stats


def end_extraction() -> None:
    """Stop this process's isolation child and give back what extraction left freed."""
    isolate.stop_child()
    release_memory()


def run_llm_pass(cfg: RunConfig, parts: list[str], name: str, llm: Executor, budget=None) -> dict:
    """An LLM pass over the kept partitions (the judge, the rater, the translator) on the
    generate backend's workers ``llm`` (see :func:`docgen.run.llm_workers.llm_workers`), spending at
    most ``budget`` tokens (shared out evenly between its tasks)."""
    groups = task_groups(parts, cfg, llm.workers)
    share = None if budget is None else max(0, budget) // max(1, len(groups))
    args = [(cfg.work, group, cfg.generate, cfg.filter, share, name) for group in groups]
    return llm.total(llm_pass_parts, args, name)


def run_generate(ex: Executor, cfg: RunConfig, llm: Executor | None = None) -> dict:
    """The generate stage (on ``llm``, from :func:`docgen.run.llm_workers.llm_workers`, or workers
    of its own); with a token budget, tasks go in waves and stop once it is spent."""
    if llm is None:
        with llm_workers(ex, cfg.generate) as llm:
            return run_generate(ex, cfg, llm)
    parts = WorkDir(cfg.work).run_parts(PAGES)
    g = cfg.generate
    groups = task_groups(parts, cfg, llm.workers)
    # The bar counts documents: those the extract stage made pages of.
    extracted = WorkDir(cfg.work).manifest().get("stages", {}).get("extract", {})
    docs = (extracted.get("documents"), lambda r: r.get("documents", 0))

    def args_of(group: list[str], share: int | None) -> tuple:
        return (cfg.work, group, g) if share is None else (cfg.work, group, g, share)

    stats = in_waves(llm, generate_parts, groups, args_of, "generate", g.token_budget, docs)
    stats = {**stats, "partitions": len(parts)}
    unfinished = len(parts) - stats.get("finished_parts", 0)
    if unfinished:
        stats["unfinished_partitions"] = unfinished
    return stats


def run_filter(ex: Executor, cfg: RunConfig, llm: Executor | None = None) -> dict:
    """The partition rules over every partition, then the passes the config turns on, in the
    order of :data:`docgen.filter.passes.REGISTRY`: the dataset pass (near-duplicates across the
    whole dataset, its own steps of tasks over files), then the LLM passes (judge, rating,
    translation) on the generate backend's workers ``llm``; counts are taken after all."""
    wd = WorkDir(cfg.work)
    parts = wd.run_parts(QA)
    stats = ex.total(filter_partition, [(cfg.work, part, cfg.filter) for part in parts], "filter")
    stats["partitions"] = len(parts)
    parts = wd.run_parts(KEPT)
    # What the shard stage joins to kept's rows from now on (docgen.filter.passes).
    wd.update_manifest(**{passes.MANIFEST_KEY: passes.active(cfg.filter)})
    t = time.perf_counter()
    llm_passes_of(cfg)
    left = budget_left(cfg)
    with ExitStack() as stack:
        for name in passes.active(cfg.filter):  # in the registry's order, as the view joins them
            p = passes.BY_NAME[name]
            if p.whole:  # its own steps over the whole dataset (the dataset pass)
                p.function(cfg.work, parts, cfg.filter, ex)
                continue
            if p.local:  # a task per partition, no model (benchmark images, unanswerable pairs)
                p.prepared(cfg.work, cfg.filter)
                args = [(cfg.work, part, cfg.filter) for part in parts]
                stats[name] = ex.total(p.function, args, name)
                continue
            if llm is None:  # the generate backend's workers, made for the first LLM pass
                check_generate(cfg)
                llm = stack.enter_context(llm_workers(ex, cfg.generate))
            stats[name] = run_llm_pass(cfg, parts, name, llm, left)
            check_llm_pass(name, stats[name])
            spent = stats[name].get("prompt_tokens", 0) + stats[name].get("completion_tokens", 0)
            left = None if left is None else left - spent
            if stats[name].get("failures", {}).get("budget"):  # the rest waits for a rerun
                stats["budget_stopped"] = name
                break
    stats = {**stats, **kept_counts(wd, parts),
             "dataset_pass_seconds": round(time.perf_counter() - t, 3)}  # fmt: skip
    if not stats.get("budget_stopped"):
        check_kept(stats)
    return stats


def run_pipeline(cfg: RunConfig) -> dict:
    """Run every stage and return the manifest (also written to ``WORK/manifest.json``)."""
    start(cfg, "run")
    check_writable(cfg.out)
    with work_lock(cfg.work):  # a second run on this WORK refuses, in one line
        return run_stages(cfg)


STAGES = {"extract": run_extract, "generate": run_generate, "filter": run_filter}


def run_stage(cfg: RunConfig, name: str) -> dict:
    """One stage alone (``docgen extract``, ``generate``, ``filter``), started as a run starts;
    its counts go into the manifest. Returns them."""
    start(cfg, name)
    with (
        work_lock(cfg.work),
        cluster(cfg.run.scheduler, cfg.run.workers, cfg.run.dashboard) as client,
    ):
        stats = STAGES[name](Executor(client, cfg.run.progress), cfg)
    wd = WorkDir(cfg.work)
    wd.update_manifest(stages={**wd.manifest().get("stages", {}), name: stats}, config=asdict(cfg))
    return stats


def llm_passes_of(cfg: RunConfig) -> list[str]:
    """The filter's LLM passes ``cfg`` turns on, in order; one the generate backend cannot run
    (``rules``: no model) is refused in one line."""
    names = [name for name in passes.active(cfg.filter) if name in passes.LLM_PASSES]
    if names and cfg.generate.backend not in ("openai", "vllm"):
        raise UsageError(
            f"filter's {names[0]} needs an LLM: set generate.backend to openai or vllm"
        )
    return names


def start(cfg: RunConfig, name: str) -> None:
    """What a run, or a stage alone, checks before any work: every config value (a config built
    in code is not loaded), the inputs (extract), the model's server (generate), WORK writable;
    paths made absolute, so that every worker reads the same ones."""
    check_config(cfg)
    if name in ("run", "filter"):
        llm_passes_of(cfg)  # not after hours of extraction
    if name in ("run", "extract"):
        check_inputs(cfg)
    settle_paths(cfg)
    if name in ("run", "generate"):
        check_generate(cfg)
    check_writable(cfg.work)


def check_inputs(cfg: RunConfig) -> None:
    """Inputs given, and those on this machine there, before WORK and OUT are made."""
    if not cfg.input:
        raise UsageError("no input: give PDF files or folders (--input, or the config's `input:`)")
    missing = [p for p in cfg.input if local(p) and not os.path.exists(os.path.expanduser(p))]
    if missing:
        raise UsageError(f"input not found: {missing[0]}")


def run_stages(cfg: RunConfig) -> dict:
    wd = WorkDir(cfg.work)
    start = time.perf_counter()
    stages, timings = {}, {}
    wd.update_manifest(
        stopped=None,
        config=asdict(cfg),
        versions={"docgen": __version__, "python": platform.python_version()},
    )
    on_workers = shard_on_workers(cfg.shard, cfg.run.scheduler, cfg.work, cfg.out)

    def timed(name: str, step) -> dict:
        t = time.perf_counter()
        stages[name] = step()
        timings[name] = round(time.perf_counter() - t, 2)
        wd.update_manifest(stages=stages, timings=timings)
        if cfg.run.progress and (line := nothing_done(name, stages[name])):
            print(line, file=sys.stderr)
        return stages[name]

    uses_llm = cfg.generate.backend in ("openai", "vllm")
    with cluster(cfg.run.scheduler, cfg.run.workers, cfg.run.dashboard) as client:
        ex = Executor(client, cfg.run.progress)
        timed("extract", lambda: run_extract(ex, cfg))
        # The generate backend's workers (and engines) serve the filter's LLM passes too.
        with llm_workers(ex, cfg.generate) if uses_llm else nullcontext(ex) as llm:
            generated = timed("generate", lambda: run_generate(ex, cfg, llm))
            check_generated(generated)
            if generated.get("unfinished_partitions"):
                where = f"{generated['unfinished_partitions']} partition(s) not generated"
                return budget_stop(wd, cfg, stages, timings, start, where)
            filtered = timed("filter", lambda: run_filter(ex, cfg, llm if uses_llm else None))
            if filtered.get("budget_stopped"):
                where = f"during the filter's {filtered['budget_stopped']}, no shards written"
                return budget_stop(wd, cfg, stages, timings, start, where)
        if on_workers:
            timed("shard", lambda: write_shards(cfg.work, cfg.out, cfg.shard, ex))
    if not on_workers:  # streamed through this process, once the workers and their memory are gone
        t = time.perf_counter()
        stages["shard"] = write_shards(cfg.work, cfg.out, cfg.shard, Executor(None, ex.progress))
        timings["shard"] = round(time.perf_counter() - t, 2)
    timings["total"] = round(time.perf_counter() - start, 2)
    return wd.update_manifest(stages=stages, timings=timings)
