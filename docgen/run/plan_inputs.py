"""The inputs of ``docgen plan``: every PDF listed by its size, reading as little as can be,
and a seeded sample drawn alike from each band of size (stratified sampling)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

STRATA = 5  # bands of document size, each sampled alike


@dataclass
class Input:
    name: str
    size: int
    path: str
    member: str | None = None  # inside a tar or Parquet file: read with sources.read_bytes
    source: object = None


@dataclass
class Band:
    files: list[Input]
    drawn: list[Input] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def drawn_bytes(self) -> int:
        return sum(f.size for f in self.drawn)


def listing(inputs: list[str]) -> list[Input]:
    """Every PDF of the inputs, with its size, read as little as can be: a file is stat'ed, a
    tar's members by their headers (their data is skipped), a Parquet file's PDFs read."""
    from docgen.extract.sources import _expand, iter_sources

    found = []
    for path in _expand(inputs):
        suffix = path.suffix.lower()
        if suffix == ".tar":
            found += tar_members(path)
        elif suffix == ".parquet":
            for src, _ in iter_sources([str(path)]):
                if not src.error:
                    found.append(Input(src.name, src.size, src.path, src.member, src))
        elif path.is_file():
            found.append(Input(path.name, path.stat().st_size, str(path)))
    return found


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
