"""Page images in many process histories: each pass extracts the sample corpus (or PDFS) in one
isolation child, in a random order, and compares every page's PNG digest with a pass that gave
each document a fresh child. Prints the pages that differ; exits 1 if any did.

Then the deflate encoders side by side on the same pages' rows (unfiltered, as ``png_bytes``
writes them): milliseconds and bytes per page for zlib-ng at levels 1 and 2 (docgen's), zlib at
level 1, and ISA-L at level 1 when ``isal`` is installed (docgen's encoder before).

    .venv/bin/python bench/determinism.py [PASSES] [PDF folder]
"""

import hashlib
import random
import sys
import tempfile
from pathlib import Path

from docgen.core.config import ExtractConfig
from docgen.extract import isolate
from docgen.extract.document import page_batch, run_document
from docgen.extract.sources import Source
from docgen.samples import make_corpus


def digests(pdfs, fresh_child_each=False) -> dict:
    isolate.stop_child()
    out = {}
    for pdf in pdfs:
        if fresh_child_each:
            isolate.stop_child()
        source = Source(name=pdf.name, path=str(pdf), size=pdf.stat().st_size)
        for kind, payload in run_document(source, "x", ExtractConfig()):
            if kind == "page":
                row = page_batch(payload[1]).to_pylist()[0]
                out[(pdf.name, row["page"])] = hashlib.sha256(row["image"]).hexdigest()[:12]
    return out


def main() -> int:
    passes = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    folder = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp()) / "samples"
    if len(sys.argv) <= 2:
        make_corpus(folder, progress=False)
    pdfs = sorted(folder.rglob("*.pdf"))
    reference = digests(pdfs, fresh_child_each=True)
    bad = 0
    for seed in range(passes):
        order = pdfs[:]
        random.Random(seed).shuffle(order)
        differ = {k: (reference[k], v) for k, v in digests(order).items() if reference[k] != v}
        bad += bool(differ)
        print(f"pass {seed}: {len(reference)} pages, {len(differ)} differ {differ or ''}")
    print(f"{bad} of {passes} passes differed")
    encoders(pdfs)
    return 1 if bad else 0


def encoders(pdfs, repeat: int = 5) -> None:
    import zlib

    import numpy as np
    import pymupdf
    from zlib_ng import zlib_ng

    from docgen.extract.images import render

    rows = []
    for pdf in pdfs:
        with pymupdf.open(pdf) as doc:
            for page in doc:
                pixels = render(page, 150, 2940)
                raw = np.zeros((pixels.shape[0], pixels[0].size + 1), np.uint8)
                raw[:, 1:] = pixels.reshape(pixels.shape[0], -1)
                rows.append(raw.tobytes())
    candidates = [("zlib-ng 1", zlib_ng.compress, 1), ("zlib-ng 2", zlib_ng.compress, 2),
                  ("zlib 1", zlib.compress, 1)]  # fmt: skip
    try:
        from isal import isal_zlib

        candidates.append(("isal 1", isal_zlib.compress, 1))
    except ImportError:
        print("isal is not installed: pip install isal to compare with it")
    print(f"deflate of {len(rows)} pages' rows, best of {repeat}:")
    for name, compress, level in candidates:
        best = min(timed(compress, rows, level) for _ in range(repeat))
        size = sum(len(compress(r, level)) for r in rows)
        ms, kb = 1000 * best / len(rows), size / len(rows) / 1024
        print(f"  {name:10s} {ms:6.2f} ms/page  {kb:6.1f} KB/page")


def timed(compress, rows, level) -> float:
    import time

    start = time.perf_counter()
    for r in rows:
        compress(r, level)
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
