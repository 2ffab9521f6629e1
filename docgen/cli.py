"""``docgen``: one subcommand per stage, plus ``run`` for the whole flow from a YAML config."""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import asdict

from docgen.backends import BACKENDS
from docgen.config import load_config, settle_paths
from docgen.lock import work_lock
from docgen.prompting import INPUTS
from docgen.storage import check_writable


def cmd_samples(args) -> None:
    from docgen.samples import make_corpus

    paths = make_corpus(args.out, n=args.n, seed=args.seed)
    print(f"wrote {len(paths)} sample PDFs with ground truth to {args.out}")


def cmd_run(args) -> None:
    from docgen.pipeline import run_pipeline
    from docgen.summary import summary

    overrides = list(args.set)
    if args.scheduler:
        overrides.append(f"run.scheduler={args.scheduler}")
    if args.retry_failed:
        overrides.append("run.retry_failed=true")
    cfg = load_config(args.config, overrides)
    # The common case in flags: they win over the config and --set.
    cfg.input = args.input or cfg.input
    cfg.work, cfg.out = args.work or cfg.work, args.out or cfg.out
    cfg.generate.backend = args.backend or cfg.generate.backend
    cfg.generate.base_urls = args.base_url or cfg.generate.base_urls
    cfg.generate.model = args.model or cfg.generate.model
    manifest = run_pipeline(cfg)
    print(summary(manifest, cfg.work))
    if not manifest.get("stopped"):
        print(f"shards in {cfg.out}/data, manifest in {cfg.work}/manifest.json")


def stage_config(args):
    overrides = list(getattr(args, "set", []))
    cfg = load_config(args.config, overrides)
    if getattr(args, "work", None):
        cfg.work = args.work
    return cfg


# What each stage command reads from WORK, and the command that writes it.
NEEDS = {"generate": ("pages", "extract"), "filter": ("qa", "generate"),
         "shard": ("kept", "filter"), "report": ("kept", "filter")}  # fmt: skip


def require(work: str, command: str) -> None:
    """A stage run on a WORK that lacks what it reads: one line naming the stage to run first."""
    from docgen.errors import UsageError
    from docgen.storage import location
    from docgen.workdir import WorkDir

    folder, before = NEEDS[command]
    if not location(work).exists():
        raise UsageError(f"no work directory {work}: run `docgen run` or the stages before "
                         f"{command} first (`docgen extract INPUT... --work {work}`)")  # fmt: skip
    if not WorkDir(work).run_parts(folder):
        raise UsageError(f"{work} has no {folder}/ of this run: run `docgen {before} --work "
                         f"{work}` first")  # fmt: skip


def cmd_stage(args) -> None:
    """extract / generate / filter alone, each over the partitions of the work directory."""
    from docgen import pipeline
    from docgen.orchestrate import cluster

    cfg = stage_config(args)
    if args.command != "extract":
        require(cfg.work, args.command)
    check_writable(cfg.work)
    if args.command == "extract":
        cfg.input = args.inputs
        cfg.run.retry_failed = args.retry_failed or cfg.run.retry_failed
    if args.command == "generate":
        cfg.generate.backend = args.backend or cfg.generate.backend
        cfg.generate.base_urls = args.base_url or cfg.generate.base_urls
        cfg.generate.model = args.model or cfg.generate.model
        cfg.generate.input = args.input or cfg.generate.input
        pipeline.check_generate(cfg)
    if args.scheduler:
        cfg.run.scheduler = args.scheduler
    settle_paths(cfg)
    with work_lock(cfg.work), cluster(cfg.run.scheduler, cfg.run.workers) as client:
        if args.command == "extract":
            stats = pipeline.run_extract(client, cfg)
        elif args.command == "generate":
            stats = pipeline.run_generate(client, cfg)
        else:
            stats = pipeline.run_filter(client, cfg)
    from docgen.workdir import WorkDir

    wd = WorkDir(cfg.work)
    stages = wd.manifest().get("stages", {})
    stages[args.command] = stats
    wd.update_manifest(stages=stages, config=asdict(cfg))
    print(f"{args.command}: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    if args.command == "generate":
        pipeline.check_generated(stats)


def cmd_shard(args) -> None:
    cfg = stage_config(args)
    if args.pdf_config:
        cfg.shard.pdf_config = True
    if args.chat_configs:
        cfg.shard.chat_configs = [c.strip() for c in args.chat_configs.split(",") if c.strip()]
    if args.max_shard_size:
        cfg.shard.max_shard_mb = parse_size(args.max_shard_size) / 2**20
    if args.metadata_columns:
        cfg.shard.metadata_columns = True
    if args.test_fraction is not None:
        if not 0 <= args.test_fraction < 1:
            raise ValueError("--test-fraction must be at least 0 and below 1")
        cfg.shard.test_fraction = args.test_fraction
    if args.scheduler:
        cfg.run.scheduler = args.scheduler
    require(cfg.work, "shard")
    check_writable(args.out)  # WORK is only read, but not while another run writes it
    with work_lock(cfg.work):
        result = shard_stage(cfg, args.out)
    print(
        f"shard: {result['rows']} rows, {result['pairs']} pairs in "
        f"{len(result['shards'])} shard(s) under {args.out}/data"
    )
    if "pdf" in result:
        missing = result["pdf"]["missing"]
        print(
            f"pdf config: {result['pdf']['rows']} documents under {args.out}/pdf"
            + (f"; {missing} PDF(s) gone or changed since extract, left out" if missing else "")
        )
    for config in cfg.shard.chat_configs:
        print(f"{config} config: {result[config]['rows']} rows under {args.out}/{config}")


def shard_stage(cfg, out: str) -> dict:
    from docgen.config_check import check_config
    from docgen.orchestrate import cluster
    from docgen.shard import shard_on_workers, write_shards

    check_config(cfg.shard, "shard.")  # the flags set values after the config was checked
    from docgen.pipeline import check_kept, kept_counts
    from docgen.workdir import WorkDir

    wd = WorkDir(cfg.work)
    check_kept(kept_counts(wd, wd.run_parts("kept")))  # no empty dataset, no empty card

    if shard_on_workers(cfg.shard, cfg.run.scheduler, cfg.work, out):
        cfg.out = out
        settle_paths(cfg)
        with cluster(cfg.run.scheduler, cfg.run.workers) as client:
            return write_shards(cfg.work, cfg.out, cfg.shard, cfg.run.progress, client)
    return write_shards(cfg.work, out, cfg.shard, cfg.run.progress)


def cmd_validate(args) -> int:
    from docgen.validate import validate

    problems, counts = validate(args.out, progress=not args.quiet)
    totals = ", ".join(
        f"{split}: {c.get('shards', 0)} shard(s), {c.get('rows', 0)} rows, "
        f"{c.get('pairs', 0)} pairs" + (f", {c['images']} images" if "images" in c else "")
        for split, c in sorted(counts.items())
    )
    if problems:
        print(f"{args.out}: {sum(problems.counts.values())} problem(s)", file=sys.stderr)
        for line in problems.lines():
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"{args.out}: valid ({totals})")
    return 0


def cmd_report(args) -> int:
    from docgen.report import write_report

    require(args.work, "report")
    check_writable(args.out)
    from docgen.reasons import cause_lines, drop_lines, failure_causes

    stats = write_report(args.work, args.out)
    print(f"report: {stats['pairs_kept']} of {stats['pairs_judged']} pairs kept over "
          f"{stats['documents']} documents")  # fmt: skip
    if causes := failure_causes(args.work):
        print(f"  failures: {sum(n for *_, n, _ in causes)}, by reason:")
        print("\n".join(cause_lines(causes)))
    dropped = stats["dropped"]
    print(f"  dropped: {sum(dropped.values())} pairs, by reason:" if dropped else "  dropped: none")
    for line in drop_lines(dropped):
        print(line)
    print(f"{args.out}/stats.json and {len(stats['plots'])} plots")
    return 0


def cmd_preview(args) -> int:
    from docgen.preview import write_preview

    n = write_preview(args.out, args.html, rows=args.rows, seed=args.seed)
    print(f"preview: {n} row(s) in {args.html} (open it in a browser; it needs no network)")
    return 0


def cmd_push(args) -> int:
    from docgen.push import push

    if not args.skip_validate and not args.dry_run:
        from docgen.validate import validate

        problems, _ = validate(args.out, progress=False)
        if problems:
            print(f"{args.out} is not valid; not pushing (see `docgen validate`):", file=sys.stderr)
            for line in problems.lines():
                print(f"  {line}", file=sys.stderr)
            return 1
    plan, commits = push(
        args.out,
        args.repo,
        private=args.private,
        dry_run=args.dry_run,
        files_per_commit=args.files_per_commit,
    )
    if args.dry_run:
        for path, local in plan.shards + ([plan.card] if plan.card else []):
            print(f"upload  {path}  ({local.stat().st_size / 2**20:.1f} MB)")
        for path in plan.deletes:
            print(f"delete  {path}  (not in {args.out})")
        print(
            f"dry run: {len(plan.shards) + bool(plan.card)} file(s) to upload "
            f"({plan.upload_bytes / 2**20:.1f} MB), {len(plan.skipped)} already on the Hub, "
            f"{len(plan.deletes)} to delete"
        )
        return 0
    print(
        f"pushed {len(plan.shards) + bool(plan.card)} file(s) to dataset {args.repo} in "
        f"{commits} commit(s); {len(plan.skipped)} already there, {len(plan.deletes)} deleted"
    )
    return 0


SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
              "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # fmt: skip


def cmd_train(args) -> int:
    cfg = load_config(args.config, list(args.set)).train
    if args.plan:
        from docgen.train.plan import fits, plan, report

        gpu_gib = parse_size(args.gpu_memory) / 2**30
        p = plan(args.model, cfg, args.gpus, gpu_gib, args.gradient_checkpointing)
        print("\n".join(report(p)))
        return 0 if fits(p, cfg.sharding if args.gpus > 1 else "ddp") else 1
    if not (args.data and args.output):
        raise ValueError("train needs --data and --output (or --plan to size a run)")
    from docgen.train.loop import train

    cfg.steps = args.steps or cfg.steps
    line = train(args.data, args.model, args.output, cfg, progress=not args.quiet)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one line for all processes
        print(
            f"trained {line.get('step', 0)} steps, loss {line.get('loss')}: model in {args.output}"
        )
        if args.push_to_hub:
            from docgen.train.publish import push_model

            print(f"pushed to the Hub: {push_model(args.output, args.push_to_hub, args.private)}")
    return 0


def cmd_eval(args) -> int:
    from docgen.train.evaluate import evaluate

    cfg = load_config(args.config, list(args.set)).eval
    cfg.split = args.split or cfg.split
    cfg.limit = args.limit if args.limit is not None else cfg.limit
    cfg.engine = args.engine or cfg.engine
    report = evaluate(args.data, args.model, cfg, args.out, progress=not args.quiet)
    print(
        f"ANLS {report['anls']:.4f}, exact match {report['exact_match']:.4f} on "
        f"{report['questions']} questions ({cfg.split})"
    )
    for group in ("language", "kind"):
        for name, r in report[f"per_{group}"].items():
            print(f"  {group} {name}: ANLS {r['anls']:.4f}, exact {r['exact_match']:.4f} "
                  f"({r['questions']})")  # fmt: skip
    print(f"predictions in {report['predictions']}")
    if args.push_to_hub:  # the card gains the scores
        from docgen.train.publish import push_model

        print(f"pushed to the Hub: {push_model(args.model, args.push_to_hub, args.private)}")
    return 0


def parse_size(text: str) -> float:
    """Bytes in a size such as ``5MB``, ``1.5GB`` or ``800KiB`` (MB = 10**6, MiB = 2**20, as
    ``datasets`` reads ``max_shard_size``)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?I?B?)\s*", text.upper())
    if not m or float(m[1]) <= 0 or m[2] not in SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (try 500MB or 1GB)")
    return float(m[1]) * SIZE_UNITS[m[2]]


def push_to_hub(s) -> None:
    s.add_argument(
        "--push-to-hub",
        metavar="USER/NAME",
        help="then upload the model, its processor and a model card (base model, dataset, "
        "training settings, eval scores) to this model repo; the token as for `docgen push`",
    )
    s.add_argument("--private", action="store_true", help="with --push-to-hub: a private repo")


def cmd_config(args) -> None:
    """List the built-in run configs, or print one (to start a file of your own from)."""
    from docgen.config import builtin_configs, config_path

    if args.action == "list":
        print("\n".join(builtin_configs()))
        return
    if not args.name:
        raise ValueError(f"config show NAME: one of {', '.join(builtin_configs())}")
    if args.name not in builtin_configs():
        raise ValueError(f"no built-in config {args.name!r}: {', '.join(builtin_configs())}")
    print(config_path(args.name).read_text("utf-8"), end="")


def parser() -> argparse.ArgumentParser:
    from docgen import __version__

    p = argparse.ArgumentParser(prog="docgen", description=__doc__)
    p.add_argument("--version", action="version", version=f"docgen {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("samples", help="write the bundled sample corpus (PDFs + ground truth)")
    s.add_argument("--out", required=True, help="folder for the PDFs and their .json sidecars")
    s.add_argument(
        "--n",
        type=int,
        default=48,
        help="number of documents (default 48: six kinds in eight languages)",
    )
    s.add_argument("--seed", type=int, default=0, help="corpus seed (same seed, same files)")
    s.set_defaults(func=cmd_samples)

    def overrides(sp, example="extract.dpi=200"):
        sp.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help=f"override a config value, e.g. {example} (repeatable)",
        )

    def common(sp, work_required=True):
        sp.add_argument(
            "--work", required=work_required, help="work directory: a folder or a URL (s3://…)"
        )
        sp.add_argument(
            "--config",
            help="a run config for stage options: a built-in one by "
            "name (default, openai, vllm) or a YAML file",
        )
        overrides(sp)

    def retry_failed(sp):
        sp.add_argument(
            "--retry-failed",
            action="store_true",
            help="extract again the documents that failed for good last time (not a PDF, "
            "encrypted, ...); those that may pass (a killed process, a timeout, a server that "
            "did not answer) are retried by every rerun anyway",
        )

    def scheduler(sp):
        sp.add_argument(
            "--scheduler",
            help="an existing Dask cluster: its scheduler's address (tcp://HOST:PORT) or "
            "scheduler file (FILE.json); or 'sync' to run in this process (default: a "
            "LocalCluster with one process per core)",
        )

    s = sub.add_parser("extract", help="PDFs to page records in WORK/pages")
    s.add_argument(
        "inputs",
        nargs="+",
        help="PDF files, folders (searched for *.pdf, *.tar, *.parquet), globs, list files "
        "(*.txt, one path per line), webdataset .tar shards of KEY.pdf (+KEY.json), Parquet "
        "files with a column of PDF bytes",
    )
    common(s)
    scheduler(s)
    retry_failed(s)
    s.set_defaults(func=cmd_stage)

    s = sub.add_parser("generate", help="page records to QA pairs in WORK/qa")
    common(s)
    s.add_argument(
        "--backend",
        choices=BACKENDS,
        help="rules (model-free, default), openai (any OpenAI-compatible server, e.g. vllm "
        "serve) or vllm (the offline engine on this machine's GPU)",
    )
    s.add_argument(
        "--base-url",
        action="append",
        metavar="URL",
        help="openai: server URL such as http://127.0.0.1:8000/v1 (repeat to spread requests "
        "over several servers; default $OPENAI_BASE_URL). The key is read from $OPENAI_API_KEY",
    )
    s.add_argument(
        "--model", help="model name (openai: default the server's first model) or path (vllm)"
    )
    s.add_argument(
        "--input",
        choices=INPUTS,
        help="what the model sees of each page: its text (default), its image, or both "
        "(image and image+text need a vision-language model)",
    )
    scheduler(s)
    s.set_defaults(func=cmd_stage)

    s = sub.add_parser(
        "filter",
        help="judge every pair: WORK/kept (keep, reason), then the dataset pass and the "
        "judge, rater and translator when on, each to a folder of its own",
    )
    common(s)
    scheduler(s)
    s.set_defaults(func=cmd_stage)

    s = sub.add_parser("shard", help="kept pairs and page images to Parquet shards + card")
    common(s)
    s.add_argument("--out", required=True, help="output folder (data/ and README.md), or a URL")
    s.add_argument(
        "--max-shard-size",
        metavar="SIZE",
        help="largest shard, e.g. 500MB (default), 5MB or 1GB; a shard never exceeds it unless a "
        "single row does",
    )
    s.add_argument(
        "--metadata-columns",
        action="store_true",
        help="add doc_id, languages, page_numbers and generator columns to every row",
    )
    s.add_argument(
        "--pdf-config",
        action="store_true",
        help="also write a `pdf` config (OUT/pdf/): one row per document with its PDF file and "
        "all its pairs, as Docmatix offers",
    )
    s.add_argument(
        "--chat-configs",
        metavar="NAMES",
        help="also write the rows as chats, comma-separated: `messages` (TRL's conversational "
        "vision layout, OUT/messages/) and `sharegpt` (LLaMA-Factory's, OUT/sharegpt/ and "
        "OUT/dataset_info.json)",
    )
    s.add_argument(
        "--test-fraction",
        type=float,
        help="hold out this fraction of documents as a `test` split (e.g. 0.01; chosen by a "
        "seeded hash of the document, shard.split_seed)",
    )
    scheduler(s)
    s.set_defaults(func=cmd_shard)

    s = sub.add_parser(
        "validate",
        help="check shards and card: names, schema, images decode, no empty texts, counts",
    )
    s.add_argument("out", help="output folder of `docgen shard` (data/ and README.md), or its URL")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser(
        "push",
        help="upload shards and card to a Hugging Face dataset repo (resumable)",
        description="Upload OUT/data/*.parquet and OUT/README.md through huggingface_hub, a few "
        "shards per commit; a rerun skips files the Hub already has. The token comes from "
        "HF_TOKEN or `hf auth login` and is never printed.",
    )
    s.add_argument("out", help="output folder of `docgen shard`")
    s.add_argument("--repo", required=True, help="dataset repo, USER/NAME or ORG/NAME")
    s.add_argument("--private", action="store_true", help="create the repo private")
    s.add_argument("--dry-run", action="store_true", help="list what would be uploaded, no change")
    s.add_argument(
        "--files-per-commit", type=int, default=20, help="shards per commit (default 20)"
    )
    s.add_argument(
        "--skip-validate", action="store_true", help="push without running `docgen validate`"
    )
    s.set_defaults(func=cmd_push)

    s = sub.add_parser(
        "report", help="stats.json and plots: pairs per document, lengths, drops, languages"
    )
    s.add_argument("work", help="work directory of a run (folder or URL)")
    s.add_argument("--out", required=True, help="folder (or URL) for stats.json and the PNG plots")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser(
        "preview", help="a static HTML page of sample rows: page images beside their pairs"
    )
    s.add_argument("out", help="output folder of `docgen shard` (data/), or its URL")
    s.add_argument("--html", required=True, help="HTML file to write (opens offline)")
    s.add_argument("--rows", type=int, default=24, help="rows to sample (default 24)")
    s.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    s.set_defaults(func=cmd_preview)

    s = sub.add_parser(
        "train",
        help="fine-tune an Idefics3-style VLM on the shards (resumes from OUTPUT's checkpoints)",
        description="Fine-tune on OUT/data/<split>-*.parquet. Options live in the `train` "
        "section of a run config (the built-in `train`): steps, batch_size, grad_accum, lr, "
        "batching pad|pack|bucket, freeze_vision, freeze_lm, adapter none|lora|dora, "
        "checkpoint_every, ... For several GPUs: "
        "torchrun --nproc-per-node N -m docgen.cli train ...",
    )
    s.add_argument("--data", help="output folder of `docgen shard`, or its URL")
    s.add_argument(
        "--model",
        required=True,
        help="'tiny' (a small random Idefics3 and a tokenizer trained on the data, offline) or an "
        "Idefics3 / SmolVLM checkpoint: a folder or a Hub id",
    )
    s.add_argument("--output", help="folder for checkpoints, metrics and the model")
    s.add_argument(
        "--plan",
        action="store_true",
        help="print the memory each GPU needs for this model and train config (weights, "
        "gradients, optimizer, activations, logits; DDP and FSDP) and whether it fits, then "
        "exit (0: it fits under the config's train.sharding, 1: it does not); reads no data",
    )
    push_to_hub(s)
    s.add_argument("--gpus", type=int, default=1, help="with --plan: GPUs (default 1)")
    s.add_argument("--gpu-memory", default="80GiB", help="with --plan: per GPU (default 80GiB)")
    s.add_argument(
        "--gradient-checkpointing",
        action="store_true",
        help="with --plan: activations as with gradient checkpointing",
    )
    s.add_argument("--config", help="run config with a `train` section (e.g. the built-in `train`)")
    s.add_argument("--steps", type=int, help="optimizer steps (default: train.steps)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    overrides(s, "train.lr=3e-4")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser(
        "eval", help="answer held-out questions with a trained model: ANLS and exact match"
    )
    s.add_argument("--data", required=True, help="output folder of `docgen shard`, or its URL")
    s.add_argument("--model", required=True, help="a model folder (`docgen train`'s output)")
    s.add_argument("--split", help="split to score (default: eval.split, test)")
    s.add_argument("--limit", type=int, help="score only the first N questions")
    s.add_argument("--out", help="predictions file (default MODEL/eval-SPLIT.jsonl)")
    s.add_argument(
        "--engine",
        choices=["auto", "vllm", "transformers"],
        help="who answers (default: eval.engine, auto: vLLM's offline engine when it is "
        "installed or eval.engine_python names a Python that has it, else transformers)",
    )
    push_to_hub(s)
    s.add_argument("--config", help="run config with an `eval` section")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    overrides(s, "eval.max_new_tokens=64")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("config", help="the built-in run configs: list them, or print one")
    s.add_argument("action", choices=["list", "show"])
    s.add_argument("name", nargs="?", help="show: a built-in config (default, openai, vllm, ...)")
    s.set_defaults(func=cmd_config)

    s = sub.add_parser("run", help="the whole pipeline from a run config")
    s.add_argument(
        "config",
        nargs="?",
        default="default",
        help="a built-in run config by name (default, openai, vllm, train: `docgen config list`) "
        "or a YAML file of your own (`docgen config show default` prints one to start from); "
        "default: default",
    )
    s.add_argument("--input", nargs="+", metavar="PDF_OR_DIR", help="PDFs or folders of them")
    s.add_argument("--work", help="work directory: a folder or a URL (s3://…)")
    s.add_argument("--out", help="output folder (data/ and README.md), or a URL")
    s.add_argument("--backend", choices=BACKENDS, help="generation backend (as in the config)")
    s.add_argument("--base-url", action="append", metavar="URL", help="openai: server URL(s)")
    s.add_argument("--model", help="model name or path for openai / vllm")
    overrides(s, "generate.pairs_per_page=4")
    scheduler(s)
    retry_failed(s)
    s.set_defaults(func=cmd_run)
    return p


# The extra each command's optional packages come with, and how to install it.
EXTRAS = {"train": "make train, or pip install 'docgen[train]'",
          "eval": "make train, or pip install 'docgen[train]'",
          "push": "pip install huggingface_hub"}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """The one place errors become a line on stderr and an exit status (docgen.errors): 0 done,
    1 the run failed, 2 bad usage, config or input before any work, 130/143 interrupted."""
    from docgen.errors import DocgenError, Interrupted, interrupted_line, signals_interrupt

    args = parser().parse_args(argv)
    prefix = f"docgen {args.command}"
    try:
        with signals_interrupt():
            return args.func(args) or 0
    except Interrupted as exc:
        print(f"\n{prefix}: {interrupted_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except DocgenError as exc:
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ModuleNotFoundError as exc:
        how = EXTRAS.get(args.command, "pip install docgen's extras (pyproject.toml)")
        print(f"{prefix}: error: a package it needs is missing ({exc}); install: {how}",
              file=sys.stderr)  # fmt: skip
        return 2
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError) as exc:
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`docgen ... | head`): nothing left to say, and nowhere to say it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
