"""The dataset pass: near-duplicate pages and pairs across the whole dataset, as steps over files.

Each step is a set of tasks whose outputs are files under ``WORK/dataset/``, so no process holds
the corpus (the way datatrove's MinHash deduplication runs):

1. ``signatures``, a task per partition: each page's (and each pair's) item hashes, exact digest
   and LSH band keys, numbered in the fixed order of the dataset (partition, then row);
2. ``edges``, a task per LSH band (and share of its bucket keys, when the members are many):
   the members sharing a bucket, and for each the oldest earlier member of its bucket at the
   similarity threshold (or, for an exact copy, its first copy);
3. ``surplus``, one task: clusters from those edges, which only name members that have a
   near-duplicate; a member's place in its cluster says whether it is a surplus copy;
4. ``apply``, a task per partition: the partition's verdicts, ``WORK/dataset/verdicts/``
   (the view of :mod:`docgen.passes` joins them to kept's rows).

The pairs' steps run after the pages' surplus is known: pairs on surplus pages never enter them.
The verdicts are those of :class:`docgen.dedup.Clusters` filled in the same order: a member joins
the cluster of its oldest similar earlier member (the oldest over all bands is the oldest of each
band's oldest), exact copies join their first copy's; whatever the number of workers.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter

import numpy as np
import pyarrow as pa

from docgen import passes
from docgen.config import FilterConfig
from docgen.dedup import (
    MIN_PAGE_TOKENS,
    Store,
    band_keys,
    item_hashes,
    lsh_bands,
    oldest_similar_each,
)
from docgen.orchestrate import map_reduce, map_stage
from docgen.text import ngrams, tokens
from docgen.workdir import WorkDir, fingerprint, parquet_file, read_table

DATASET_REASONS = ("near_duplicate_page", "duplicate_pair")  # decided here, not per partition
KINDS = ("page", "pair")
ROW_BITS = 32  # a member's number: its partition's place in the run << ROW_BITS | its row
MEMBERS_PER_TASK = 1_000_000  # an edges task's share of a band (~0.3 KB a member)
SURPLUS_ROW_GROUP = 8192  # an apply task reads the row groups of its own numbers only


def folder(kind: str, step: str) -> str:
    return f"dataset/{kind}-{step}"


def dedup_dataset(work: str, parts: list[str], cfg: FilterConfig, client=None, progress=False):
    """Mark pairs on surplus near-duplicate pages and surplus copies of a pair across the
    dataset: each partition's verdicts go to ``WORK/dataset/verdicts/``. Returns the drops it
    decided.
    Every step runs as tasks (on the Dask workers when there is a ``client``); a step whose
    output is there with the same fingerprint is not run again."""
    if not parts or (not cfg.max_page_copies and not cfg.max_pair_copies):
        return Counter()
    run = [(work, part, i, cfg) for i, part in enumerate(parts)]
    signed = map_stage(client, signatures, run, "dataset: signatures", progress)
    # The partitions and their signatures' fingerprints go to the edges tasks as a file: sent
    # with each task, the lists were unpickled and kept by the scheduler (its last 100
    # computations), ~150 bytes a partition per task.
    wd = WorkDir(work)
    fps = fingerprints(signed)
    listing = fingerprint([parts, fps])
    if wd.done(wd.part_path("dataset", "signed"), listing) is None:
        table = pa.table({"part": pa.array(parts, pa.string()), "fingerprint": fps})
        wd.write(wd.part_path("dataset", "signed"), table, listing, {})
    surplus_fp: dict = {}
    for kind, copies in (("page", cfg.max_page_copies), ("pair", cfg.max_pair_copies)):
        if not copies:
            continue
        # Each band's buckets split by key so that a task holds MEMBERS_PER_TASK at most.
        n = max(1, math.ceil(sum(r[f"{kind}s"] for r in signed) / MEMBERS_PER_TASK))
        tasks = [(band, (i, n)) for band in range(len(lsh_bands(similarity(cfg, kind))))
                 for i in range(n)]  # fmt: skip
        args = [(work, kind, band, split, listing, cfg, surplus_fp.get("page"))
                for band, split in tasks]  # fmt: skip
        edge_fps = fingerprints(
            map_stage(client, edges, args, f"dataset: {kind} buckets", progress)
        )
        files = [f"{band}-{i}" for band, (i, _) in tasks]
        result = map_stage(client, surplus, [(work, kind, files, edge_fps, copies)], "", False)
        surplus_fp[kind] = fingerprints(result)[0]
    marks = [surplus_fp.get("page"), surplus_fp.get("pair"), cfg.max_page_copies,
             cfg.max_pair_copies]  # fmt: skip
    run = [(work, part, i, cfg, marks) for i, part in enumerate(parts)]
    verdicts = map_reduce(client, apply, run, "dataset: verdicts", progress)
    fingerprints([verdicts])
    return Counter(verdicts.get("drops", {}))


def fingerprints(results: list[dict]) -> list:
    """Each task's output fingerprint; a task the cluster could not finish stops the pass (a
    rerun resumes: finished steps are not run again)."""
    if any(r.get("failed_tasks") for r in results):
        raise SystemExit("the dataset pass lost a task to failing workers: run again to resume")
    return [r.get("fingerprint") for r in results]


def similarity(cfg: FilterConfig, kind: str) -> float:
    return cfg.page_similarity if kind == "page" else cfg.pair_similarity


# -- 1. signatures ---------------------------------------------------------------------------


def signatures(work: str, part: str, index: int, cfg: FilterConfig) -> dict:
    """Write a partition's page and pair signatures; return their fingerprint."""
    wd = WorkDir(work)
    fp = fingerprint([wd.fingerprint_of(wd.part_path(s, part)) for s in ("pages", "kept")]
                     + [index, cfg.page_similarity, cfg.pair_similarity, ROW_BITS])  # fmt: skip
    paths = {kind: wd.part_path(folder(kind, "signatures"), part) for kind in KINDS}
    done = [wd.done(paths[kind], fp) for kind in KINDS]
    if None not in done:
        return {"fingerprint": fp, "pages": done[0]["members"], "pairs": done[1]["members"]}
    base = index << ROW_BITS
    pages = wd.read("pages", part, columns=["doc_id", "page", "text"]).to_pylist()
    page_rows, page_sets, page_of = [], [], {}
    for row in pages:
        words = tokens(row["text"] or "")
        if words:  # word 3-grams; a short page's words (MIN_PAGE_TOKENS in docgen.dedup)
            page_of[(row["doc_id"], row["page"])] = base + len(page_rows)
            page_rows.append({"doc_id": row["doc_id"], "page": row["page"]})
            page_sets.append(ngrams(words, 3) if len(words) >= MIN_PAGE_TOKENS else set(words))
    page_table = signature_table(base, page_sets, cfg.page_similarity)
    for name in ("doc_id", "page"):
        page_table = page_table.append_column(name, pa.array([r[name] for r in page_rows]))
    pair_sets, pair_orders, on_pages = [], [], []
    for n, row in enumerate(kept_rows(wd, part)):
        if row["reason"] is not None:  # dropped by a rule of its partition: not a copy
            continue
        items = set(tokens(row["question"])) | {f"a:{t}" for t in tokens(row["answer"])}
        if items:
            pair_sets.append(items)
            pair_orders.append(base + n)
            on_pages.append([page_of[k] for page in row["pages"]
                             if (k := (row["doc_id"], page)) in page_of])  # fmt: skip
    pair_table = signature_table(np.asarray(pair_orders, np.int64), pair_sets, cfg.pair_similarity)
    pair_table = pair_table.append_column("on_pages", pa.array(on_pages, pa.list_(pa.int64())))
    wd.write(paths["page"], page_table, fp, {"members": page_table.num_rows})
    wd.write(paths["pair"], pair_table, fp, {"members": pair_table.num_rows})
    return {"fingerprint": fp, "pages": page_table.num_rows, "pairs": pair_table.num_rows}


def kept_rows(wd: WorkDir, part: str) -> list[dict]:
    columns = ["doc_id", "pages", "question", "answer", "keep", "reason"]
    return wd.read("kept", part, columns=columns).to_pylist()


def signature_table(orders, sets: list[set], threshold: float) -> pa.Table:
    """Members' numbers (``orders``: an array, or the first number of consecutive ones), exact
    digests, one column of 8-byte keys per LSH band, and sorted item hashes."""
    hashes = [item_hashes(s) for s in sets]
    if isinstance(orders, int):
        orders = orders + np.arange(len(sets), dtype=np.int64)
    bands = len(lsh_bands(threshold))
    keys = np.array([np.frombuffer(b"".join(band_keys(h, threshold)), np.uint64) for h in hashes],
                    np.uint64).reshape(len(hashes), bands)  # fmt: skip
    flat = np.concatenate(hashes) if hashes else np.empty(0, np.uint32)
    offsets = np.concatenate([[0], np.cumsum([h.size for h in hashes], dtype=np.int64)])
    columns = {
        "order": pa.array(orders, pa.int64()),
        "digest": pa.array([digest(h) for h in hashes], pa.binary(16)),
        **{f"band_{b}": pa.array(keys[:, b], pa.uint64()) for b in range(bands)},
        "hashes": pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(flat, pa.uint32())),
    }
    return pa.table(columns)


def digest(hashes: np.ndarray) -> bytes:
    """A set's exact digest (as :meth:`docgen.dedup.Clusters.add_hashes` takes it)."""
    return hashlib.blake2b(hashes.tobytes(), digest_size=16).digest()


# -- 2. edges --------------------------------------------------------------------------------


def edges(work, kind, band, split, listing, cfg, page_surplus) -> dict:
    """Write, for one LSH band's buckets whose key falls in ``split`` (``(i, n)``: keys equal
    to i modulo n), each member's oldest similar earlier member of its bucket (``child``,
    ``parent``); return the file's fingerprint. A task holds its share of the members only;
    those alone in their bucket (most of them) cost a key, a number and a digest, and hashes
    are read for the others only."""
    wd = WorkDir(work)
    threshold = similarity(cfg, kind)
    fp = fingerprint([listing, kind, band, split, threshold, page_surplus])
    path = wd.part_path(folder(kind, "edges"), f"{band}-{split[0]}")
    if wd.done(path, fp) is not None:
        return {"fingerprint": fp}
    parts = read_table(wd.part_path("dataset", "signed"), columns=["part"])["part"].to_pylist()
    paths = [wd.part_path(folder(kind, "signatures"), part) for part in parts]
    columns = ["order", "digest", f"band_{band}"] + (["on_pages"] if kind == "pair" else [])
    surplus_pages = np.empty(0, np.int64)  # sorted: looked up by bisection, file by file
    if kind == "pair" and page_surplus is not None:  # pairs on surplus pages are not members
        surplus_pages = read_table(wd.part_path(folder("page", "surplus"), "all"))["order"]
        surplus_pages = surplus_pages.to_numpy()
    found = {"place": [], "order": [], "key": [], "digest": []}
    starts = [0]  # where each file's rows begin, the files end to end
    for file in paths:
        table = read_table(file, columns=columns)
        key = table.column(f"band_{band}").to_numpy()
        mine = key % np.uint64(split[1]) == split[0]
        if surplus_pages.size:
            on_pages = table.column("on_pages").combine_chunks()
            pages = on_pages.values.to_numpy()
            hit = surplus_pages[np.minimum(np.searchsorted(surplus_pages, pages),
                                           surplus_pages.size - 1)] == pages  # fmt: skip
            mine[np.repeat(np.arange(len(key)), np.diff(on_pages.offsets.to_numpy()))[hit]] = False
        rows = np.flatnonzero(mine)
        found["place"].append(starts[-1] + rows)
        found["order"].append(table.column("order").to_numpy()[rows])
        found["key"].append(key[rows])
        found["digest"].append(table.column("digest").take(pa.array(rows)))
        starts.append(starts[-1] + len(key))
    place, order, key = (np.concatenate(found[k]) for k in ("place", "order", "key"))
    digest = pa.chunked_array(found.pop("digest"), pa.binary(16))
    by_bucket = np.lexsort((order, key))  # by bucket, oldest first
    key = key[by_bucket]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[first, key.size])
    shared = by_bucket[np.repeat(sizes >= 2, sizes)]  # members with company, bucket by bucket
    digests = digest.take(pa.array(shared)).to_pylist()
    children, parents, buckets = [], [], []
    at = 0
    for size in sizes[sizes >= 2].tolist():
        firsts, distinct = {}, []
        for m, d in zip(shared[at : at + size].tolist(), digests[at : at + size]):
            if d in firsts:  # an exact copy joins its first copy (docgen.dedup.Clusters.add_hashes)
                if band == 0:  # copies share a bucket in every band: said once, not per band
                    children.append(order[m])
                    parents.append(order[firsts[d]])
            else:
                firsts[d] = m
                distinct.append(m)
        if len(distinct) >= 2:
            buckets.append(distinct)
        at += size
    need = np.unique(np.concatenate(buckets)) if buckets else np.empty(0, np.int64)
    store = gather(paths, np.asarray(starts), place[need])  # members are in place order
    for bucket in buckets:
        slots = np.searchsorted(need, bucket).tolist()  # oldest first, as in the bucket
        for j, slot in oldest_similar_each(slots, store, threshold):
            children.append(order[bucket[j]])
            parents.append(order[need[slot]])
    edge_table = pa.table({"child": pa.array(children, pa.int64()),
                           "parent": pa.array(parents, pa.int64())})  # fmt: skip
    wd.write(path, edge_table, fp, {"edges": edge_table.num_rows})
    return {"fingerprint": fp}


def gather(paths: list, starts: np.ndarray, rows: np.ndarray) -> Store:
    """The item hashes of the members at ``rows`` (sorted places in the files end to end), in
    that order, read a file at a time."""
    flats, sizes = [], []
    which = np.searchsorted(starts, rows, side="right") - 1
    for f in np.unique(which).tolist():
        column = read_table(paths[f], columns=["hashes"]).column("hashes").combine_chunks()
        taken = column.take(pa.array(rows[which == f] - starts[f]))
        flats.append(taken.flatten().to_numpy())
        sizes.append(np.diff(taken.offsets.to_numpy()))
    if not flats:
        return Store()
    return Store.of(np.concatenate(flats), np.concatenate(sizes))


# -- 3. surplus ------------------------------------------------------------------------------


def surplus(work: str, kind: str, files: list[str], edge_fps: list[str], copies: int) -> dict:
    """Write the members beyond the first ``copies`` of their cluster; return the fingerprint.
    Only members with an edge are held: the others are alone and never surplus."""
    wd = WorkDir(work)
    fp = fingerprint([edge_fps, copies])
    path = wd.part_path(folder(kind, "surplus"), "all")
    if wd.done(path, fp) is not None:
        return {"fingerprint": fp}
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
    wd.write(path, table, fp, {"surplus": len(beyond)}, row_group=SURPLUS_ROW_GROUP)
    return {"fingerprint": fp}


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


# -- 4. apply --------------------------------------------------------------------------------


def apply(work: str, part: str, index: int, cfg: FilterConfig, marks: list) -> dict:
    """Write a partition's verdicts (kept's reasons and this pass's), run by
    :func:`docgen.passes.run_pass` (nothing when done from the same surplus lists); return the
    drops this pass decided."""
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
