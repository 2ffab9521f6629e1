"""docgen: document-VQA training data from your own PDFs, in the shape of Docmatix.

One command per stage (extract, generate, filter, shard), `run` for the whole flow, and the
tools around it (validate, report, preview, push, train, eval). Every command takes a run
config the same way, positional or --config, and -q / -v. Exit status: 0 done, 1 the run
failed, 2 refused before any work, 130 / 143 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys

from docgen import commands
from docgen.cli_train import add_train_commands
from docgen.generate.backends import BACKENDS
from docgen.generate.prompting import INPUTS

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


def parser() -> argparse.ArgumentParser:
    from docgen import __version__

    p = argparse.ArgumentParser(
        prog="docgen", description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1]
    )
    p.add_argument("--version", action="version", version=f"docgen {__version__}")
    flags = argparse.ArgumentParser(add_help=False)  # on every command
    flags.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    flags.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="Dask's own warnings, and the whole traceback of an error",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, func, **kwargs):
        sp = sub.add_parser(
            name, help=help, description=kwargs.pop("description", help), parents=[flags], **kwargs
        )
        sp.set_defaults(func=func, takes_inputs=False, default_config=None)
        return sp

    def config(sp, example="extract.dpi=200", default=None, inputs=False):
        """[CONFIG] positional or --config, --set; with ``inputs``: [INPUT...] and --input too."""
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
            sp.add_argument(
                "--input", nargs="+", metavar="PDF_OR_DIR", help="the inputs, by option"
            )
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

    def work(sp):
        sp.add_argument(
            "--work",
            help="work directory: a folder or a URL (s3://...); default: "
            "the config's `work` (data/work)",
        )

    def cluster(sp):
        sp.add_argument("--scheduler", help=SCHEDULER_HELP)
        sp.add_argument(
            "--dashboard",
            action="store_true",
            help="serve Dask's dashboard (its address is printed)",
        )

    def llm(sp):
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

    s = command(
        "samples", "write the bundled sample corpus (PDFs + ground truth)", commands.cmd_samples
    )
    s.add_argument("--out", required=True, help="folder for the PDFs and their .json sidecars")
    s.add_argument(
        "--n",
        type=positive,
        default=48,
        help="number of documents (default 48: six kinds in eight languages)",
    )
    s.add_argument("--seed", type=int, default=0, help="corpus seed (same seed, same files)")

    s = command("run", "the whole pipeline: extract, generate, filter, shard", commands.cmd_run)
    config(s, "generate.pairs_per_page=4", default="default", inputs=True)
    work(s)
    s.add_argument(
        "--out",
        help="output folder (data/ and README.md), or a URL; default: the "
        "config's `out` (data/out)",
    )
    llm(s)
    cluster(s)

    s = command("extract", "PDFs to page records in WORK/pages", commands.cmd_stage)
    config(s, inputs=True)
    work(s)
    cluster(s)

    s = command("generate", "page records to QA pairs in WORK/qa", commands.cmd_stage)
    config(s, "generate.pairs_per_page=4")
    work(s)
    llm(s)
    s.add_argument(
        "--model-input",
        "--input",
        dest="model_input",
        choices=INPUTS,
        help="what the model sees of each page: its text (default), its image, or "
        "both (image and image+text need a vision-language model)",
    )
    cluster(s)

    s = command(
        "filter",
        "judge every pair: WORK/kept (keep, reason), then the dataset pass "
        "and the judge, rater and translator when on",
        commands.cmd_stage,
    )
    config(s, "filter.require_grounded=false")
    work(s)
    cluster(s)

    s = command("shard", "kept pairs and page images to Parquet shards + card", commands.cmd_shard)
    config(s, "shard.name=my-dataset")
    work(s)
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
        help="add doc_id, languages, page_numbers, generator and kinds columns to every row",
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
        "OUT/messages/) and `sharegpt` (LLaMA-Factory's, OUT/sharegpt/ and "
        "OUT/dataset_info.json)",
    )
    s.add_argument(
        "--test-fraction",
        type=float,
        help="hold out this fraction of documents as "
        "a `test` split (e.g. 0.01; by a seeded hash of the document)",
    )
    cluster(s)

    s = command(
        "validate",
        "check shards and card: names, schema, images decode, no empty texts, counts",
        commands.cmd_validate,
    )
    s.add_argument("out", help="output folder of `docgen shard` (data/ and README.md), or its URL")

    s = command(
        "push",
        "upload shards and card to a Hugging Face dataset repo (resumable)",
        commands.cmd_push,
        description="Upload OUT/data/*.parquet and OUT/README.md "
        "through huggingface_hub, a few shards per commit; a rerun skips files the Hub "
        "already has. The token comes from HF_TOKEN or `hf auth login` and is never "
        "printed.",
    )
    s.add_argument("out", help="output folder of `docgen shard`")
    s.add_argument("--repo", required=True, help="dataset repo, USER/NAME or ORG/NAME")
    s.add_argument("--private", action="store_true", help="create the repo private")
    s.add_argument("--dry-run", action="store_true", help="list what would be uploaded, no change")
    s.add_argument(
        "--files-per-commit", type=positive, default=20, help="shards per commit (default 20)"
    )
    s.add_argument(
        "--skip-validate", action="store_true", help="push without running `docgen validate`"
    )

    s = command(
        "report",
        "stats.json and plots: pairs per document, lengths, drops, languages; "
        "failures and drops by reason on screen",
        commands.cmd_report,
    )
    s.add_argument("work", help="work directory of a run (folder or URL)")
    s.add_argument("--out", required=True, help="folder (or URL) for stats.json and the PNG plots")

    s = command(
        "preview",
        "a static HTML page of sample rows: page images beside their pairs",
        commands.cmd_preview,
    )
    s.add_argument("out", help="output folder of `docgen shard` (data/), or its URL")
    s.add_argument("--html", required=True, help="HTML file to write (opens offline)")
    s.add_argument("--rows", type=positive, default=24, help="rows to sample (default 24)")
    s.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")

    add_train_commands(command, config, positive)

    s = command(
        "config",
        "the run configs: list the built-in ones, print one, or print the "
        "one a command would run with (--effective)",
        commands.cmd_config,
    )
    s.add_argument("action", choices=["list", "show"])
    s.add_argument("name", nargs="?", help=f"show: {config_help('default')}")
    s.add_argument(
        "--effective",
        action="store_true",
        help="show: the config after --set, every key with its value, checked as a run checks it",
    )
    s.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --effective: override a value (repeatable)",
    )
    return p


def parse(p: argparse.ArgumentParser, argv: list[str] | None):
    """``parse_args``, with positional words after options taken too (`run openai --set k=v
    PDFS`): argparse stops filling a positional list at the first option."""
    args, extra = p.parse_known_args(argv)
    words = [w for w in extra if not w.startswith("-")]
    if len(words) < len(extra) or (words and not getattr(args, "takes_inputs", False)):
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    if words:
        args.words = [*args.words, *words]
    return args


# The extra each command's optional packages come with, and how to install it.
EXTRAS = {
    "train": "make train, or pip install 'docgen[train]'",
    "eval": "make train, or pip install 'docgen[train]'",
    "push": "pip install huggingface_hub",
}


def main(argv: list[str] | None = None) -> int:
    """The one place errors become a line on stderr and an exit status (docgen.core.errors): 0 done,
    1 the run failed, 2 bad usage, config or input before any work, 130/143 interrupted."""
    from docgen.core.errors import DocgenError, Interrupted, interrupted_line, signals_interrupt

    args = parse(parser(), argv)
    prefix = f"docgen {args.command}"
    if args.verbose:
        os.environ["DOCGEN_VERBOSE"] = "1"  # read by docgen.run.orchestrate, here and on workers
    try:
        with signals_interrupt():
            commands.settle_args(args)
            return args.func(args) or 0
    except Interrupted as exc:
        print(f"\n{prefix}: {interrupted_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (`docgen ... | head`): nothing left to say, and nowhere to say it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (DocgenError, ModuleNotFoundError, ValueError, OSError) as exc:
        if args.verbose:
            import traceback

            traceback.print_exc()
        print(f"{prefix}: error: {one_line(exc, args.command)}", file=sys.stderr)
        return exit_code(exc)


# Mistakes in what the user asked for, found before any work: a bad value, a missing file.
USAGE = (
    ValueError,
    ModuleNotFoundError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)


def exit_code(exc: Exception) -> int:
    if hasattr(exc, "exit_code"):
        return exc.exit_code
    return 2 if isinstance(exc, USAGE) else 1  # another OSError: a disk full, a store gone


def one_line(exc: Exception, command: str) -> str:
    """What the user reads of an error: its message, or for a missing package what to install."""
    if isinstance(exc, ModuleNotFoundError):
        how = EXTRAS.get(command, "pip install docgen's extras (pyproject.toml)")
        return f"a package it needs is missing ({exc}); install: {how}"
    return str(exc)


if __name__ == "__main__":
    sys.exit(main())
