"""What the unanswerable pass costs a partition, this tree's way against another commit's, side
by side on the same partitions.

    .venv/bin/python bench/unanswerable.py [--base 25b8081] [--parts 3]

Partitions: a generated work directory (bench/synthetic.py: 256 pages a partition, four pairs a
page, a Zipf-like vocabulary, so pages share many words). Each pair is taken as kept, English,
of kind `field`. Both ways get the same rows and pages; CPU seconds of `unanswerable_rows`, and
how many hard negatives each made of those the 5% share wants.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import synthetic  # noqa: E402


def base_module(commit: str, folder: Path):
    """docgen/filter/unanswerable.py as ``commit`` had it."""
    where = f"{commit}:docgen/filter/unanswerable.py"
    code = subprocess.run(["git", "-C", str(ROOT), "show", where], check=True,
                          capture_output=True, text=True).stdout  # fmt: skip
    path = folder / "base_unanswerable.py"
    path.write_text(code, "utf-8")
    spec = importlib.util.spec_from_file_location("base_unanswerable", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    import pyarrow.parquet as pq

    from docgen.filter import unanswerable

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="25b8081")
    ap.add_argument("--parts", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = synthetic.generate(Path(tmp) / "w", 256 * max(args.parts, 10))
        shutil.copytree(work / "kept.orig", work / "kept")
        ways = {"base": base_module(args.base, Path(tmp)), "this tree": unanswerable}
        total = {name: [0.0, 0, 0] for name in ways}
        for part in sorted((work / "kept").glob("*.parquet"))[: args.parts]:
            rows = [r | {"lang": "en", "kind": "field", "source": "x.pdf"}
                    for r in pq.read_table(part).to_pylist()]  # fmt: skip
            pages: dict = {}
            for p in pq.read_table(work / "pages" / part.name).to_pylist():
                pages.setdefault(p["doc_id"], {})[p["page"]] = p | {"tables": [], "source": "x.pdf"}
            for name, way in ways.items():
                start = time.process_time()
                made = way.unanswerable_rows(rows, pages, 0.05, part.stem, Counter())
                total[name][0] += time.process_time() - start
                total[name][1] += len(made)
            wanted = unanswerable.wanted(sum(r["keep"] for r in rows), 0.05)
            for name in ways:
                total[name][2] += wanted
        print(f"{args.parts} partitions of 256 pages, 1,024 pairs each")
        for name, (seconds, made, wanted) in total.items():
            print(f"  {name:10} {seconds / args.parts:6.3f} s CPU a partition, "
                  f"{made} of {wanted} wanted made")  # fmt: skip
        ratio = total["base"][0] / total["this tree"][0]
        print(f"  this tree / base: {1 / ratio:.2f}x the CPU")


if __name__ == "__main__":
    main()
