"""``docgen train`` and ``docgen eval``: their options and what they do."""

from __future__ import annotations

import os

from docgen.cli.options import config_options, parse_size, positive
from docgen.core.config import load_config


def push_to_hub(s) -> None:
    s.add_argument(
        "--push-to-hub",
        metavar="USER/NAME",
        help="then upload the model, its "
        "processor and a model card (base model, dataset, training settings, eval "
        "scores) to this model repo; the token as for `docgen push`",
    )
    s.add_argument("--private", action="store_true", help="with --push-to-hub: a private repo")


def add_commands(command) -> None:
    s = command(
        "train",
        "fine-tune an Idefics3-style VLM on the shards (resumes from OUT's checkpoints)",
        cmd_train,
        description="Fine-tune on DATA/data/<split>-*.parquet. Options live in the "
        "`train` section of a run config (the built-in `train`): steps, batch_size, "
        "grad_accum, lr, batching pad|pack|bucket, freeze_vision, freeze_lm, adapter "
        "none|lora|dora, checkpoint_every, ... For several GPUs: torchrun "
        "--nproc-per-node N -m docgen.cli train ...",
    )
    config_options(s, "train.lr=3e-4")
    s.add_argument("--data", help="output folder of `docgen shard`, or its URL")
    s.add_argument(
        "--model",
        required=True,
        help="'tiny' (a small random Idefics3 and a "
        "tokenizer trained on the data, offline) or an Idefics3 / SmolVLM "
        "checkpoint: a folder or a Hub id",
    )
    s.add_argument(
        "--out", "--output", dest="out", help="folder for checkpoints, metrics and the model"
    )
    s.add_argument("--steps", type=positive, help="optimizer steps (default: train.steps)")
    s.add_argument(
        "--answer-boxes",
        action="store_true",
        help="train on answers followed by their boxes on the page in Qwen2-VL's grounding "
        "tokens (shards made with shard.answer_boxes=true); sets train.answer_boxes",
    )
    s.add_argument(
        "--min-ratings",
        metavar="SCALE=N,...",
        help="leave out turns rated below N on a scale (e.g. relevance=3,formatting=3; shards "
        "made with filter.rate=true carry the ratings); sets train.min_ratings",
    )
    s.add_argument(
        "--plan",
        action="store_true",
        help="print the memory each GPU needs for "
        "this model and train config (weights, gradients, optimizer, activations, "
        "logits; DDP and FSDP) and whether it fits, then exit (0: it fits under the "
        "config's train.sharding, 1: it does not); reads no data",
    )
    s.add_argument("--gpus", type=positive, default=1, help="with --plan: GPUs (default 1)")
    s.add_argument("--gpu-memory", default="80GiB", help="with --plan: per GPU (default 80GiB)")
    s.add_argument(
        "--gradient-checkpointing",
        action="store_true",
        help="with --plan: activations as with gradient checkpointing",
    )
    push_to_hub(s)

    s = command(
        "eval",
        "answer held-out questions with a trained model: ANLS and exact match",
        cmd_eval,
    )
    config_options(s, "eval.max_new_tokens=64")
    s.add_argument("--data", required=True, help="output folder of `docgen shard`, or its URL")
    s.add_argument("--model", required=True, help="a model folder (`docgen train`'s output)")
    s.add_argument("--split", help="split to score (default: eval.split, test)")
    s.add_argument("--limit", type=positive, metavar="N", help="score only the first N questions")
    s.add_argument(
        "--out",
        help="folder for the predictions (eval-SPLIT.jsonl and its scores; "
        "default: MODEL), or a .jsonl file",
    )
    s.add_argument(
        "--engine",
        choices=["auto", "vllm", "transformers"],
        help="who answers "
        "(default: eval.engine; auto: vLLM's offline engine when it is installed or "
        "eval.engine_python names a Python that has it, else transformers)",
    )
    push_to_hub(s)


def boxes_said(scores: dict) -> str:
    """The box IoU, where the shards located answers on their pages (shard.answer_boxes)."""
    if "box_iou" not in scores:
        return ""
    return f"; box IoU {scores['box_iou']:.4f} on {scores['located']} located answers"


def ratings_setting(text: str) -> str:
    """``--min-ratings relevance=3,formatting=3`` as the ``--set`` it stands for."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not all(item.count("=") == 1 for item in items):
        raise ValueError(f"--min-ratings takes SCALE=N,... (e.g. relevance=3), not {text!r}")
    return "train.min_ratings={" + ", ".join(i.replace("=", ": ") for i in items) + "}"


def cmd_train(args) -> int:
    sets = list(args.set) + ([ratings_setting(args.min_ratings)] if args.min_ratings else [])
    sets += ["train.answer_boxes=true"] if args.answer_boxes else []
    cfg = load_config(args.config, sets).train
    if args.plan:
        from docgen.train.plan import fits, plan, report

        gpu_gib = parse_size(args.gpu_memory) / 2**30
        p = plan(args.model, cfg, args.gpus, gpu_gib, args.gradient_checkpointing)
        print("\n".join(report(p)))
        return 0 if fits(p, cfg.sharding if args.gpus > 1 else "ddp") else 1
    if not (args.data and args.out):
        raise ValueError("train needs --data and --out (or --plan to size a run)")
    from docgen.train.loop import train

    cfg.steps = args.steps or cfg.steps
    line = train(args.data, args.model, args.out, cfg, progress=not args.quiet)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one line for all processes
        print(f"trained {line.get('step', 0)} steps, loss {line.get('loss')}: model in {args.out}")
        if args.push_to_hub:
            from docgen.train.publish import push_model

            print(f"pushed to the Hub: {push_model(args.out, args.push_to_hub, args.private)}")
    return 0


def cmd_eval(args) -> int:
    from docgen.train.evaluate import GROUPS, evaluate

    cfg = load_config(args.config, list(args.set)).eval
    cfg.split = args.split or cfg.split
    cfg.limit = args.limit if args.limit is not None else cfg.limit
    cfg.engine = args.engine or cfg.engine
    out = args.out
    if out and not out.endswith(".jsonl"):  # a folder, like every other command's --out
        out = os.path.join(out, f"eval-{cfg.split}.jsonl")
    report = evaluate(args.data, args.model, cfg, out, progress=not args.quiet)
    print(
        f"ANLS {report['anls']:.4f}, exact match {report['exact_match']:.4f}, typed match "
        f"{report['typed_match']:.4f} on {report['questions']} questions ({cfg.split})"
        + boxes_said(report)
    )
    for group in GROUPS:
        for name, r in report[f"per_{group}"].items():
            print(f"  {group} {name}: ANLS {r['anls']:.4f}, exact {r['exact_match']:.4f}, typed "
                  f"{r['typed_match']:.4f} ({r['questions']}){boxes_said(r)}")  # fmt: skip
    print(f"predictions in {report['predictions']}")
    if args.push_to_hub:  # the card gains the scores
        from docgen.train.publish import push_model

        print(f"pushed to the Hub: {push_model(args.model, args.push_to_hub, args.private)}")
    return 0
