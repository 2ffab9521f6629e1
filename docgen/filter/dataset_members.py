"""The dataset pass's first two steps (see :mod:`docgen.filter.dataset_pass`): each partition's
members with their signatures, and each LSH band's buckets turned into edges to the oldest similar
earlier member."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

from docgen.core.config import FilterConfig
from docgen.core.step import Output, Step, run_step
from docgen.core.text import tokens
from docgen.core.workdir import DATASET, KEPT, PAGES, WorkDir, fingerprint, read_table
from docgen.filter.dedup import (
    Store,
    band_keys,
    item_hashes,
    lsh_bands,
    oldest_similar_each,
    page_hashes,
)

KINDS = ("page", "pair")
ROW_BITS = 32  # a member's number: its partition's place in the run << ROW_BITS | its row
# 3: pages' 3-grams hashed by dedup.page_hashes; 2: the files store {"pages", "pairs"} (1:
# {"members"}, read no more)
SIGNATURE_LAYOUT = 3


def folder(kind: str, step: str) -> str:
    return f"{DATASET}/{kind}-{step}"


# The pages' signatures are written beside the pairs': the pairs' file marks a partition signed.
SIGNATURES = Step("signatures", folder("pair", "signatures"))
EDGES = {kind: Step("edges", folder(kind, "edges")) for kind in KINDS}


def similarity(cfg: FilterConfig, kind: str) -> float:
    return cfg.page_similarity if kind == "page" else cfg.pair_similarity


# -- 1. signatures ---------------------------------------------------------------------------


def signatures(work: str, part: str, index: int, cfg: FilterConfig) -> dict:
    """Write a partition's page and pair signatures; return their fingerprint."""
    wd = WorkDir(work)
    inputs = [wd.fingerprint_of(wd.part_path(s, part)) for s in (PAGES, KEPT)]
    fp = fingerprint([*inputs, index, cfg.page_similarity, cfg.pair_similarity, ROW_BITS,
                      SIGNATURE_LAYOUT])  # fmt: skip
    counts = run_step(wd, SIGNATURES, part, fp, lambda: sign(wd, part, index, cfg))
    return {"fingerprint": fp, "pages": counts["pages"], "pairs": counts["pairs"]}


def sign(wd: WorkDir, part: str, index: int, cfg: FilterConfig) -> Output:
    """The signatures of a partition's pages and kept pairs."""
    base = index << ROW_BITS
    pages = wd.read(PAGES, part, columns=["doc_id", "page", "text"]).to_pylist()
    page_rows, page_sets, page_of = [], [], {}
    for row in pages:
        words = tokens(row["text"] or "")
        if words:  # word 3-grams; a short page's words (docgen.filter.dedup.page_hashes)
            page_of[(row["doc_id"], row["page"])] = base + len(page_rows)
            page_rows.append({"doc_id": row["doc_id"], "page": row["page"]})
            page_sets.append(page_hashes(words))
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
    pair_hashes = [item_hashes(s) for s in pair_sets]
    pair_table = signature_table(np.asarray(pair_orders, np.int64), pair_hashes,
                                 cfg.pair_similarity)  # fmt: skip
    pair_table = pair_table.append_column("on_pages", pa.array(on_pages, pa.list_(pa.int64())))
    counts = {"pages": page_table.num_rows, "pairs": pair_table.num_rows}
    return Output(pair_table, counts, beside={folder("page", "signatures"): page_table})


def kept_rows(wd: WorkDir, part: str) -> list[dict]:
    columns = ["doc_id", "pages", "question", "answer", "keep", "reason"]
    return wd.read(KEPT, part, columns=columns).to_pylist()


def signature_table(orders, hashes: list[np.ndarray], threshold: float) -> pa.Table:
    """Members' numbers (``orders``: an array, or the first number of consecutive ones), exact
    digests, one column of 8-byte keys per LSH band, and sorted item hashes (``hashes``)."""
    if isinstance(orders, int):
        orders = orders + np.arange(len(hashes), dtype=np.int64)
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
    """A set's exact digest (as :meth:`docgen.filter.dedup.Clusters.add_hashes` takes it)."""
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
    run_step(wd, EDGES[kind], f"{band}-{split[0]}", fp,
             lambda: find_edges(wd, kind, band, split, threshold, page_surplus))  # fmt: skip
    return {"fingerprint": fp}


def find_edges(wd: WorkDir, kind, band, split, threshold, page_surplus) -> Output:
    """:func:`edges`' table."""
    parts = read_table(wd.part_path(DATASET, "signed"), columns=["part"])["part"].to_pylist()
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
            if (
                d in firsts
            ):  # an exact copy joins its first copy (docgen.filter.dedup.Clusters.add_hashes)
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
    return Output(edge_table, {"edges": edge_table.num_rows})


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
