"""Benchmark pages kept out by their images (``filter.decontaminate_images``, off by default).

The text check (:mod:`docgen.filter.decontam`) misses a benchmark's page rendered again from the
same PDF with other words extracted, or a scan. Here every page a kept pair cites is compared,
as an image, with the benchmark's images (a folder of image files or Parquet shards with an image
column, or one such Parquet file, or a Hub dataset ``hf://datasets/OWNER/NAME``, whose Parquet and
image files are downloaded once into WORK/cache/decontaminate_images/hub/): a page within
``filter.image_match_bits`` of one is contaminated, and every pair citing it is dropped
(``contaminated_image``).

The comparison is a perceptual hash made for pages: the page's ink is cut out of its margins (so
a crop of the margins, a scan's border or another page size changes nothing), shrunk to 64 x 64
grey, and the signs of its 255 lowest DCT frequencies against their median are the hash. A page
re-rendered, JPEG-compressed, scaled or cropped by 5% stays within a few dozen bits of itself;
another page of the same template (another invoice of the same layout) lies 70 and more away.
"""

from __future__ import annotations

import io
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from docgen.core.config import HUB_DATASET, FilterConfig
from docgen.core.workdir import CACHE, PAGES, WorkDir, fingerprint, parquet_file
from docgen.filter import passes

SIDE = 64  # the page shrunk to SIDE x SIDE before its DCT
KEEP = 16  # the KEEP x KEEP lowest frequencies, less the constant one: 255 bits
INK = 200  # grey levels under this (after stretching the contrast) are ink
IMAGE_FILES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif")
REASON = "contaminated_image"


@cache
def dct_matrix(n: int) -> np.ndarray:
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return m


def page_hash(data: bytes) -> np.ndarray:
    """The 255-bit perceptual hash of a page image (bool array)."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        grey = ImageOps.autocontrast(im.convert("L"))
    ys, xs = np.nonzero(np.asarray(grey) < INK)
    if len(xs):  # the ink, without the margins
        grey = grey.crop((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    pixels = np.asarray(grey.resize((SIDE, SIDE), Image.Resampling.BOX), dtype=np.float64)
    d = dct_matrix(SIDE)
    low = (d @ pixels @ d.T)[:KEEP, :KEEP].flatten()[1:]
    return low > np.median(low)


def images_of(source: Path):
    """(name, bytes) of every image of a benchmark: image files in a folder (recursively), and
    the images of Parquet files (a column of ``{bytes, path}`` structs or of binary)."""
    files = sorted(source.rglob("*")) if source.is_dir() else [source]
    for path in files:
        suffix = path.suffix.lower()
        if suffix in IMAGE_FILES:
            yield str(path), path.read_bytes()
        elif suffix == ".parquet":
            try:
                yield from parquet_images(path)
            except (OSError, pa.ArrowException) as exc:
                raise ValueError(
                    f"filter.decontaminate_images: {path} does not read as Parquet ({exc})"
                ) from None


def parquet_images(path: Path):
    pf = parquet_file(path)
    for g in range(pf.num_row_groups):
        table = pf.read_row_group(g)
        for name in table.schema.names:
            for i, value in enumerate(table.column(name).to_pylist()):
                for item in value if isinstance(value, list) else [value]:
                    data = item.get("bytes") if isinstance(item, dict) else item
                    if isinstance(data, bytes) and data.startswith(MAGIC):
                        yield f"{path.name}:{g}:{i}", data


# The first bytes of PNG, JPEG, WebP (RIFF), TIFF, GIF and BMP files.
MAGIC = (b"\x89PNG", b"\xff\xd8", b"RIFF", b"II*\x00", b"MM\x00*", b"GIF8", b"BM")


def listing(source: Path) -> str:
    """A fingerprint of a benchmark's files (names, sizes, times): its hashes are made again
    only when they change (the Hub client's own records under .cache do not count)."""
    if not source.is_dir():
        files = [source]
    else:
        files = sorted(f for f in source.rglob("*") if ".cache" not in f.relative_to(source).parts)
    return fingerprint([(str(f), f.stat().st_size, f.stat().st_mtime_ns)
                        for f in files if f.is_file()])  # fmt: skip


def local(work: str, source: str) -> Path:
    """Where the benchmark's files are: the setting's path, or a Hub dataset's download."""
    if not source.startswith(HUB_DATASET):
        return Path(source)
    return (
        Path(work)
        / CACHE
        / "decontaminate_images"
        / "hub"
        / source.removeprefix(HUB_DATASET).replace("/", "--")
    )


DOWNLOADED = ".docgen-downloaded"  # in a Hub dataset's folder once all of it is there


def download(work: str, source: str) -> None:
    """A Hub dataset's Parquet and image files, into :func:`local`, once: a rerun asks the Hub
    nothing (offline too) and hashes nothing again; remove the folder to fetch it anew. A
    dataset the Hub does not have, or a download that fails, is one line."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    if (local(work, source) / DOWNLOADED).exists():
        return
    repo = source.removeprefix(HUB_DATASET)
    patterns = ["*.parquet", *(f"*{suffix}" for suffix in IMAGE_FILES)]
    try:
        snapshot_download(repo, repo_type="dataset", local_dir=local(work, source),
                          allow_patterns=patterns)  # fmt: skip
    except RepositoryNotFoundError:
        raise ValueError(
            f"filter.decontaminate_images: the Hub has no dataset {repo} (or it is private: "
            "log in with `hf auth login` or set HF_TOKEN)"
        ) from None
    except (HfHubHTTPError, OSError) as exc:
        raise ValueError(
            f"filter.decontaminate_images: {repo} could not be downloaded from the Hub "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no message'})"
        ) from None
    (local(work, source) / DOWNLOADED).touch()


def hashes_file(work: str, source: str) -> Path:
    return Path(work) / CACHE / "decontaminate_images" / f"{listing(local(work, source))}.npy"


def prepare(work: str, cfg: FilterConfig) -> None:
    """Hash the benchmark's images once, in the driver, before the pass's tasks: a benchmark
    with no image or one that does not decode is one line before any page is compared, and the
    workers read the hashes (``WORK/cache/decontaminate_images/``) instead of making them each.
    A Hub dataset is downloaded first."""
    if cfg.decontaminate_images.startswith(HUB_DATASET):
        download(work, cfg.decontaminate_images)
    path = hashes_file(work, cfg.decontaminate_images)
    if path.exists():
        return
    hashes = []
    for name, data in images_of(local(work, cfg.decontaminate_images)):
        try:
            hashes.append(page_hash(data))
        except Exception as exc:  # noqa: BLE001 - untrusted files: not an image, a decompression bomb
            raise ValueError(
                f"filter.decontaminate_images: {name} is not an image ({exc})"
            ) from None
    if not hashes:
        raise ValueError(f"filter.decontaminate_images: no image in {cfg.decontaminate_images}")
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part.npy")
    np.save(part, np.array(hashes))
    part.replace(path)


@cache
def benchmark_hashes(work: str, source: str) -> tuple[np.ndarray, str]:
    """The hashes :func:`prepare` made (one row per image) and their fingerprint."""
    path = hashes_file(work, source)
    return np.load(path), path.stem


def nearest(page: np.ndarray, benchmark: np.ndarray) -> int:
    """The fewest bits ``page`` differs by from any benchmark image."""
    return int((benchmark != page).sum(axis=1).min())


def decontaminate_images_partition(work: str, part: str, cfg: FilterConfig) -> dict:
    """Drop the pairs of a partition citing a benchmark's page, run by
    :func:`docgen.filter.passes.run_pass`."""
    wd = WorkDir(work)
    benchmark, benchmark_fp = benchmark_hashes(work, cfg.decontaminate_images)

    def make(view: pa.Table):
        rows = view.to_pylist()
        cited = {(r["doc_id"], p) for r in rows if r["keep"] for p in r["pages"]}
        counts: Counter = Counter()
        contaminated = set()
        for page in wd.read(PAGES, part, columns=["doc_id", "page", "image"]).to_pylist():
            if (page["doc_id"], page["page"]) not in cited or not page["image"]:
                continue
            counts["pages_compared"] += 1
            if nearest(page_hash(page["image"]), benchmark) <= cfg.image_match_bits:
                contaminated.add((page["doc_id"], page["page"]))
        counts["contaminated_pages"] = len(contaminated)
        reason = []
        for r in rows:
            hit = r["keep"] and any((r["doc_id"], p) in contaminated for p in r["pages"])
            counts[REASON] += hit
            reason.append(REASON if hit else r["reason"])
        keep = [r is None for r in reason]
        table = pa.table(
            {"keep": pa.array(keep, pa.bool_()), "reason": pa.array(reason, pa.string())}
        )
        after = passes.with_columns(view, {"keep": table["keep"], "reason": table["reason"]})
        return table, after, counts, True

    settings = [benchmark_fp, cfg.image_match_bits]
    return dict(passes.run_pass(wd, "decontaminate_images", part, settings, make))
