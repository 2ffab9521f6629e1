"""Behaviour unchanged: the same runs with the code of two commits, shards and counts compared.

A refactor (the step contract, the executor, the pass registry) must not change what a run
makes. This makes a git worktree of ``--base`` and runs, with that tree's code and then with this
tree's, on the same inputs (the 48 sample PDFs, and a generated set of ``--docs`` more):

- ``docgen run`` (the ``rules`` generator);
- ``docgen run openai`` against tests/fake_llm.py (this tree's, for both), with the judge, the
  rater and the translator on, and once more with the page labeller (``generate.triage_model``);
- that last run again with this tree's code on a copy of the base run's answer cache alone: the
  cache keys must be the same, so it sends no request and writes the same shards.

Every run uses a local Dask cluster of 2 workers. Then every shard file is compared byte for byte
and the manifests' counts (times, paths and process ids left out). Prints each difference and
exits 1 if there is one.

    .venv/bin/python bench/same_behaviour.py --base <commit> [--docs 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What differs between two runs of the same code: left out of the comparison.
VOLATILE = ("seconds", "time", "timings", "engines", "started", "finished", "config", "input",
            "created", "path")  # fmt: skip


def worktree(base: str, where: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), base],
                   check=True, capture_output=True)  # fmt: skip
    return where


def fake_server(samples: Path) -> tuple[subprocess.Popen, str]:
    fake = [
        sys.executable,
        str(ROOT / "tests" / "fake_llm.py"),
        "--port",
        "0",
        "--truth",
        str(samples),
    ]
    proc = subprocess.Popen(fake, stdout=subprocess.PIPE, text=True)
    port = proc.stdout.readline().split()[1]
    return proc, f"http://127.0.0.1:{port}/v1"


def run(tree: Path, args: list[str], out: Path) -> float:
    """``docgen run ARGS`` with ``tree``'s code; seconds taken."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "docgen.cli", "run", *args,
                           "--work", str(out / "work"), "--out", str(out / "out"),
                           "--set", "run.progress=false", "--set", "run.workers=2"],
                          env=env, cwd=tree, capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"{tree}: docgen run {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def counts(value):
    """A manifest with what differs between runs of the same code left out."""
    if isinstance(value, dict):
        return {k: counts(v) for k, v in sorted(value.items())
                if not any(word in k for word in VOLATILE)}  # fmt: skip
    if isinstance(value, list):
        return [counts(v) for v in value]
    return value


def differences(a: Path, b: Path) -> list[str]:
    found = []
    shards_a = sorted(p.relative_to(a) for p in (a / "out").rglob("*.parquet"))
    shards_b = sorted(p.relative_to(b) for p in (b / "out").rglob("*.parquet"))
    if shards_a != shards_b:
        found.append(f"shard files differ: {shards_a} vs {shards_b}")
    for rel in set(shards_a) & set(shards_b):
        if (a / rel).read_bytes() != (b / rel).read_bytes():
            found.append(f"{rel}: bytes differ")
    ma = counts(json.loads((a / "work" / "manifest.json").read_text()))
    mb = counts(json.loads((b / "work" / "manifest.json").read_text()))
    for stage in sorted(set(ma.get("stages", {})) | set(mb.get("stages", {}))):
        sa, sb = ma.get("stages", {}).get(stage), mb.get("stages", {}).get(stage)
        if sa != sb:
            keys = sorted(k for k in set(sa or {}) | set(sb or {})
                          if (sa or {}).get(k) != (sb or {}).get(k))  # fmt: skip
            found.append(f"manifest stage {stage}: counts differ in {keys}")
    if not shards_a:
        found.append("no shards were written: nothing was compared")
    return found


def requests(manifest: Path) -> int:
    """The requests a run sent, every stage's and pass's added up."""

    def walk(value) -> int:
        if isinstance(value, dict):
            return sum(v if k == "requests" and isinstance(v, int) else walk(v)
                       for k, v in value.items())  # fmt: skip
        return sum(walk(v) for v in value) if isinstance(value, list) else 0

    return walk(json.loads(manifest.read_text()).get("stages", {}))


def from_cache(tmp: Path, i: int, case: list[str]) -> list[str]:
    """Case ``i`` run by this tree with only the base run's answer cache: what differs."""
    import shutil

    again = tmp / f"{i}-cache"
    shutil.copytree(tmp / f"{i}-base" / "work" / "cache", again / "work" / "cache")
    run(ROOT, case, again)
    found = [f for f in differences(tmp / f"{i}-base", again) if "manifest" not in f]
    if sent := requests(again / "work" / "manifest.json"):
        found.append(f"{sent} requests sent: the base's cached answers were not found")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the commit to compare with")
    parser.add_argument("--docs", type=int, default=200, help="generated PDFs besides the 48")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from docgen.samples import make_corpus

    tmp = Path(tempfile.mkdtemp())
    base = worktree(args.base, tmp / "base")
    samples, larger = tmp / "samples", tmp / "larger"
    make_corpus(samples, progress=False)
    make_corpus(larger, n=args.docs, seed=7, progress=False)
    server, url = fake_server(samples)
    passes = ["--set", "filter.judge=true", "--set", "filter.rate=true",
              "--set", "filter.translate_to=[en]", "--set", "filter.check_language=false",
              "--set", f'generate.base_urls=["{url}"]']  # fmt: skip
    cases = [("rules, samples", [str(samples)]), ("rules, larger", [str(larger)]),
             ("openai + passes, samples", ["openai", str(samples), *passes]),
             ("openai + passes, larger", ["openai", str(larger), *passes]),
             ("openai + labeller, samples", ["openai", str(samples), *passes,
                                             "--set", "generate.triage_model=true"])]  # fmt: skip
    failed = False
    try:
        for i, (name, case) in enumerate(cases):
            before = run(base, case, tmp / f"{i}-base")
            after = run(ROOT, case, tmp / f"{i}-this")
            found = differences(tmp / f"{i}-base", tmp / f"{i}-this")
            failed |= bool(found)
            verdict = "same shards, same counts" if not found else "DIFFERENT"
            print(f"{name:<26} {verdict}   base {before:6.1f} s, this tree {after:6.1f} s")
            for line in found:
                print(f"    {line}")
        *_, (name, case) = cases
        found = from_cache(tmp, len(cases) - 1, case)
        failed |= bool(found)
        verdict = "no request, same shards" if not found else "DIFFERENT"
        print(f"{name + ', cache':<26} {verdict}   (this tree on the base's answer cache)")
        for line in found:
            print(f"    {line}")
    finally:
        server.terminate()
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                       capture_output=True)  # fmt: skip
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
