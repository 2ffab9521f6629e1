"""How a run's stages ended, and what that makes of the run: a stage in which everything failed
stops it in one line naming the causes (no empty dataset goes out as if it were one); a spent
token budget stops it cleanly, saying where; a stage a rerun finds done says so."""

from __future__ import annotations

import time
from collections import Counter

from docgen.core.config import RunConfig
from docgen.core.errors import RunFailed
from docgen.core.workdir import WorkDir
from docgen.filter import passes


def check_llm_pass(name: str, stats: dict) -> None:
    """The judge or the translator, every request of which failed, stops the run in one line:
    the dataset would go out unjudged or untranslated as if it had been."""
    failed = stats.get("failures", {})
    sent = stats.get("chats", 0)
    # A spent token budget is a clean stop (the run says so), not a failure.
    if sent and sum(failed.values()) >= sent and set(failed) != {"budget"}:
        causes = ", ".join(f"{k} {v}" for k, v in sorted(failed.items()))
        raise RunFailed(f"filter's {name} failed for every request ({sent}; by cause: {causes})")


def check_generated(stats: dict) -> None:
    """A generate stage in which every document of this run failed stops the run, in one line
    naming the causes (a wrong model name, a server down, an engine that cannot start)."""
    documents = stats.get("documents", 0)
    causes = ", ".join(f"{k} {v}" for k, v in sorted(stats.get("failures", {}).items()))
    first = stats.get("first_error", "")
    first = first if len(first) <= 300 else f"{first[:300]}… (whole in WORK/errors)"
    if stats.get("failures", {}).get("fatal"):  # a refused key, a model that is not there
        raise RunFailed(f"generate stopped at the server's answer: {first}")
    if not documents or stats.get("pairs", 0) or stats.get("failed_documents", 0) < documents:
        return
    raise RunFailed(
        f"generate failed for every document ({documents}; failed requests by cause: "
        f"{causes or 'none'}); first error: {first}"
    )


def kept_counts(wd: WorkDir, parts: list[str]) -> dict:
    """Pairs judged, kept and dropped by reason, after every pass (from the files' counts)."""
    final = [passes.final_stats(wd, part) for part in parts]
    dropped: Counter = Counter()
    for s in final:
        dropped.update(s.get("dropped", {}))
    return {
        "pairs": sum(s.get("pairs", 0) for s in final),
        "kept": sum(s.get("kept", 0) for s in final),
        "dropped": dict(sorted(dropped.items())),
    }


def check_kept(counts: dict) -> None:
    """No pair kept is a failed run, not an empty dataset: one line saying why."""
    if counts.get("kept"):
        return
    if not counts.get("pairs"):
        raise RunFailed("no pairs were generated, so none could be kept: nothing to shard")
    top = "; ".join(f"{n} × {r}" for r, n in sorted(counts["dropped"].items(),
                                                    key=lambda kv: -kv[1])[:3])  # fmt: skip
    raise RunFailed(f"no pair was kept: all {counts['pairs']} dropped ({top}); see docgen report")


def nothing_done(stage: str, stats: dict) -> str | None:
    """A stage whose every partition was done before (a rerun), in one line."""
    n = stats.get("partitions", 0)
    if n and stats.get("skipped", 0) >= n:
        return f"{stage}: nothing to do ({n} partition(s) done before)"
    return None


def budget_stop(wd: WorkDir, cfg: RunConfig, stages, timings, start: float, where: str) -> dict:
    """End a run whose token budget is spent: the manifest says where, and how to go on."""
    timings["total"] = round(time.perf_counter() - start, 2)
    stopped = (
        f"token budget of {cfg.generate.token_budget} reached: {where}; rerun to go on: "
        "answers already received are cached and cost nothing"
    )
    return wd.update_manifest(stages=stages, timings=timings, stopped=stopped)
