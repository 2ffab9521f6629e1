"""The dataset pass's signatures step: hashing a page's word 3-grams, the joined-string way
against numpy's, side by side on the same pages; and the whole step's CPU per page.

    .venv/bin/python bench/page_hashes.py [--pages 5120]

Pages: a generated work directory (bench/synthetic.py, 256 pages a partition), the first
partitions holding ``--pages`` pages. Old way: every 3-gram a tuple of words, joined and CRC-32'd
(``item_hashes(ngrams(words, 3))``); new way: each word's CRC-32 once, three neighbours mixed in
numpy (``docgen.filter.dedup.page_hashes``). CPU seconds (process time).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import synthetic  # noqa: E402


def cpu(fn, items) -> float:
    start = time.process_time()
    for item in items:
        fn(item)
    return time.process_time() - start


def main() -> None:
    from docgen.core.config import FilterConfig
    from docgen.core.text import ngrams, tokens
    from docgen.core.workdir import WorkDir
    from docgen.filter import dataset_members
    from docgen.filter.dedup import MIN_PAGE_TOKENS, item_hashes, page_hashes

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=5120)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = synthetic.generate(Path(tmp) / "w", max(args.pages, 2560))
        shutil.copytree(work / "kept.orig", work / "kept")
        wd = WorkDir(str(work))
        parts = wd.parts("pages")[: max(1, args.pages // 256)]
        texts = [r["text"] or "" for p in parts for r in wd.read("pages", p, ["text"]).to_pylist()]
        words = [tokens(t) for t in texts]
        long = [w for w in words if len(w) >= MIN_PAGE_TOKENS]
        tokenising = cpu(tokens, texts)
        old = cpu(lambda w: item_hashes(ngrams(w, 3)), long)
        new = cpu(page_hashes, long)
        start = time.process_time()
        for i, part in enumerate(parts):
            dataset_members.sign(wd, part, i, FilterConfig())
        step = time.process_time() - start
    n = len(texts)
    print(f"{n} pages ({len(long)} of {MIN_PAGE_TOKENS}+ words)")
    print(f"  tokens                      {1e3 * tokenising / n:6.3f} ms a page")
    print(f"  3-grams joined + CRC-32     {1e3 * old / n:6.3f} ms a page")
    print(f"  3-grams in numpy            {1e3 * new / n:6.3f} ms a page   {old / new:.1f}x faster")
    print(f"  the whole signatures step   {1e3 * step / n:6.3f} ms a page (numpy hashing)")
    print(f"  the step with the old hashing would be {1e3 * (step - new + old) / n:6.3f} ms a page")


if __name__ == "__main__":
    main()
