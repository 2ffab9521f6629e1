"""Across the dataset: near-duplicate pages and pairs (MinHash-LSH).

Near-duplicates are found with MinHash-LSH on token sets (words; single characters for
CJK) and confirmed with the Jaccard similarity of the sets (of their items' 32-bit hashes: see
``Clusters``), so a false LSH candidate never drops a pair.
Clusters are filled in a fixed order (partition, then row), so the same data always keeps the same
copies: the first ``max_page_copies`` pages of a boilerplate form seen 10,000 times keep their
pairs, the rest do not; likewise the first ``max_pair_copies`` of a question–answer pair.
This module holds the pieces (hashing, MinHash, bands, the similarity search) and ``Clusters``,
which decides in one process, in order: the definition the dataset pass's steps over files
(``docgen.filter.dataset_pass``) decide like, and the reference of its tests and benchmarks.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections import Counter
from functools import lru_cache

import numpy as np

# Pages with fewer words (a receipt, a short form, a cover) are compared by their sets of words:
# their word 3-grams are too few for MinHash to estimate, and one changed word removes three of
# them. Words and 3-grams never share an item (3-grams are joined with a separator words lack).
MIN_PAGE_TOKENS = 20
NUM_PERM = 64
SMALL_BUCKET = 8  # buckets of up to 8 distinct sets compare each with all (oldest_similar_each)
ONE_BY_ONE, BLOCK = 4, 4096  # candidates checked alone, then at once (Clusters.first_similar)


class Store:
    """Every member's sorted item hashes end to end in one growing uint32 array, with offsets:
    no object per member (a numpy array each cost ~110 bytes more than its items), and a block
    of members is gathered in one indexing."""

    def __init__(self):
        self.flat = np.empty(1 << 16, np.uint32)
        self.ends = np.zeros(1 << 10, np.int64)  # ends[k + 1]: where member k's items end
        self.count = 0

    @classmethod
    def of(cls, flat: np.ndarray, sizes: np.ndarray) -> Store:
        """A store of members given end to end (``flat``) with their item counts."""
        store = cls()
        store.flat = flat
        store.ends = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        store.count = len(sizes)
        return store

    def append(self, hashes: np.ndarray) -> None:
        start, k = int(self.ends[self.count]), self.count
        if start + hashes.size > self.flat.size:
            self.flat = np.resize(self.flat, max(2 * self.flat.size, start + hashes.size))
        if k + 2 > self.ends.size:
            self.ends = np.resize(self.ends, 2 * self.ends.size)
        self.flat[start : start + hashes.size] = hashes
        self.ends[k + 1] = start + hashes.size
        self.count += 1

    def __getitem__(self, k: int) -> np.ndarray:
        return self.flat[self.ends[k] : self.ends[k + 1]]

    def gather(self, keys: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(the members' items end to end, each member's item count)."""
        at = np.asarray(keys)
        starts, sizes = self.ends[at], self.ends[at + 1] - self.ends[at]
        first = np.cumsum(sizes) - sizes  # where each member begins in the result
        index = np.arange(int(sizes.sum())) + np.repeat(starts - first, sizes)
        return self.flat[index], sizes


def oldest_similar(
    hashes: np.ndarray, candidates: list[int], store: Store, threshold: float
) -> int | None:
    """The first of ``candidates`` (members of ``store``, oldest first) whose Jaccard similarity
    with ``hashes`` is ``threshold`` or more: the first few one by one (near-identical sets most
    often match the first), then the rest a block at a time in one numpy pass each (pairs that
    share a question but not an answer are candidates by the thousand, and one ``intersect1d``
    each cost ~8 us)."""
    for other in candidates[:ONE_BY_ONE]:
        theirs = store[other]
        common = np.intersect1d(hashes, theirs, assume_unique=True).size
        if common / (hashes.size + theirs.size - common) >= threshold:
            return other
    for at in range(ONE_BY_ONE, len(candidates), BLOCK):
        block = candidates[at : at + BLOCK]
        flat, sizes = store.gather(block)
        found = np.minimum(np.searchsorted(hashes, flat), hashes.size - 1)
        shared = hashes[found] == flat  # the sets' items are distinct: counts the intersection
        common = np.add.reduceat(shared, np.cumsum(sizes) - sizes)
        similar = np.flatnonzero(common / (hashes.size + sizes - common) >= threshold)
        if similar.size:
            return block[similar[0]]
    return None


def oldest_similar_each(slots: list[int], store: Store, threshold: float) -> list[tuple]:
    """``(j, slot)`` for each member ``slots[j]`` of a bucket (members of ``store``, oldest
    first) that has a similar earlier member: the oldest of them, ``slot``.

    Only members sharing a prefix item are compared (the prefix filter of similarity joins):
    with the bucket's items ranked rarest first, two sets of Jaccard ``threshold`` or more share
    at least ``a`` items, so their first ``size - a + 1`` items meet. A question asked of
    thousands of pages with as many answers is one bucket whose members share their question's
    words: compared each with all, the bucket costs its size squared; by prefix, each member
    meets only those with its rare words (its answer)."""
    if len(slots) <= SMALL_BUCKET:  # too few to be worth an index
        found = ((j, oldest_similar(store[slots[j]], slots[:j], store, threshold))
                 for j in range(1, len(slots)))  # fmt: skip
        return [(j, slot) for j, slot in found if slot is not None]
    flat, sizes = store.gather(slots)
    items, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    rank = np.empty(items.size, np.int64)
    rank[np.lexsort((items, counts))] = np.arange(items.size)  # rarest first, then by hash
    ranks = rank[inverse]
    index: dict[int, list[int]] = {}  # a prefix item -> the members whose prefix holds it
    found, start = [], 0
    for j, size in enumerate(sizes.tolist()):
        prefix = np.sort(ranks[start : start + size])[: size - least_common(size, threshold) + 1]
        start += size
        met = sorted({k for item in prefix.tolist() for k in index.get(item, ())})
        if met:
            slot = oldest_similar(store[slots[j]], [slots[m] for m in met], store, threshold)
            if slot is not None:
                found.append((j, slot))
        for item in prefix.tolist():
            index.setdefault(item, []).append(j)
    return found


def least_common(size: int, threshold: float) -> int:
    """The fewest items a set of ``size`` shares with any set at ``threshold`` or more: the
    least ``c`` with ``c / size >= threshold`` as the check computes it (a Jaccard of c / union
    is never above c / size)."""
    c = min(size, math.ceil(threshold * size))
    while c > 0 and (c - 1) / size >= threshold:
        c -= 1
    while c < size and c / size < threshold:
        c += 1
    return c


class Clusters:
    """Near-duplicate clusters of token sets, filled in order; ``add`` says which copy it is.

    Each member is kept as the sorted CRC-32s of its items (what MinHash is fed), 4 bytes an
    item: a Python set of n-gram tuples took ~150, and the driver holding every page of a
    10k-page run went past 2 GB. Similarity is the Jaccard of those hashes, equal to the items'
    own unless two items of the pair collide (odds of about 1 in 10^7 for two sets of 1,000
    items). Candidates come from LSH buckets, one dict per band from a band's digest to the
    members in it (an int for one, a list for more): a general index kept several objects per
    band per member, ~3 KB a member, and was most of the driver's growth at 10k pages."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.bands = lsh_bands(threshold)
        self.buckets: list[dict] = [{} for _ in self.bands]
        self.members = Store()
        self.cluster_of: list[int] = []
        self.sizes: Counter = Counter()
        # A set seen before, exactly: the member its first copy matched (or that copy itself).
        self.exact: dict[bytes, int] = {}

    def candidates(self, keys: list[bytes]) -> list[int]:
        """The members sharing a bucket with ``keys``, each once, oldest first."""
        lists = [found for found in (bucket.get(k) for bucket, k in zip(self.buckets, keys))
                 if found is not None]  # fmt: skip
        if len(lists) <= 1:  # a bucket's members are in the order they came: sorted already
            return [lists[0]] if lists and isinstance(lists[0], int) else (lists or [[]])[0]
        return np.unique(np.concatenate([np.asarray(x).reshape(-1) for x in lists])).tolist()

    def first_similar(self, hashes: np.ndarray, candidates: list[int]) -> int | None:
        return oldest_similar(hashes, candidates, self.members, self.threshold)

    def add(self, items: set) -> int:
        """Insert a set; return how many earlier members its cluster had (0 for a new one)."""
        return self.add_hashes(item_hashes(items))

    def add_hashes(self, hashes: np.ndarray, keys: list[bytes] | None = None) -> int:
        """:meth:`add` for a set already hashed by :func:`item_hashes` (and its band keys, when
        :func:`band_keys` ran elsewhere).

        A set joins the cluster of the oldest earlier member at ``threshold`` or more. An exact
        copy of an earlier set E needs no search: members older than E are as similar to it as
        to E, so the answer is the one E got (or E itself); and no later set can match it
        before matching E, so it is neither stored nor put in the buckets. Without this, each
        copy of a common pair ("What is the total?" / "$10") walked every same-question pair
        before its own: quadratic in a cluster's size."""
        key = self.members.count
        digest = hashlib.blake2b(hashes.tobytes(), digest_size=16).digest()
        match = self.exact.get(digest)
        if match is None:
            if keys is None:
                keys = band_keys(hashes, self.threshold)
            match = self.first_similar(hashes, self.candidates(keys))
            self.exact[digest] = key if match is None else match
            self.members.append(hashes)
            for bucket, k in zip(self.buckets, keys):
                found = bucket.get(k)
                if found is None:
                    bucket[k] = key
                elif isinstance(found, int):
                    bucket[k] = [found, key]
                else:
                    found.append(key)
        else:  # an empty place: its number must still follow the order of arrival
            self.members.append(hashes[:0])
        cluster = key if match is None else self.cluster_of[match]
        self.cluster_of.append(cluster)
        copies = self.sizes[cluster]
        self.sizes[cluster] += 1
        return copies


# -- MinHash-LSH, in numpy ---------------------------------------------------------------------
# MinHash with NUM_PERM affine maps h -> a*h + b on 32-bit values (a odd, so each is a bijection;
# uint32 wraparound is the modulo), after a fixed pre-mix (MurmurHash3's finalizer) that spreads
# the CRC-32s. The same construction as datasketch's "affine32" scheme with seed 1; made here
# because importing datasketch pulls in scipy (0.6 s of the driver's serial time) for two lines.


@lru_cache(maxsize=1)
def permutations() -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` of the NUM_PERM maps: drawn from a fixed seed, the same in every process."""
    gen = np.random.RandomState(1)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def minhash(hashes: np.ndarray) -> np.ndarray:
    """The NUM_PERM minima of a set given as its item hashes (uint32)."""
    if hashes.size == 0:
        return np.full(NUM_PERM, 0xFFFFFFFF, np.uint32)
    a, b = permutations()
    return (fmix32(hashes.astype(np.uint32))[:, None] * a + b).min(axis=0)


@lru_cache(maxsize=8)
def lsh_bands(threshold: float) -> list[tuple[int, int]]:
    """The signature's bands ``(start, end)``: b bands of r rows, chosen to minimise the
    probability of a missed pair above the search threshold plus that of a false candidate
    below it. The search threshold is 0.2 under ``threshold`` (at least 0.3): more candidates,
    fewer misses near it; the exact Jaccard check then keeps only true near-duplicates."""
    t = max(0.3, threshold - 0.2)
    below, above = np.linspace(0.0, t, 2001), np.linspace(t, 1.0, 2001)
    best, best_error = (1, 1), float("inf")
    for b in range(1, NUM_PERM + 1):
        for r in range(1, NUM_PERM // b + 1):
            # The probability that a pair of similarity s shares a bucket: 1 - (1 - s^r)^b.
            false_found = np.trapezoid(1 - (1 - below**r) ** b, below)
            missed = np.trapezoid((1 - above**r) ** b, above)
            error = 0.5 * false_found + 0.5 * missed
            if error < best_error:
                best, best_error = (b, r), error
    b, r = best
    return [(i * r, (i + 1) * r) for i in range(b)]


def band_keys(hashes: np.ndarray, threshold: float) -> list[bytes]:
    """A set's LSH keys, one 8-byte digest per band: equal bands always share a bucket; the rare
    unequal ones that collide only add a candidate for the Jaccard check. A stable digest, not
    hash(): that changes from process to process, and a rerun must decide as the first did."""
    signature = minhash(hashes)
    return [
        hashlib.blake2b(signature[a:b].tobytes(), digest_size=8).digest()
        for a, b in lsh_bands(threshold)
    ]


# A page's word 3-grams hashed in numpy: each word's CRC-32 once, three neighbours mixed (odd
# 64-bit multipliers, xor, the high half folded onto the low), 32 bits kept. Hashing each joined
# 3-gram instead spent ~46% of the signatures step (bench/scale.py); this is 2.5x faster.
MIX = tuple(np.uint64(m) for m in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9))


def page_hashes(words: list[str]) -> np.ndarray:
    """The sorted distinct hashes of a page's items: its word 3-grams, or its words when it has
    fewer than ``MIN_PAGE_TOKENS`` (then as :func:`item_hashes` hashes them)."""
    h = np.fromiter((zlib.crc32(w.encode()) for w in words), np.uint64, len(words))
    if len(words) < MIN_PAGE_TOKENS:
        return np.unique(h.astype(np.uint32))
    mixed = (h[:-2] * MIX[0]) ^ (h[1:-1] * MIX[1]) ^ (h[2:] * MIX[2])
    return np.unique((mixed ^ (mixed >> np.uint64(32))).astype(np.uint32))  # the low 32 bits


def item_hashes(items: set) -> np.ndarray:
    """The sorted distinct CRC-32s of a set's items (strings, or tuples of strings)."""
    return np.unique(np.fromiter(
        (zlib.crc32(("\x1f".join(s) if isinstance(s, tuple) else s).encode()) for s in items),
        np.uint32, len(items),
    ))  # fmt: skip
