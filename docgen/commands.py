"""What each ``docgen`` subcommand does, once its arguments are read (``docgen.cli``)."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import asdict

from docgen.core.config import load_config, settle_paths
from docgen.core.lock import work_lock
from docgen.core.storage import check_writable


def cmd_samples(args) -> None:
    from docgen.samples import make_corpus

    paths = make_corpus(args.out, n=args.n, seed=args.seed)
    print(f"wrote {len(paths)} sample PDFs with ground truth to {args.out}")


def looks_like_config(word: str) -> bool:
    """A word on the command line that names a run config rather than an input."""
    from docgen.core.config import builtin_configs

    return word.endswith((".yaml", ".yml")) or (
        word in builtin_configs() and not os.path.exists(word)
    )


def settle_args(args) -> None:
    """One grammar for every command: the run config positional or by --config (not two), the
    inputs positional or by --input, and a config name typed among the inputs (`--input pdfs
    default`) taken as the config."""
    from docgen.core.errors import UsageError

    if not hasattr(args, "words"):
        return
    given = args.words if isinstance(args.words, list) else [args.words] if args.words else []
    words = [*given, *(getattr(args, "input", None) or [])]
    configs = [w for w in words if looks_like_config(w)] if args.takes_inputs else words
    if args.config:
        configs.insert(0, args.config)
    if len(set(configs)) > 1:
        raise UsageError(f"two run configs given ({configs[0]} and {configs[1]}): give one")
    args.config = configs[0] if configs else args.default_config
    if args.takes_inputs:
        args.input = [w for w in words if w not in configs]


def run_config(args):
    """The run config a command runs with: the config, then --set, then the flags (the common
    case in flags: they win)."""
    overrides = list(args.set)
    if getattr(args, "quiet", False):
        overrides.append("run.progress=false")
    for flag, key in (("scheduler", "run.scheduler"), ("limit", "run.limit")):
        if getattr(args, flag, None):
            overrides.append(f"{key}={getattr(args, flag)}")
    for flag, key in (("retry_failed", "run.retry_failed"), ("dashboard", "run.dashboard")):
        if getattr(args, flag, False):
            overrides.append(f"{key}=true")
    cfg = load_config(args.config, overrides)
    cfg.input = getattr(args, "input", None) or cfg.input
    cfg.work = getattr(args, "work", None) or cfg.work
    if args.command == "run":
        cfg.out = args.out or cfg.out
    g = cfg.generate
    g.backend = getattr(args, "backend", None) or g.backend
    g.base_urls = getattr(args, "base_url", None) or g.base_urls
    g.model = getattr(args, "model", None) or g.model
    g.input = getattr(args, "model_input", None) or g.input
    return cfg


def cmd_run(args) -> None:
    from docgen.run.pipeline import run_pipeline
    from docgen.run.summary import summary

    cfg = run_config(args)
    manifest = run_pipeline(cfg)
    print(summary(manifest, cfg.work))
    if not manifest.get("stopped"):
        print(f"shards in {cfg.out}/data, manifest in {cfg.work}/manifest.json")


# What each stage command reads from WORK, and the command that writes it.
NEEDS = {"generate": ("pages", "extract"), "filter": ("qa", "generate"),
         "shard": ("kept", "filter"), "report": ("kept", "filter")}  # fmt: skip


def require(work: str, command: str) -> None:
    """A stage run on a WORK that lacks what it reads: one line naming the stage to run first."""
    from docgen.core.errors import UsageError
    from docgen.core.storage import location
    from docgen.core.workdir import WorkDir

    folder, before = NEEDS[command]
    if not location(work).exists():
        raise UsageError(f"no work directory {work}: run `docgen run` or the stages before "
                         f"{command} first (`docgen extract INPUT... --work {work}`)")  # fmt: skip
    if not WorkDir(work).run_parts(folder):
        raise UsageError(f"{work} has no {folder}/ of this run: run `docgen {before} --work "
                         f"{work}` first")  # fmt: skip


def cmd_stage(args) -> None:
    """extract / generate / filter alone, each over the partitions of the work directory."""
    from docgen.core.executor import Executor
    from docgen.core.workdir import WorkDir
    from docgen.run import pipeline
    from docgen.run.llm_workers import check_generate
    from docgen.run.orchestrate import cluster

    cfg = run_config(args)
    if args.command == "extract":
        pipeline.check_inputs(cfg)
    else:
        require(cfg.work, args.command)
    if args.command == "generate":
        check_generate(cfg)
    check_writable(cfg.work)
    settle_paths(cfg)
    run = {"extract": pipeline.run_extract, "generate": pipeline.run_generate,
           "filter": pipeline.run_filter}[args.command]  # fmt: skip
    with (
        work_lock(cfg.work),
        cluster(cfg.run.scheduler, cfg.run.workers, cfg.run.dashboard) as client,
    ):
        stats = run(Executor(client, cfg.run.progress), cfg)
    wd = WorkDir(cfg.work)
    stages = wd.manifest().get("stages", {})
    stages[args.command] = stats
    wd.update_manifest(stages=stages, config=asdict(cfg))
    print(stage_line(args.command, stats))
    if args.command == "generate":
        pipeline.check_generated(stats)


def stage_line(stage: str, stats: dict) -> str:
    """A stage's counts in one line, numbers rounded; nested counts as `key k1 n1, k2 n2`."""

    def value(v) -> str:
        if isinstance(v, float):
            return f"{v:.1f}"
        if isinstance(v, dict):
            return "(" + ", ".join(f"{k} {value(x)}" for k, x in v.items()) + ")" if v else "none"
        return str(v)

    return f"{stage}: " + ", ".join(f"{k.replace('_', ' ')} {value(v)}" for k, v in stats.items())


def cmd_shard(args) -> None:
    from docgen.run.summary import empty_test_split

    cfg = run_config(args)
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
    if note := empty_test_split(result, cfg.shard.test_fraction):
        print(f"shard: {note}")


def shard_stage(cfg, out: str) -> dict:
    """The shard stage alone (``docgen shard``): on the workers or streamed through here."""
    from docgen.core.config_check import check_config
    from docgen.core.executor import Executor
    from docgen.core.workdir import WorkDir
    from docgen.run.orchestrate import cluster
    from docgen.run.pipeline import check_kept, kept_counts
    from docgen.shard.stage import shard_on_workers, write_shards

    check_config(cfg.shard, "shard.")  # the flags set values after the config was checked

    wd = WorkDir(cfg.work)
    check_kept(kept_counts(wd, wd.run_parts("kept")))  # no empty dataset, no empty card

    if shard_on_workers(cfg.shard, cfg.run.scheduler, cfg.work, out):
        cfg.out = out
        settle_paths(cfg)
        with cluster(cfg.run.scheduler, cfg.run.workers, cfg.run.dashboard) as client:
            return write_shards(cfg.work, cfg.out, cfg.shard, Executor(client, cfg.run.progress))
    return write_shards(cfg.work, out, cfg.shard, Executor(None, cfg.run.progress))


def cmd_validate(args) -> int:
    from docgen.shard.validate import validate

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
    from docgen.run.report import write_report

    require(args.work, "report")
    check_writable(args.out)
    from docgen.core.workdir import WorkDir
    from docgen.run.reasons import cause_lines, drop_lines, failure_causes
    from docgen.run.summary import any_failed

    stats = write_report(args.work, args.out)
    print(f"report: {stats['pairs_kept']} of {stats['pairs_judged']} pairs kept over "
          f"{stats['documents']} documents")  # fmt: skip
    stages = WorkDir(args.work).manifest().get("stages", {})
    if any_failed(stages) and (causes := failure_causes(args.work)):
        print(f"  failures: {sum(n for *_, n, _ in causes)}, by reason:")
        print("\n".join(cause_lines(causes)))
    dropped = stats["dropped"]
    print(f"  dropped: {sum(dropped.values())} pairs, by reason:" if dropped else "  dropped: none")
    for line in drop_lines(dropped):
        print(line)
    print(f"{args.out}/stats.json and {len(stats['plots'])} plots")
    return 0


def cmd_preview(args) -> int:
    from docgen.shard.preview import write_preview

    n = write_preview(args.out, args.html, rows=args.rows, seed=args.seed)
    print(f"preview: {n} row(s) in {args.html} (open it in a browser; it needs no network)")
    return 0


def cmd_push(args) -> int:
    from docgen.shard.push import push

    if not args.skip_validate and not args.dry_run:
        from docgen.shard.validate import validate

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


def parse_size(text: str) -> float:
    """Bytes in a size such as ``5MB``, ``1.5GB`` or ``800KiB`` (MB = 10**6, MiB = 2**20, as
    ``datasets`` reads ``max_shard_size``)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?I?B?)\s*", text.upper())
    if not m or float(m[1]) <= 0 or m[2] not in SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (try 500MB or 1GB)")
    return float(m[1]) * SIZE_UNITS[m[2]]


def cmd_config(args) -> None:
    """List the built-in run configs, print one (to start a file of your own from), or print the
    config a command would run with after --set (every key, checked)."""
    import yaml

    from docgen.core.config import builtin_configs, config_path

    if args.action == "list":
        print("\n".join(builtin_configs()))
        return
    if args.effective:
        cfg = load_config(args.name or "default", list(args.set))
        print(yaml.safe_dump(asdict(cfg), sort_keys=False, allow_unicode=True), end="")
        return
    if args.set:
        raise ValueError("--set goes with --effective (config show NAME --effective --set K=V)")
    name = args.name or "default"
    if not looks_like_config(name) or not os.path.exists(config_path(name)):
        raise ValueError(f"no built-in config {name!r}: {', '.join(builtin_configs())}")
    print(config_path(name).read_text("utf-8"), end="")
