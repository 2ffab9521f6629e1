"""What shard.answer_boxes costs the shard stage, side by side in one run.

    .venv/bin/python bench/answer_boxes.py [--docs 200]

Generates the sample corpus's kinds of document (``--docs`` of them, besides none of the 48),
runs the default pipeline once (rules), then writes the shards from that WORK with and without
the answer boxes, alternately, twice each, in this process (``write_shards`` without a cluster):
seconds, pairs per second, and how the answers were found.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from docgen.core.config import load_config  # noqa: E402
from docgen.run.pipeline import run_pipeline  # noqa: E402
from docgen.samples import make_corpus  # noqa: E402
from docgen.shard.stage import write_shards  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=200, help="generated PDFs")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    make_corpus(tmp / "pdfs", n=args.docs, seed=7, progress=False)
    cfg = load_config("default", [f"input={tmp / 'pdfs'}", f"work={tmp / 'work'}",
                                  f"out={tmp / 'out'}", "run.progress=false"])  # fmt: skip
    run_pipeline(cfg)
    times: dict[bool, list[float]] = {False: [], True: []}
    result = {}
    for round in range(2):
        for boxes in (False, True):
            out = tmp / f"out-{boxes}-{round}"
            start = time.perf_counter()
            result[boxes] = write_shards(
                str(cfg.work), str(out), replace(cfg.shard, answer_boxes=boxes)
            )
            times[boxes].append(time.perf_counter() - start)
    pairs = result[True]["pairs"]
    plain, boxed = min(times[False]), min(times[True])
    print(f"{args.docs} documents, {result[True]['images']} page images, {pairs} pairs")
    print(f"shards without boxes  {plain:6.2f} s  ({pairs / plain:7.0f} pairs/s)")
    print(
        f"shards with boxes     {boxed:6.2f} s  ({pairs / boxed:7.0f} pairs/s): "
        f"{boxed / plain:.2f}x, {1000 * (boxed - plain) / pairs:.2f} ms a pair more"
    )
    print(f"answers located: {result[True].get('answers_located')}")


if __name__ == "__main__":
    main()
