"""How near `docgen plan` comes to the real run: generated documents, the real run of them all,
and plans from samples of 10, 15 and 20% with several seeds, side by side.

    .venv/bin/python bench/plan_accuracy.py [--docs 200] [--seeds 4]

The default config (the model-free `rules` backend: every figure is real). For each plan: the
projected pages, pairs kept and shard bytes against the real run's, as a relative error, and
whether the real figure lies within the plan's stated spread (two standard errors).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIGURES = ("pages", "pairs_kept", "shard_bytes")


def main() -> None:
    from docgen.core.config import load_config
    from docgen.run.pipeline import run_pipeline
    from docgen.run.plan import make_plan
    from docgen.samples import make_corpus

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pdfs = Path(tmp) / "pdfs"
        make_corpus(pdfs, n=args.docs, seed=7, progress=False)
        sets = [f"input={pdfs}", "run.scheduler=sync", "run.progress=false"]
        cfg = load_config("default", [*sets, f"work={tmp}/work", f"out={tmp}/out"])
        stages = run_pipeline(cfg)["stages"]
        real = {"pages": stages["extract"]["pages"], "pairs_kept": stages["filter"]["kept"],
                "shard_bytes": stages["shard"]["bytes"]}  # fmt: skip
        print(f"{args.docs} generated documents; the real run: " +
              ", ".join(f"{k} {v:,}" for k, v in real.items()))  # fmt: skip
        print(f"{'sample':>7} {'seed':>4} " + " ".join(f"{k:>22}" for k in FIGURES))
        worst = {}
        for fraction in (0.10, 0.15, 0.20):
            for seed in range(args.seeds):
                plan = make_plan(load_config("default", sets), fraction, seed)["projected"]
                cells = []
                for k in FIGURES:
                    err = plan[k]["total"] / real[k] - 1
                    inside = abs(plan[k]["total"] - real[k]) <= plan[k]["spread"]
                    worst[fraction] = max(worst.get(fraction, 0), abs(err))
                    cells.append(f"{err:+7.1%} {'within' if inside else 'beyond'} 2SE")
                print(f"{fraction:7.0%} {seed:4d} " + " ".join(f"{c:>22}" for c in cells))
        print("largest error: " + ", ".join(f"{f:.0%} sample {e:.1%}" for f, e in worst.items()))


if __name__ == "__main__":
    main()
