"""The commands over a run's output: ``validate``, ``push``, ``report`` and ``preview``."""

from __future__ import annotations

import sys

from docgen.cli.options import positive, require
from docgen.core.storage import check_writable


def add_commands(command) -> None:
    s = command(
        "validate",
        "check shards and card: names, schema, images decode, no empty texts, counts",
        cmd_validate,
    )
    s.add_argument("out", help="output folder of `docgen shard` (data/ and README.md), or its URL")

    s = command(
        "push",
        "upload shards and card to a Hugging Face dataset repo (resumable)",
        cmd_push,
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
        cmd_report,
    )
    s.add_argument("work", help="work directory of a run (folder or URL)")
    s.add_argument("--out", required=True, help="folder (or URL) for stats.json and the PNG plots")

    s = command(
        "preview",
        "a static HTML page of sample rows: page images beside their pairs",
        cmd_preview,
    )
    s.add_argument("out", help="output folder of `docgen shard` (data/), or its URL")
    s.add_argument("--html", required=True, help="HTML file to write (opens offline)")
    s.add_argument("--rows", type=positive, default=24, help="rows to sample (default 24)")
    s.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")


def cmd_validate(args) -> int:
    from docgen.core.errors import UsageError
    from docgen.core.storage import location
    from docgen.shard.validate import validate

    if not location(args.out).exists():  # one line, not a list of what an absent folder lacks
        raise UsageError(f"no dataset folder {args.out}: `docgen run` or `docgen shard` writes "
                         "one (`--out FOLDER`)")  # fmt: skip
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
