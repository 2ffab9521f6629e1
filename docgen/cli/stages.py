"""The pipeline's commands: ``run`` (the whole flow) and each stage alone (``extract``,
``generate``, ``filter``, ``shard``)."""

from __future__ import annotations

from docgen.cli.options import (
    cluster_options,
    config_options,
    llm_options,
    parse_size,
    require,
    run_config,
    work_option,
)
from docgen.core.config import settle_paths
from docgen.core.lock import work_lock
from docgen.core.storage import check_writable
from docgen.core.workdir import KEPT
from docgen.generate.prompting import INPUTS


def add_commands(command) -> None:
    s = command("run", "the whole pipeline: extract, generate, filter, shard", cmd_run)
    config_options(s, "generate.pairs_per_page=4", default="default", inputs=True)
    work_option(s)
    s.add_argument(
        "--out",
        help="output folder (data/ and README.md), or a URL; default: the "
        "config's `out` (data/out)",
    )
    llm_options(s)
    cluster_options(s)

    s = command("extract", "PDFs to page records in WORK/pages", cmd_stage)
    config_options(s, inputs=True)
    work_option(s)
    cluster_options(s)

    s = command("generate", "page records to QA pairs in WORK/qa", cmd_stage)
    config_options(s, "generate.pairs_per_page=4")
    work_option(s)
    llm_options(s)
    s.add_argument(
        "--model-input",
        "--input",
        dest="model_input",
        choices=INPUTS,
        help="what the model sees of each page: its text (default), its image, or "
        "both (image and image+text need a vision-language model)",
    )
    cluster_options(s)

    s = command(
        "filter",
        "judge every pair: WORK/kept (keep, reason), then the dataset pass "
        "and the judge, rater and translator when on",
        cmd_stage,
    )
    config_options(s, "filter.require_grounded=false")
    work_option(s)
    cluster_options(s)

    s = command("shard", "kept pairs and page images to Parquet shards + card", cmd_shard)
    config_options(s, "shard.name=my-dataset")
    work_option(s)
    s.add_argument("--out", required=True, help="output folder (data/ and README.md), or a URL")
    s.add_argument(
        "--max-shard-size",
        metavar="SIZE",
        help="largest shard, e.g. 500MB (the "
        "default), 5MB or 1GB; a shard never exceeds it unless a single row does",
    )
    s.add_argument(
        "--metadata-columns",
        action="store_true",
        help="add doc_id, languages, page_numbers, generator, kinds and answer_types columns to "
        "every row",
    )
    s.add_argument(
        "--answer-boxes",
        action="store_true",
        help="add answer_located and answer_boxes per turn: where each answer is on its page "
        "image (exact, fuzzy or not found; boxes in pixels and 0-1000)",
    )
    s.add_argument(
        "--pdf-config",
        action="store_true",
        help="also write a `pdf` config "
        "(OUT/pdf/): one row per document with its PDF and all its pairs, as "
        "Docmatix offers",
    )
    s.add_argument(
        "--chat-configs",
        metavar="NAMES",
        help="also write the rows as chats, "
        "comma-separated: `messages` (TRL's conversational vision layout, "
        "OUT/messages/), `sharegpt` (LLaMA-Factory's, OUT/sharegpt/ and "
        "OUT/dataset_info.json) and `grounded` (TRL's layout, each answer followed by its "
        "boxes as Qwen2-VL writes them; needs --answer-boxes)",
    )
    s.add_argument(
        "--test-fraction",
        type=float,
        help="hold out this fraction of documents as "
        "a `test` split (e.g. 0.01; by a seeded hash of the document)",
    )
    cluster_options(s)


def cmd_run(args) -> None:
    from docgen.run.pipeline import run_pipeline
    from docgen.run.summary import summary

    cfg = run_config(args)
    manifest = run_pipeline(cfg)
    print(summary(manifest, cfg.work))
    if not manifest.get("stopped"):
        print(f"shards in {cfg.out}/data, manifest in {cfg.work}/manifest.json")


def cmd_stage(args) -> None:
    """extract / generate / filter alone, each over the partitions of the work directory."""
    from docgen.run import pipeline
    from docgen.run.outcome import check_generated

    cfg = run_config(args)
    if args.command != "extract":
        require(cfg.work, args.command)
    stats = pipeline.run_stage(cfg, args.command)
    print(stage_line(args.command, stats))
    if args.command == "generate":
        check_generated(stats)


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
    if args.answer_boxes:
        cfg.shard.answer_boxes = True
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
    from docgen.run.outcome import check_kept, kept_counts
    from docgen.shard.stage import shard_on_workers, write_shards

    check_config(cfg.shard, "shard.")  # the flags set values after the config was checked

    wd = WorkDir(cfg.work)
    check_kept(kept_counts(wd, wd.run_parts(KEPT)))  # no empty dataset, no empty card

    if shard_on_workers(cfg.shard, cfg.run.scheduler, cfg.work, out):
        cfg.out = out
        settle_paths(cfg)
        with cluster(cfg.run.scheduler, cfg.run.workers, cfg.run.dashboard) as client:
            return write_shards(cfg.work, cfg.out, cfg.shard, Executor(client, cfg.run.progress))
    return write_shards(cfg.work, out, cfg.shard, Executor(None, cfg.run.progress))
