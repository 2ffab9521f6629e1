"""docgen: document-VQA training data from your own PDFs, in the shape of Docmatix.

One command per stage (extract, generate, filter, shard), `run` for the whole flow, `plan` for
what a run will cost, and the tools around it (validate, report, preview, push, train, eval).
Every command takes a run config the same way, positional or --config, and -q / -v. Exit
status: 0 done, 1 the run failed, 2 refused before any work, 130 / 143 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys

from docgen.cli import outputs, plan, stages, tools, train
from docgen.cli.options import settle_args


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

    for add in (
        tools.add_samples,
        stages.add_commands,
        plan.add_commands,
        outputs.add_commands,
        train.add_commands,
        tools.add_config,
    ):  # in --help, in this order
        add(command)
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
    from docgen.core.errors import (
        KEPT,
        DocgenError,
        Interrupted,
        interrupted_line,
        signals_interrupt,
    )

    args = parse(parser(), argv)
    prefix = f"docgen {args.command}"
    if args.verbose:
        os.environ["DOCGEN_VERBOSE"] = "1"  # read by docgen.run.orchestrate, here and on workers
    try:
        with signals_interrupt():
            settle_args(args)
            return args.func(args) or 0
    except Interrupted as exc:
        # A plan's sample runs in a folder of its own, removed on the way out: nothing to go on.
        after = (
            "nothing planned (the sample's folder is removed)" if args.command == "plan" else KEPT
        )
        print(f"\n{prefix}: {interrupted_line(exc, after)}", file=sys.stderr)
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
