"""What image decontamination costs per page (filter.decontaminate_images), side by side in one run.

    .venv/bin/python bench/image_decontam.py [--benchmark 10000]

On the 64 pages of the sample corpus, rendered at 150 dpi as the extract stage stores them (PNG):

1. decoding a page image alone (PIL, to greyscale): what any reading of the page costs;
2. its perceptual hash (docgen.filter.decontam_images.page_hash: decode, margins, 64x64, DCT);
3. comparing one hash with a benchmark of ``--benchmark`` hashes (random ones: the cost does not
   depend on what they hold).

Prints milliseconds per page and the ratios: the hash against a decode, the comparison against
the hash.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from docgen.filter.decontam_images import nearest, page_hash  # noqa: E402


def pages() -> list[bytes]:
    import pymupdf

    out = []
    for pdf in sorted((ROOT / "data" / "samples").glob("*.pdf")):
        with pymupdf.open(pdf) as doc:
            out += [page.get_pixmap(dpi=150).tobytes("png") for page in doc]
    return out


def per_page(fn, items) -> float:
    start = time.process_time()
    for item in items:
        fn(item)
    return 1000 * (time.process_time() - start) / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", type=int, default=10_000, help="benchmark images")
    args = parser.parse_args()
    from PIL import Image

    images = pages()
    decode = per_page(lambda b: Image.open(io.BytesIO(b)).convert("L").load(), images)
    hashed = per_page(page_hash, images)
    hashes = [page_hash(b) for b in images]
    benchmark = np.random.default_rng(0).random((args.benchmark, 255)) > 0.5
    compare = per_page(lambda h: nearest(h, benchmark), hashes)
    print(f"{len(images)} pages (the sample corpus at 150 dpi, PNG)")
    print(f"decode alone        {decode:7.2f} ms/page (CPU)")
    print(f"perceptual hash     {hashed:7.2f} ms/page: {hashed / decode:.2f}x a decode")
    print(
        f"compare with {args.benchmark:>6} {compare:7.2f} ms/page: {compare / hashed:.2f}x the hash"
    )


if __name__ == "__main__":
    main()
