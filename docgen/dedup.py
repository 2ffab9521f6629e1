"""Across the dataset: near-duplicate pages and pairs (MinHash-LSH), and decontamination.

Near-duplicates are found with datasketch's MinHash-LSH on token sets (words; single characters for
CJK) and confirmed with the Jaccard similarity of the sets (of their items' 32-bit hashes: see
``Clusters``), so a false LSH candidate never drops a pair.
Clusters are filled in a fixed order (partition, then row), so the same data always keeps the same
copies: the first ``max_page_copies`` pages of a boilerplate form seen 10,000 times keep their
pairs, the rest do not; likewise the first ``max_pair_copies`` of a question–answer pair.

Decontamination drops pairs whose question shares at least ``decontam_threshold`` of its token
n-grams with one question of an evaluation set the user supplies (JSON, JSON lines or Parquet with
a ``question`` column, or a JSON list of strings).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from docgen.config import FilterConfig
from docgen.text import ngrams, tokens
from docgen.workdir import WorkDir, read_table

DATASET_REASONS = ("near_duplicate_page", "duplicate_pair")  # decided here, not per partition
LATER_REASONS = ("judge_low_score",)  # decided after this pass (docgen.judge)
MIN_PAGE_TOKENS = 20  # pages with less text (covers, scans without OCR) are not compared
NUM_PERM = 64


def fingerprint_file(path: str | None) -> str:
    if not path:
        return ""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def eval_questions(path: str) -> list[str]:
    """Questions of an evaluation set file (see the module docstring for the formats)."""
    p = Path(path)
    if p.suffix == ".parquet":
        return [q for q in pq.read_table(p, columns=["question"]).column(0).to_pylist() if q]
    text = p.read_text("utf-8")
    try:
        data = json.loads(text)
    except ValueError:  # JSON lines
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, dict) and "question" in data:  # JSON lines with a single line
        data = [data]
    elif isinstance(data, dict):  # e.g. DocVQA's {"data": [{"question": ...}, ...]}
        data = next((v for v in data.values() if isinstance(v, list)), [])
    return [d if isinstance(d, str) else d.get("question", "") for d in data if d]


@lru_cache(maxsize=4)
def _index(path: str, digest: str, n: int, threshold: float):
    """A function question -> contaminated?, built once per worker for an evaluation file."""
    postings: dict[tuple, list[int]] = defaultdict(list)
    for i, question in enumerate(eval_questions(path)):
        for gram in ngrams(tokens(question), n):
            postings[gram].append(i)

    def contaminated(question: str) -> bool:
        grams = ngrams(tokens(question), n)
        shared = Counter(i for g in grams for i in set(postings.get(g, ())))
        return bool(shared) and max(shared.values()) / len(grams) >= threshold

    return contaminated


def contamination_index(cfg: FilterConfig):
    if not cfg.decontaminate:
        return None
    digest = fingerprint_file(cfg.decontaminate)
    return _index(cfg.decontaminate, digest, cfg.decontam_ngram, cfg.decontam_threshold)


class Clusters:
    """Near-duplicate clusters of token sets, filled in order; ``add`` says which copy it is.

    Each member is kept as the sorted CRC-32s of its items (what MinHash is fed: datasketch mixes
    them before its permutations), 4 bytes an item: a Python set of n-gram tuples took ~150, and
    the driver holding every page of a 10k-page run went past 2 GB. Similarity is the Jaccard of
    those hashes, equal to the items' own unless two items of the pair collide (odds of about 1
    in 10^7 for two sets of 1,000 items). CRC-32 rather than SHA-1, and the permutations made
    once rather than per set: the pass took 19 s on 10k pages, over half of it in those two."""

    def __init__(self, threshold: float):
        from datasketch import MinHash, MinHashLSH

        self.threshold = threshold
        # LSH below the threshold finds more candidates (fewer misses near it); the exact Jaccard
        # check then keeps only true near-duplicates. datasketch chooses the bands; the buckets
        # are kept here, one dict per band from a band's hash to the members in it (an int for
        # one, a list for more): datasketch's own index kept several objects per band per
        # member, ~3 KB a member, and was most of the driver's growth at 10k pages.
        lsh = MinHashLSH(threshold=max(0.3, threshold - 0.2), num_perm=NUM_PERM)
        self.bands = [(i * lsh.r, (i + 1) * lsh.r) for i in range(lsh.b)]
        self.buckets: list[dict] = [{} for _ in self.bands]
        template = MinHash(num_perm=NUM_PERM, seed=1)
        self.permutations, self.scheme = template.permutations, template.scheme
        self.members: list[np.ndarray] = []
        self.cluster_of: list[int] = []
        self.sizes: Counter = Counter()

    def add(self, items: set) -> int:
        """Insert a set; return how many earlier members its cluster had (0 for a new one)."""
        return self.add_hashes(item_hashes(items))

    def add_hashes(self, hashes: np.ndarray) -> int:
        """:meth:`add` for a set already hashed by :func:`item_hashes`."""
        from datasketch import MinHash

        # The items are hashed already (hashfunc=int); the permutations are the shared ones.
        m = MinHash(NUM_PERM, hashfunc=int, permutations=self.permutations, scheme=self.scheme)
        m.update_batch(hashes.tolist())
        # A band's 8-byte digest: equal bands always share a bucket; the rare unequal ones that
        # collide only add a candidate for the Jaccard check. A stable digest, not hash(): that
        # changes from process to process, and a rerun must decide as the first run did.
        keys = [
            hashlib.blake2b(m.hashvalues[a:b].tobytes(), digest_size=8).digest()
            for a, b in self.bands
        ]
        candidates: set[int] = set()
        for bucket, k in zip(self.buckets, keys):
            found = bucket.get(k)
            if isinstance(found, int):
                candidates.add(found)
            elif found is not None:
                candidates.update(found)
        cluster = None
        for key in sorted(candidates):
            other = self.members[key]
            common = np.intersect1d(hashes, other, assume_unique=True).size
            if common / (hashes.size + other.size - common) >= self.threshold:
                cluster = self.cluster_of[key]
                break
        key = len(self.members)
        self.members.append(hashes)
        self.cluster_of.append(key if cluster is None else cluster)
        for bucket, k in zip(self.buckets, keys):
            found = bucket.get(k)
            if found is None:
                bucket[k] = key
            elif isinstance(found, int):
                bucket[k] = [found, key]
            else:
                found.append(key)
        copies = self.sizes[self.cluster_of[-1]]
        self.sizes[self.cluster_of[-1]] += 1
        return copies


def item_hashes(items: set) -> np.ndarray:
    """The sorted distinct CRC-32s of a set's items (strings, or tuples of strings)."""
    return np.unique(np.fromiter(
        (zlib.crc32(("\x1f".join(s) if isinstance(s, tuple) else s).encode()) for s in items),
        np.uint32, len(items),
    ))  # fmt: skip


def page_signatures(work: str, part: str) -> list[tuple[str, int, np.ndarray]]:
    """``(doc_id, page, item hashes of its word 3-grams)`` for the pages of a partition with
    enough text to compare: the tokenising and hashing of the dataset pass, which the workers
    do in parallel (a few KB a page come back)."""
    rows = WorkDir(work).read("pages", part, columns=["doc_id", "page", "text"]).to_pylist()
    found = []
    for row in rows:
        words = tokens(row["text"] or "")
        if len(words) >= MIN_PAGE_TOKENS:
            found.append((row["doc_id"], row["page"], item_hashes(ngrams(words, 3))))
    return found


def in_order(client, fn, work: str, parts: list[str]):
    """``fn(work, part)`` for each part, in order: on the Dask workers when there is a client."""
    if client is None:
        yield from (fn(work, part) for part in parts)
        return
    futures = client.map(fn, [work] * len(parts), parts, pure=False)
    for i, future in enumerate(futures):
        yield future.result()
        futures[i] = None  # its result need not stay on the worker


def dedup_dataset(work: str, parts: list[str], cfg: FilterConfig, client=None) -> Counter:
    """Mark pairs on surplus near-duplicate pages and surplus copies of a pair across the
    dataset; rewrite the kept partitions whose verdicts change. Returns the drops it decided.
    With a Dask ``client`` the pages are tokenised and hashed on the workers; the clusters,
    which need every page in order, are built here."""
    wd = WorkDir(work)
    drops: Counter = Counter()
    surplus_pages: set[tuple[str, int]] = set()
    if cfg.max_page_copies:
        pages = Clusters(cfg.page_similarity)
        for signatures in in_order(client, page_signatures, work, parts):
            for doc_id, page, hashes in signatures:
                if pages.add_hashes(hashes) >= cfg.max_page_copies:
                    surplus_pages.add((doc_id, page))
    pairs = Clusters(cfg.pair_similarity) if cfg.max_pair_copies else None
    for part in parts:
        path = wd.part_path("kept", part)
        table = read_table(path)
        columns = ["doc_id", "pages", "question", "answer", "keep", "reason"]
        columns += [c for c in ["translated_from"] if c in table.schema.names]
        rows = table.select(columns).to_pylist()
        keep, reason = [], []
        for row in rows:
            if row.get("translated_from"):  # made after this pass, from a pair it kept
                keep.append(row["keep"])
                reason.append(row["reason"])
                continue
            # Pairs the judge dropped after an earlier pass still count as copies, so a rerun
            # decides exactly as the first run did.
            later = row["reason"] if row["reason"] in LATER_REASONS else None
            verdict = (
                row["reason"] if row["reason"] not in DATASET_REASONS + LATER_REASONS else None
            )
            if verdict is None and any((row["doc_id"], n) in surplus_pages for n in row["pages"]):
                verdict = "near_duplicate_page"
            if verdict is None and pairs is not None:
                items = set(tokens(row["question"])) | {f"a:{t}" for t in tokens(row["answer"])}
                if items and pairs.add(items) >= cfg.max_pair_copies:
                    verdict = "duplicate_pair"
            verdict = verdict or later
            keep.append(verdict is None)
            reason.append(verdict)
            if verdict in DATASET_REASONS:
                drops[verdict] += 1
        if reason != [r["reason"] for r in rows]:
            info = wd.info(path)
            table = table.set_column(
                table.schema.get_field_index("keep"), "keep", pa.array(keep, pa.bool_())
            )
            table = table.set_column(
                table.schema.get_field_index("reason"), "reason", pa.array(reason, pa.string())
            )
            old = info.get("stats", {})
            stats = {**old, **verdict_stats(table, old.get("seconds", 0))}
            wd.write(path, table, info["fingerprint"], stats)
    return drops


def verdict_stats(table: pa.Table, seconds: float) -> dict:
    """A kept partition's counts: pairs, kept, drops by reason."""
    reasons = Counter(r for r in table.column("reason").to_pylist() if r)
    return {
        "pairs": table.num_rows,
        "kept": table.num_rows - sum(reasons.values()),
        "dropped": dict(sorted(reasons.items())),
        "seconds": round(seconds, 3),
        "skipped": 0,
    }
