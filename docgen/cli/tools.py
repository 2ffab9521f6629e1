"""``samples`` (the bundled corpus) and ``config`` (the run configs)."""

from __future__ import annotations

import os

from docgen.cli.options import config_help, looks_like_config, positive
from docgen.core.config import load_config


def add_samples(command) -> None:
    s = command("samples", "write the bundled sample corpus (PDFs + ground truth)", cmd_samples)
    s.add_argument("--out", required=True, help="folder for the PDFs and their .json sidecars")
    s.add_argument(
        "--n",
        type=positive,
        default=48,
        help="number of documents (default 48: six kinds in eight languages)",
    )
    s.add_argument("--seed", type=int, default=0, help="corpus seed (same seed, same files)")


def add_config(command) -> None:
    s = command(
        "config",
        "the run configs: list the built-in ones, print one, or print the "
        "one a command would run with (--effective)",
        cmd_config,
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


def cmd_samples(args) -> None:
    from docgen.samples import make_corpus

    paths = make_corpus(args.out, n=args.n, seed=args.seed)
    print(f"wrote {len(paths)} sample PDFs with ground truth to {args.out}")


def cmd_config(args) -> None:
    """List the built-in run configs, print one (to start a file of your own from), or print the
    config a command would run with after --set (every key, checked, with its help)."""
    from docgen.core.config import annotated, builtin_configs, config_path

    if args.action == "list":
        print("\n".join(builtin_configs()))
        return
    if args.effective:
        cfg = load_config(args.name or "default", list(args.set))
        print(annotated(cfg), end="")
        return
    if args.set:
        raise ValueError("--set goes with --effective (config show NAME --effective --set K=V)")
    name = args.name or "default"
    if not looks_like_config(name) or not os.path.exists(config_path(name)):
        raise ValueError(f"no built-in config {name!r}: {', '.join(builtin_configs())}")
    print(config_path(name).read_text("utf-8"), end="")
