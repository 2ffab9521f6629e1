"""The dataset pass's near-duplicate clusters (``docgen.filter.dedup.Clusters``): time per pair
added as the dataset grows, now (exact copies answered from their first copy, candidates merged
lazily oldest first) against the search as it was (every member of the buckets collected and
sorted for each new set), side by side in one run, with the same answers checked.

Synthetic pairs, as a large corpus has them: ``--common`` of them are one of a few questions
("What is the total amount?") with an answer from a small set, so that a pair has thousands of
near-identical copies; the rest are distinct. Items as the pass makes them (question words,
answer words marked ``a:``), pair_similarity 0.9.

    .venv/bin/python bench/dedup_clusters.py
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docgen.filter.dedup import Clusters, band_keys, item_hashes  # noqa: E402

QUESTIONS = ["What is the total amount?", "What is the invoice date?", "Who signed the form?",
             "What is the account number?", "What is the title of the document?"]  # fmt: skip


class Reference(Clusters):
    """The search as it was: every member of the buckets collected and sorted for each new set,
    exact copies searched and stored like any other."""

    def __init__(self, threshold: float):
        super().__init__(threshold)
        self.members = []  # an array per member

    def add_hashes(self, hashes: np.ndarray, keys: list[bytes] | None = None) -> int:
        keys = band_keys(hashes, self.threshold) if keys is None else keys
        found: set[int] = set()
        for bucket, k in zip(self.buckets, keys):
            members = bucket.get(k)
            if isinstance(members, int):
                found.add(members)
            elif members is not None:
                found.update(members)
        cluster = None
        for other in sorted(found):
            theirs = self.members[other]
            common = np.intersect1d(hashes, theirs, assume_unique=True).size
            if common / (hashes.size + theirs.size - common) >= self.threshold:
                cluster = self.cluster_of[other]
                break
        key = len(self.members)
        self.members.append(hashes)
        self.cluster_of.append(key if cluster is None else cluster)
        for bucket, k in zip(self.buckets, keys):
            members = bucket.get(k)
            if members is None:
                bucket[k] = key
            elif isinstance(members, int):
                bucket[k] = [members, key]
            else:
                members.append(key)
        copies = self.sizes[self.cluster_of[-1]]
        self.sizes[self.cluster_of[-1]] += 1
        return copies


def pairs(n: int, common: float, answers: int, seed: int = 0) -> list[set]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if rng.random() < common:
            q, a = rng.choice(QUESTIONS), f"{rng.randrange(answers)}.00 EUR"
        else:
            q, a = f"What does clause {i} of contract {rng.randrange(10**9)} say?", f"term {i}"
        out.append(set(q.lower().rstrip("?").split()) | {f"a:{t}" for t in a.lower().split()})
    return out


def timed(cls, hashed: list, threshold: float) -> tuple[float, list[int]]:
    clusters = cls(threshold)
    start = time.perf_counter()
    copies = [clusters.add_hashes(h, k) for h, k in hashed]
    return time.perf_counter() - start, copies


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="20000,80000,320000")
    p.add_argument("--common", type=float, default=0.3, help="share of pairs that are common ones")
    p.add_argument("--answers", type=int, default=200, help="answers a common question gets")
    args = p.parse_args()
    threshold = 0.9
    print(f"{'pairs':>8} {'before s':>9} {'now s':>8} {'us/pair before':>15} "
          f"{'us/pair now':>12} {'speed-up':>9} {'largest cluster':>16}")  # fmt: skip
    for n in map(int, args.sizes.split(",")):
        items = pairs(n, args.common, args.answers)
        hashed = [(h, band_keys(h, threshold)) for h in map(item_hashes, items)]
        old, old_copies = timed(Reference, hashed, threshold)
        new, new_copies = timed(Clusters, hashed, threshold)
        assert new_copies == old_copies, "both must decide alike"
        largest = int(np.max(old_copies)) + 1
        print(f"{n:8} {old:9.2f} {new:8.2f} {old / n * 1e6:15.1f} {new / n * 1e6:12.1f} "
              f"{old / new:8.1f}x {largest:16}")  # fmt: skip


if __name__ == "__main__":
    main()
