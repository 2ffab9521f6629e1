"""Page images in many process histories: each pass extracts the sample corpus (or PDFS) in one
isolation child, in a random order, and compares every page's PNG digest with a pass that gave
each document a fresh child. Prints the pages that differ; exits 1 if any did.

    .venv/bin/python bench/determinism.py [PASSES] [PDF folder]
"""

import hashlib
import random
import sys
import tempfile
from pathlib import Path

from docgen import isolate
from docgen.config import ExtractConfig
from docgen.extract import page_batch, run_document
from docgen.samples import make_corpus
from docgen.sources import Source


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
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
