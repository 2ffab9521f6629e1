"""``docgen plan``: what a run of a config over its inputs will cost, before it runs."""

from __future__ import annotations

import json
import os
import sys

from docgen.cli.options import config_options, run_config

NAMES = {
    "pages": "pages",
    "chats": "chats (generation requests)",
    "images": "page images sent",
    "prompt_tokens": "prompt tokens",
    "completion_tokens": "completion tokens",
    "pairs_asked": "pairs asked",
    "pairs_kept": "pairs kept",
    "image_bytes": "page image bytes",
    "shard_bytes": "shard bytes",
    "judge_tokens": "judge tokens",
    "rate_tokens": "rater tokens",
    "translate_tokens": "translator tokens",
}


def add_commands(command) -> None:
    s = command(
        "plan",
        "what a run will cost: a sample of the inputs run for real, projected to all of them",
        cmd_plan,
        description="Draws a seeded sample of the inputs, alike in size band by band, runs it "
        "as the run would (the rules backend: every stage; a model's backend: extraction and "
        "the generation chats, their tokens counted as the model counts them, nothing sent "
        "unless --measure) and projects "
        "pages, chats, tokens, pairs, shard bytes and hours to the whole input, each with its "
        "spread (two standard errors).",
    )
    config_options(s, "generate.input=image", default="default", inputs=True, runs=False)
    s.add_argument("--sample", type=float, default=0.15, metavar="FRACTION",
                   help="share of the documents run for real (default 0.15)")  # fmt: skip
    s.add_argument("--seed", type=int, default=0, help="which sample (same seed, same sample)")
    s.add_argument("--workers", type=int, help="worker processes of the run (default: cores)")
    s.add_argument("--throughput", type=float, metavar="TOKENS_PER_S",
                   help="tokens a second the model server reaches: gives GPU hours")  # fmt: skip
    s.add_argument("--gpu-price", type=float, metavar="PER_HOUR",
                   help="what a GPU-hour costs: gives the money the GPU hours cost")  # fmt: skip
    s.add_argument("--measure", action="store_true",
                   help="send the sample's chats to the configured server (the judge's, "
                   "rater's, translator's too, when on): its throughput, completion tokens and "
                   "pairs kept measured, not assumed")  # fmt: skip
    s.add_argument("--budget-tokens", type=float, metavar="N",
                   help="exit 1 when the projected tokens are over N")  # fmt: skip
    s.add_argument("--budget-hours", type=float, metavar="H",
                   help="exit 1 when the projected hours are over H")  # fmt: skip
    s.add_argument("--tokenizer", metavar="DIR",
                   help="a folder with the model's tokenizer and chat template, to count prompt "
                   "tokens with (default: generate.model, when it is such a folder)")  # fmt: skip
    s.add_argument("--json", action="store_true", help="the plan as JSON")


def size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return str(n)


def duration(hours: float) -> str:
    if hours >= 1:
        return f"{hours:,.1f} h"
    return f"{hours * 60:.1f} min" if hours * 60 >= 1 else f"{hours * 3600:.1f} s"


def table(plan: dict) -> str:
    i, s = plan["inputs"], plan["sample"]
    guess = ""
    if e := i.get("estimated"):
        guess = (f" (estimated ± {e['spread']:,} from {e['shards_listed']} of {e['shards']} shards"
                 " listed)")  # fmt: skip
    lines = [
        f"docgen plan: {i['documents']:,} documents{guess} ({size(i['bytes'])}); a sample of "
        f"{s['documents']} ({s['fraction']:.0%} of each size band, seed {s['seed']}) run for "
        f"real in {s['seconds']} s",
        f"backend {plan['backend']}, model input {plan['input']}",
        f"  {'':30} {'projected':>16} {'± (2 SE)':>12}",
    ]
    for key, v in plan["projected"].items():
        show = size if key.endswith("bytes") else (lambda n: f"{n:,.0f}")
        spread = "" if v["spread"] is None else show(v["spread"])
        note = f"  (assumed: {v['assumed']})" if "assumed" in v else ""
        note = f"  (measured: {v['measured']})" if "measured" in v else note
        if key == "prompt_tokens":
            how = plan["prompt_tokens_counted_with"]
            note = {
                "processor": "  (the model's processor: images included)",
                "tokenizer": "  (the model's tokenizer)",
                "estimate": "  (docgen's estimate: --tokenizer DIR counts them)",
            }[how]
            if how != "processor" and plan["projected"].get("images", {}).get("total"):
                note += "; the images' tokens are not counted"
        lines.append(f"  {NAMES.get(key, key):30} {show(v['total']):>16} {spread:>12}{note}")
    hours = ", ".join(f"{k} {duration(v)}" for k, v in plan["hours"].items())
    lines.append(f"time with {plan['workers']} workers like this machine's: {hours}")
    if "gpu_cost" in plan:
        lines.append(f"GPU cost: {plan['gpu_cost']:,.2f} ({plan['gpu_hours']:,.2f} GPU-hours at "
                     f"{plan['gpu_price']:,.2f} an hour)")  # fmt: skip
    if m := plan.get("measured"):
        lines.append(f"measured on the sample: {m['requests']} requests, {m['prompt_tokens']:,} "
                     f"prompt and {m['completion_tokens']:,} completion tokens, "
                     f"{m['tokens_per_second']:,} tokens a second")  # fmt: skip
    elif plan["backend"] != "rules":
        lines.append("pairs kept need the model's answers: --measure runs the sample with it")
    return "\n".join(lines)


def cmd_plan(args) -> int:
    from docgen.run.plan import make_plan, over_budget

    if not 0 < args.sample <= 1:
        raise ValueError(f"--sample is a share of the documents, 0 to 1, not {args.sample}")
    if args.tokenizer and not os.path.isdir(args.tokenizer):
        raise ValueError(f"--tokenizer {args.tokenizer}: no such folder")
    cfg = run_config(args)
    if args.gpu_price is not None:  # checked before any work
        if args.gpu_price < 0:
            raise ValueError(f"--gpu-price is a price an hour, not {args.gpu_price}")
        if cfg.generate.backend == "rules" or not (args.throughput or args.measure):
            raise ValueError("--gpu-price needs GPU hours: a model's backend, and --throughput "
                             "or --measure")  # fmt: skip
    plan = make_plan(
        cfg, args.sample, args.seed, args.workers, args.throughput, args.measure, args.tokenizer
    )
    if args.gpu_price is not None:
        gpu = sum(v for k, v in plan["hours"].items() if k.startswith("gpu_"))
        plan.update(gpu_hours=round(gpu, 4), gpu_price=args.gpu_price,
                    gpu_cost=round(gpu * args.gpu_price, 2))  # fmt: skip
    print(json.dumps(plan, indent=2) if args.json else table(plan))
    why = over_budget(plan, args.budget_tokens, args.budget_hours)
    if why:  # on stderr: stdout stays the plan (--json parses)
        print(f"docgen plan: over budget: {why}", file=sys.stderr)
        return 1
    return 0
