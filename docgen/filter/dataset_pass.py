"""The dataset pass: near-duplicate pages and pairs across the whole dataset, as steps over files.

Each step is a set of tasks whose outputs are files under ``WORK/dataset/``, so no process holds
the corpus (the way datatrove's MinHash deduplication runs):

1. ``signatures``, a task per partition: each page's (and each pair's) item hashes, exact digest
   and LSH band keys, numbered in the fixed order of the dataset (partition, then row);
2. ``shuffle``, a task per block of partitions: their members, read once, written a file per
   LSH band ordered by share of the band's keys (:mod:`docgen.filter.dataset_edges`);
3. ``edges``, a task per LSH band and share of its bucket keys (more shares when the members
   are many): the members sharing a bucket, and for each the oldest earlier member of its
   bucket at the similarity threshold (or, for an exact copy, its first copy);
4. ``surplus``, one task: clusters from those edges, which only name members that have a
   near-duplicate; a member's place in its cluster says whether it is a surplus copy;
5. ``apply``, a task per partition: the partition's verdicts, ``WORK/dataset/verdicts/``
   (the view of :mod:`docgen.filter.passes` joins them to kept's rows).

The pairs' steps run after the pages' surplus is known: pairs on surplus pages never enter them.
The verdicts are those of :class:`docgen.filter.dedup.Clusters` filled in the same order: a member
joins the cluster of its oldest similar earlier member (the oldest over all bands is the oldest of
each band's oldest), exact copies join their first copy's; whatever the number of workers.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pyarrow as pa

from docgen.core.config import FilterConfig
from docgen.core.errors import RunFailed
from docgen.core.executor import Executor
from docgen.core.step import Output, Step, run_step
from docgen.core.workdir import DATASET, WorkDir, fingerprint, parquet_file, read_table
from docgen.filter import passes
from docgen.filter.dataset_edges import blocks, edges, shuffle
from docgen.filter.dataset_members import KINDS, ROW_BITS, folder, signatures, similarity
from docgen.filter.dedup import lsh_bands

DATASET_REASONS = ("near_duplicate_page", "duplicate_pair")  # decided here, not per partition
MEMBERS_PER_TASK = 1_000_000  # an edges task's share of a band (~0.3 KB a member)
SURPLUS_ROW_GROUP = 8192  # an apply task reads the row groups of its own numbers only
SIGNED = Step("signed", DATASET)  # the partitions signed, with their signatures' fingerprints
SURPLUS = {kind: Step("surplus", folder(kind, "surplus"), row_group=SURPLUS_ROW_GROUP)
           for kind in KINDS}  # fmt: skip


def dedup_dataset(work: str, parts: list[str], cfg: FilterConfig, ex: Executor | None = None):
    """Mark pairs on surplus near-duplicate pages and surplus copies of a pair across the
    dataset: each partition's verdicts go to ``WORK/dataset/verdicts/``. Returns the drops it
    decided.
    Every step runs as tasks of ``ex`` (by default here, one after another); a step whose
    output is there with the same fingerprint is not run again."""
    if not parts or (not cfg.max_page_copies and not cfg.max_pair_copies):
        return Counter()
    ex = ex or Executor()
    run = [(work, part, i, cfg) for i, part in enumerate(parts)]
    signed = ex.map(signatures, run, "dataset: signatures")
    # The partitions and their signatures' fingerprints go to the shuffle tasks as a file: sent
    # with each task, the lists were unpickled and kept by the scheduler (its last 100
    # computations), ~150 bytes a partition per task.
    wd = WorkDir(work)
    fps = fingerprints(signed)
    listing = fingerprint([parts, fps])
    table = pa.table({"part": pa.array(parts, pa.string()), "fingerprint": fps})
    run_step(wd, SIGNED, "signed", listing, lambda: Output(table, {}))
    surplus_fp: dict = {}
    for kind, copies in (("page", cfg.max_page_copies), ("pair", cfg.max_pair_copies)):
        if not copies:
            continue
        # Each band's buckets split by key so that a task holds MEMBERS_PER_TASK at most; the
        # members shuffled into those shares a block of partitions at a time.
        counts = [r[f"{kind}s"] for r in signed]
        n = max(1, math.ceil(sum(counts) / MEMBERS_PER_TASK))
        spans = blocks(kind, counts)
        args = [(work, kind, span, n, listing, cfg, surplus_fp.get("page")) for span in spans]
        shuffled = fingerprint(fingerprints(ex.map(shuffle, args, f"dataset: {kind} shuffle")))
        tasks = [(band, (i, n)) for band in range(len(lsh_bands(similarity(cfg, kind))))
                 for i in range(n)]  # fmt: skip
        args = [(work, kind, band, split, spans, shuffled, cfg) for band, split in tasks]
        edge_fps = fingerprints(ex.map(edges, args, f"dataset: {kind} buckets"))
        files = [f"{band}-{i}" for band, (i, _) in tasks]
        result = ex.map(surplus, [(work, kind, files, edge_fps, copies)])
        surplus_fp[kind] = fingerprints(result)[0]
    marks = [surplus_fp.get("page"), surplus_fp.get("pair"), cfg.max_page_copies,
             cfg.max_pair_copies]  # fmt: skip
    run = [(work, part, i, cfg, marks) for i, part in enumerate(parts)]
    verdicts = ex.total(apply, run, "dataset: verdicts")
    fingerprints([verdicts])
    return Counter(verdicts.get("drops", {}))


def fingerprints(results: list[dict]) -> list:
    """Each task's output fingerprint; a task the cluster could not finish stops the pass (a
    rerun resumes: finished steps are not run again)."""
    if any(r.get("failed_tasks") for r in results):
        raise RunFailed("the dataset pass lost a task to failing workers: run again to resume")
    return [r.get("fingerprint") for r in results]


# -- 4. surplus ------------------------------------------------------------------------------


def surplus(work: str, kind: str, files: list[str], edge_fps: list[str], copies: int) -> dict:
    """Write the members beyond the first ``copies`` of their cluster; return the fingerprint.
    Only members with an edge are held: the others are alone and never surplus."""
    wd = WorkDir(work)
    fp = fingerprint([edge_fps, copies])
    run_step(wd, SURPLUS[kind], "all", fp, lambda: beyond_first(wd, kind, files, copies))
    return {"fingerprint": fp}


def beyond_first(wd: WorkDir, kind: str, files: list[str], copies: int) -> Output:
    """:func:`surplus`' table."""
    found = pa.concat_tables([read_table(wd.part_path(folder(kind, "edges"), f)) for f in files])
    child, parent = found["child"].to_numpy(), found["parent"].to_numpy()
    nodes = np.unique(np.concatenate([child, parent]))  # sorted: oldest first
    up = np.arange(nodes.size)
    np.minimum.at(up, np.searchsorted(nodes, child), np.searchsorted(nodes, parent))
    while True:  # parents are older than their children: follow them up to each cluster's first
        higher = up[up]
        if np.array_equal(higher, up):
            break
        up = higher
    by_cluster = np.argsort(up, kind="stable")  # each cluster's members, oldest first
    clusters = up[by_cluster]
    first = np.flatnonzero(np.r_[True, clusters[1:] != clusters[:-1]])
    place = np.arange(nodes.size) - np.repeat(first, np.diff(np.r_[first, nodes.size]))
    beyond = np.sort(nodes[by_cluster[place >= copies]])
    table = pa.table({"order": pa.array(beyond, pa.int64())})
    return Output(table, {"surplus": len(beyond)})


def surplus_in(wd: WorkDir, kind: str, index: int) -> np.ndarray:
    """The surplus members of the partition at ``index``, as their rows: only the row groups
    whose numbers can hold them are read (a task per partition reading all would make the
    step's reads grow with partitions x surplus)."""
    base, end = index << ROW_BITS, (index + 1) << ROW_BITS
    file = parquet_file(wd.part_path(folder(kind, "surplus"), "all"))
    found = [np.empty(0, np.int64)]
    for g in range(file.metadata.num_row_groups):
        stats = file.metadata.row_group(g).column(0).statistics
        if stats is None or not stats.has_min_max or (stats.min < end and stats.max >= base):
            orders = file.read_row_group(g, columns=["order"])["order"].to_numpy()
            found.append(orders[(orders >= base) & (orders < end)] - base)
    return np.concatenate(found)


# -- 5. apply --------------------------------------------------------------------------------


def apply(work: str, part: str, index: int, cfg: FilterConfig, marks: list) -> dict:
    """Write a partition's verdicts (kept's reasons and this pass's), run by
    :func:`docgen.filter.passes.run_pass` (nothing when done from the same surplus lists); return
    the drops this pass decided."""
    wd = WorkDir(work)

    def make(kept: pa.Table):
        surplus_pages: set = set()
        if cfg.max_page_copies:
            rows = surplus_in(wd, "page", index)
            if rows.size:
                signed = read_table(wd.part_path(folder("page", "signatures"), part),
                                    columns=["doc_id", "page"]).take(pa.array(rows))  # fmt: skip
                surplus_pages = set(zip(signed["doc_id"].to_pylist(), signed["page"].to_pylist()))
        surplus_pairs = (
            set(surplus_in(wd, "pair", index).tolist()) if cfg.max_pair_copies else set()
        )
        reasons, drops = [], Counter()
        for n, row in enumerate(kept.select(["doc_id", "pages", "reason"]).to_pylist()):
            verdict = row["reason"]
            if verdict is None and any((row["doc_id"], p) in surplus_pages for p in row["pages"]):
                verdict = "near_duplicate_page"
            if verdict is None and n in surplus_pairs:
                verdict = "duplicate_pair"
            reasons.append(verdict)
            if verdict in DATASET_REASONS:
                drops[verdict] += 1
        table = pa.table({"keep": pa.array([r is None for r in reasons], pa.bool_()),
                          "reason": pa.array(reasons, pa.string())})  # fmt: skip
        return table, table, {"drops": dict(drops)}, True

    return passes.run_pass(
        wd, "dataset", part, marks, make, lambda stats: {"drops": stats["drops"]}
    )
