"""The options every command shares, and what they mean: the run config (positional or
--config, --set), the inputs, WORK, the cluster, the model; how they become the run config a
command runs with, and what a stage needs in WORK before it can run."""

from __future__ import annotations

import argparse
import os
import re

from docgen.core.config import load_config
from docgen.core.workdir import KEPT, PAGES, QA
from docgen.generate.backends import BACKENDS

INPUT_HELP = (
    "PDF files, folders (searched for *.pdf, *.tar, *.parquet), globs, list files (*.txt, one "
    "path per line), webdataset .tar shards of KEY.pdf (+KEY.json), Parquet files with a "
    "column of PDF bytes"
)


SCHEDULER_HELP = (
    "an existing Dask cluster: its scheduler's address (tcp://HOST:PORT) or scheduler file "
    "(FILE.json); or 'sync' to run in this process (default: a LocalCluster with one process "
    "per core)"
)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def config_help(default: str | None) -> str:
    from docgen.core.config import builtin_configs

    return (
        f"a run config: a built-in one by name ({', '.join(builtin_configs())}; `docgen "
        "config show NAME` prints one) or a YAML file of your own"
        + (f" (default: {default})" if default else "")
    )


def config_options(sp, example="extract.dpi=200", default=None, inputs=False, runs=True):
    """[CONFIG] positional or --config, --set; with ``inputs``: [INPUT...] and --input too (and,
    for a command that ``runs`` the inputs, --limit and --retry-failed)."""
    sp.add_argument(
        "words",
        nargs="*" if inputs else "?",
        metavar="CONFIG_OR_INPUT" if inputs else "CONFIG",
        help=config_help(default) + (f"; and the inputs: {INPUT_HELP}" if inputs else ""),
    )
    sp.add_argument("--config", help="the same, by option")
    sp.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config value, e.g. {example} (repeatable)",
    )
    sp.set_defaults(takes_inputs=inputs, default_config=default)
    if inputs:
        sp.add_argument("--input", nargs="+", metavar="PDF_OR_DIR", help="the inputs, by option")
    if inputs and runs:
        sp.add_argument(
            "--limit",
            type=positive,
            metavar="N",
            help="only the first N documents found: a trial run",
        )
        sp.add_argument(
            "--retry-failed",
            action="store_true",
            help="extract again the documents that failed for good last time "
            "(not a PDF, encrypted, ...); those that may pass (a killed process, "
            "a timeout, a server that did not answer) every rerun retries",
        )


def work_option(sp):
    sp.add_argument(
        "--work",
        help="work directory: a folder or a URL (s3://...); default: "
        "the config's `work` (data/work)",
    )


def cluster_options(sp):
    sp.add_argument("--scheduler", help=SCHEDULER_HELP)
    sp.add_argument(
        "--dashboard",
        action="store_true",
        help="serve Dask's dashboard (its address is printed)",
    )


def llm_options(sp):
    sp.add_argument(
        "--backend",
        choices=BACKENDS,
        help="rules (model-free, the default), "
        "openai (any OpenAI-compatible server, e.g. vllm serve) or vllm (the "
        "offline engine on this machine's GPU)",
    )
    sp.add_argument(
        "--base-url",
        action="append",
        metavar="URL",
        help="openai: a server "
        "URL such as http://127.0.0.1:8000/v1 (repeat to spread requests over "
        "several; default $OPENAI_BASE_URL); the key comes from $OPENAI_API_KEY",
    )
    sp.add_argument(
        "--model", help="model name (openai: default the server's first model) or path (vllm)"
    )


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


# What each stage command reads from WORK, and the command that writes it.
NEEDS = {"generate": (PAGES, "extract"), "filter": (QA, "generate"),
         "shard": (KEPT, "filter"), "report": (KEPT, "filter")}  # fmt: skip


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


SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
              "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # fmt: skip


def parse_size(text: str) -> float:
    """Bytes in a size such as ``5MB``, ``1.5GB`` or ``800KiB`` (MB = 10**6, MiB = 2**20, as
    ``datasets`` reads ``max_shard_size``)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?I?B?)\s*", text.upper())
    if not m or float(m[1]) <= 0 or m[2] not in SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (try 500MB or 1GB)")
    return float(m[1]) * SIZE_UNITS[m[2]]
