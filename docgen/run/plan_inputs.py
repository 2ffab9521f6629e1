"""The inputs of ``docgen plan``: every PDF listed by its size, reading as little as can be,
and a seeded sample drawn alike from each band of size (stratified sampling)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

STRATA = 5  # bands of document size, each sampled alike
# Past this many tar or Parquet shards, a seeded sample of them is listed and the rest counted
# by their bytes: the plan does not read every shard to know how many PDFs they hold.
SHARDS_LISTED = 64


@dataclass(slots=True)  # one per PDF listed, in the driver: kept small
class Input:
    name: str
    size: int
    path: str
    member: str | None = None  # inside a tar or Parquet file: read with sources.read_bytes
    source: object = None
    weight: float = 1.0  # how many inputs it stands for (shards not listed: see SHARDS_LISTED)


@dataclass
class Band:
    files: list[Input]
    drawn: list[Input] = field(default_factory=list)

    @property
    def count(self) -> float:
        """The inputs it stands for."""
        return sum(f.weight for f in self.files)


@dataclass
class Listing:
    files: list[Input]
    shards: int = 0  # tar and Parquet shards among the inputs
    shards_listed: int = 0
    spread: float = 0.0  # two standard errors of the inputs' count, when shards were not listed


def listing(inputs: list[str], seed: int = 0, most: int = SHARDS_LISTED) -> Listing:
    """Every PDF of the inputs, with its size, read as little as can be: a file is stat'ed, a
    tar's members by their headers (their data is skipped), a Parquet file's PDFs read; past
    ``most`` shards, a seeded sample of ``most`` of them, each member standing for as many
    as the shards' bytes to the sample's (a ratio estimate, its spread kept)."""
    from docgen.extract.sources import _expand

    paths = _expand(inputs)
    shards = [p for p in paths if p.suffix.lower() in (".tar", ".parquet")]
    listed = shards
    if len(shards) > most:
        listed = sorted(random.Random(seed).sample(shards, most))
    found = [Input(p.name, p.stat().st_size, str(p)) for p in paths
             if p not in shards and p.is_file()]  # fmt: skip
    per_shard = [(p.stat().st_size, members(p)) for p in listed]
    weight, spread = 1.0, 0.0
    if listed is not shards:
        total = sum(p.stat().st_size for p in shards)
        sizes = [size for size, _ in per_shard]
        counts = [len(m) for _, m in per_shard]
        rate = sum(counts) / max(1, sum(sizes))  # PDFs a byte of shard
        weight = total / max(1, sum(sizes))
        k, m = len(listed), len(shards)
        s2 = sum((c - rate * b) ** 2 for c, b in zip(counts, sizes)) / max(1, k - 1)
        spread = 2 * (m**2 * (1 - k / m) * s2 / k) ** 0.5
    for _, member_list in per_shard:
        for f in member_list:
            f.weight = weight
            found.append(f)
    return Listing(found, len(shards), len(listed), spread)


def members(path: Path) -> list[Input]:
    """A shard's PDFs: a tar's by their headers, a Parquet file's read."""
    from docgen.extract.sources import iter_sources

    if path.suffix.lower() == ".tar":
        return tar_members(path)
    return [Input(src.name, src.size, src.path, src.member, src)
            for src, _ in iter_sources([str(path)]) if not src.error]  # fmt: skip


def tar_members(path: Path) -> list[Input]:
    """A tar shard's PDFs from its headers (a compressed or damaged one: those read)."""
    import tarfile

    from docgen.extract.sources import Source, label

    found = []
    try:
        with tarfile.open(path, mode="r:") as tar:
            for m in tar:
                if m.isfile() and not m.issparse() and m.name.lower().endswith(".pdf"):
                    name = f"{label(path.name)}/{label(m.name)}"
                    src = Source(name, str(path.resolve()), label(m.name), m.offset_data, m.size)
                    found.append(Input(name, m.size, src.path, src.member, src))
    except (tarfile.TarError, OSError):
        pass  # what could be listed is; the run itself says what the shard's damage is
    return found


def draw(files: list[Input], fraction: float, seed: int) -> list[Band]:
    """``files`` in ``STRATA`` bands of size, ``fraction`` of each band drawn (two at least, so
    that each band's spread is measured)."""
    ordered = sorted(files, key=lambda f: (f.size, f.name))
    n = min(STRATA, len(ordered))
    bands = [Band(ordered[i * len(ordered) // n : (i + 1) * len(ordered) // n]) for i in range(n)]
    rng = random.Random(seed)
    for band in bands:
        want = max(2, round(fraction * len(band.files)))
        band.drawn = rng.sample(band.files, min(len(band.files), want))
    return bands
