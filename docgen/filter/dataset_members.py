"""The dataset pass's first step (see :mod:`docgen.filter.dataset_pass`): each partition's
members with their signatures."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

from docgen.core.config import FilterConfig
from docgen.core.step import Output, Step, run_step
from docgen.core.text import tokens
from docgen.core.workdir import DATASET, KEPT, PAGES, WorkDir, fingerprint
from docgen.filter.dedup import band_keys, item_hashes, lsh_bands, page_hashes

KINDS = ("page", "pair")
ROW_BITS = 32  # a member's number: its partition's place in the run << ROW_BITS | its row
# 3: pages' 3-grams hashed by dedup.page_hashes; 2: the files store {"pages", "pairs"} (1:
# {"members"}, read no more)
SIGNATURE_LAYOUT = 3


def folder(kind: str, step: str) -> str:
    return f"{DATASET}/{kind}-{step}"


# The pages' signatures are written beside the pairs': the pairs' file marks a partition signed.
SIGNATURES = Step("signatures", folder("pair", "signatures"))


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
