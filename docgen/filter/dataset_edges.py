"""The dataset pass's steps 2 and 3 (see :mod:`docgen.filter.dataset_pass`): the signatures
shuffled into each LSH band's key shares, and each share's buckets turned into edges to the
oldest similar earlier member.

Why a shuffle: a band's buckets are split by key into ``n`` shares so that an edges task holds
``MEMBERS_PER_TASK`` members at most, and ``n`` grows with the dataset. Read straight from the
partitions' signature files, every share read every partition's file: reads grew as shares x
partitions, the pass's one super-linear term. The shuffle reads each signature file once, in
blocks of consecutive partitions, and writes for each band one file a block with the members
ordered by share, their item hashes beside them; an edges task reads, from each block's file of
its band, only the row groups that hold its share (by the share column's min/max statistics).
Reads grow as shares x blocks, blocks of ``BLOCK_MEMBERS`` members, and the data read is each
member once a band."""

from __future__ import annotations

from functools import partial

import numpy as np
import pyarrow as pa

from docgen.core.step import Output, Step, run_step
from docgen.core.workdir import DATASET, WorkDir, fingerprint, parquet_file, read_table
from docgen.filter.dataset_members import KINDS, folder, similarity
from docgen.filter.dedup import Store, lsh_bands, oldest_similar_each

# A shuffle task's members: a block's item hashes are held whole, and copied once for the band
# being written (a page's are ~1.2 KB, a pair's ~60 bytes: ~20 and ~8 MB a copy).
BLOCK_MEMBERS = {"page": 16_384, "pair": 131_072}
SHARE_ROW_GROUP = 8192  # rows per row group of a shuffled file: what an edges task skips by
EDGES = {kind: Step("edges", folder(kind, "edges")) for kind in KINDS}


def blocks(kind: str, counts: list[int]) -> list[tuple[int, int]]:
    """Consecutive partitions (by their members ``counts``) grouped into blocks of about
    ``BLOCK_MEMBERS[kind]`` members: ``(first, end)`` each."""
    spans, first, held, most = [], 0, 0, BLOCK_MEMBERS[kind]
    for i, count in enumerate(counts):
        if held and held + count > most:
            spans.append((first, i))
            first, held = i, 0
        held += count
    spans.append((first, len(counts)))
    return spans


def band_path(wd: WorkDir, kind: str, band: int, span: tuple[int, int]):
    return wd.part_path(folder(kind, f"band-{band}"), str(span[0]))


# -- 2. shuffle ------------------------------------------------------------------------------


def shuffle(work, kind, span, shares, listing, cfg, page_surplus) -> dict:
    """Write, for the partitions ``span`` of the run, one file per LSH band of their members
    ordered by share (their band key modulo ``shares``), with order, key, digest and item
    hashes; return the files' fingerprint. Pairs on surplus pages are left out: they are not
    members."""
    wd = WorkDir(work)
    threshold = similarity(cfg, kind)
    fp = fingerprint([listing, kind, span, shares, threshold, page_surplus])
    step = Step("shuffle", folder(kind, "band-0"), row_group=SHARE_ROW_GROUP)
    run_step(wd, step, str(span[0]), fp,
             lambda: shuffled(wd, kind, span, shares, threshold, page_surplus))  # fmt: skip
    return {"fingerprint": fp}


def shuffled(wd: WorkDir, kind, span, shares, threshold, page_surplus) -> Output:
    """:func:`shuffle`'s files: band 0's as the step's own, the others beside it."""
    parts = read_table(wd.part_path(DATASET, "signed"), columns=["part"])["part"].to_pylist()
    bands = len(lsh_bands(threshold))
    columns = ["order", "digest", *(f"band_{b}" for b in range(bands)), "hashes"]
    tables = [read_table(wd.part_path(folder(kind, "signatures"), part),
                         columns=columns + (["on_pages"] if kind == "pair" else []))
              for part in parts[span[0] : span[1]]]  # fmt: skip
    members = pa.concat_tables(tables)  # a block holds one partition at least
    if kind == "pair" and page_surplus is not None:
        members = members.filter(pa.array(~on_surplus_pages(wd, members)))

    def band_table(band: int) -> pa.Table:
        """The members ordered by share of ``band``'s keys (a copy of the block: made one band
        at a time)."""
        key = members[f"band_{band}"].to_numpy()
        share = (key % np.uint64(shares)).astype(np.uint32)
        by_share = pa.array(np.argsort(share, kind="stable"))  # in order within a share
        return pa.table({
            "share": pa.array(share, pa.uint32()).take(by_share),
            "key": pa.array(key, pa.uint64()).take(by_share),
            **{name: members[name].take(by_share) for name in ("order", "digest", "hashes")},
        })  # fmt: skip

    others = {folder(kind, f"band-{b}"): partial(band_table, b) for b in range(1, bands)}
    main = band_table(0)
    return Output(main, {"members": main.num_rows}, beside=others)


def on_surplus_pages(wd: WorkDir, members: pa.Table) -> np.ndarray:
    """Whether each pair lies on a surplus page (a page the page steps marked a copy)."""
    surplus = read_table(wd.part_path(folder("page", "surplus"), "all"))["order"].to_numpy()
    on_pages = members.column("on_pages").combine_chunks()
    pages = on_pages.values.to_numpy()
    out = np.zeros(members.num_rows, bool)
    if surplus.size and pages.size:  # sorted: looked up by bisection
        hit = surplus[np.minimum(np.searchsorted(surplus, pages), surplus.size - 1)] == pages
        out[np.repeat(np.arange(members.num_rows), np.diff(on_pages.offsets.to_numpy()))[hit]] = 1
    return out


# -- 3. edges --------------------------------------------------------------------------------


def edges(work, kind, band, split, spans, shuffled_fp, cfg) -> dict:
    """Write, for one LSH band's buckets whose key falls in ``split`` (``(i, n)``: keys equal
    to i modulo n), each member's oldest similar earlier member of its bucket (``child``,
    ``parent``); return the file's fingerprint. A task holds its share of the members only;
    those alone in their bucket (most of them) cost a key, a number and a digest, and hashes
    are read for the others only."""
    wd = WorkDir(work)
    threshold = similarity(cfg, kind)
    fp = fingerprint([shuffled_fp, kind, band, split, threshold])
    run_step(wd, EDGES[kind], f"{band}-{split[0]}", fp,
             lambda: find_edges(wd, kind, band, split, spans, threshold))  # fmt: skip
    return {"fingerprint": fp}


class Share:
    """One band's share of the members, read from the shuffled files of every block: the row
    groups that can hold it, its rows there, and where each member came from (to read its
    hashes later, for members with company only)."""

    def __init__(self, paths: list, share: int):
        self.paths, self.groups, found = paths, [], {"order": [], "key": [], "digest": []}
        self.source, self.row = [], []
        for f, path in enumerate(paths):
            file = parquet_file(path)
            groups = [g for g in range(file.metadata.num_row_groups)
                      if holds(file.metadata.row_group(g).column(0).statistics, share)]  # fmt: skip
            self.groups.append(groups)
            if not groups:
                continue
            table = file.read_row_groups(groups, columns=["share", "key", "order", "digest"])
            rows = np.flatnonzero(table["share"].to_numpy() == share)
            found["order"].append(table["order"].to_numpy()[rows])
            found["key"].append(table["key"].to_numpy()[rows])
            found["digest"].append(table["digest"].combine_chunks().take(pa.array(rows)))
            self.source.append(np.full(rows.size, f, np.int64))
            self.row.append(rows)
        order = np.concatenate(found["order"]) if found["order"] else np.empty(0, np.int64)
        by_order = np.argsort(order, kind="stable")  # oldest first, as the dataset numbers them
        self.order = order[by_order]
        self.key = np.concatenate(found["key"])[by_order] if found["key"] else order
        self.digest = pa.chunked_array(found["digest"], pa.binary(16)).take(pa.array(by_order))
        self.source = np.concatenate(self.source)[by_order] if self.source else order
        self.row = np.concatenate(self.row)[by_order] if self.row else order

    def hashes(self, members: np.ndarray) -> Store:
        """The item hashes of ``members`` (sorted indexes into this share), in that order: read
        a block's file at a time, then put back in order."""
        taken, places = [], []
        which = self.source[members]
        for f in np.unique(which).tolist():
            file = parquet_file(self.paths[f])
            column = file.read_row_groups(self.groups[f], columns=["hashes"])["hashes"]
            places.append(np.flatnonzero(which == f))
            taken.append(column.combine_chunks().take(pa.array(self.row[members[places[-1]]])))
        if not taken:
            return Store()
        lists = pa.concat_arrays(taken).take(pa.array(np.argsort(np.concatenate(places))))
        return Store.of(lists.flatten().to_numpy(), np.diff(lists.offsets.to_numpy()))


def holds(stats, share: int) -> bool:
    return stats is None or not stats.has_min_max or stats.min <= share <= stats.max


def find_edges(wd: WorkDir, kind, band, split, spans, threshold) -> Output:
    """:func:`edges`' table."""
    paths = [band_path(wd, kind, band, span) for span in spans]
    share = Share(paths, split[0])
    order, key = share.order, share.key
    by_bucket = np.lexsort((order, key))  # by bucket, oldest first
    key = key[by_bucket]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[first, key.size])
    shared = by_bucket[np.repeat(sizes >= 2, sizes)]  # members with company, bucket by bucket
    digests = share.digest.take(pa.array(shared)).to_pylist()
    children, parents, buckets = [], [], []
    at = 0
    for size in sizes[sizes >= 2].tolist():
        firsts, distinct = {}, []
        for m, d in zip(shared[at : at + size].tolist(), digests[at : at + size]):
            if d in firsts:  # an exact copy joins its first copy (dedup.Clusters.add_hashes)
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
    store = share.hashes(need)
    for bucket in buckets:
        slots = np.searchsorted(need, bucket).tolist()  # oldest first, as in the bucket
        for j, slot in oldest_similar_each(slots, store, threshold):
            children.append(order[bucket[j]])
            parents.append(order[need[slot]])
    edge_table = pa.table({"child": pa.array(children, pa.int64()),
                           "parent": pa.array(parents, pa.int64())})  # fmt: skip
    return Output(edge_table, {"edges": edge_table.num_rows})
