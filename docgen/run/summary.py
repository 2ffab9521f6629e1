"""The summary printed after a run, from its manifest."""

from __future__ import annotations

from docgen.filter.passes import LLM_PASSES
from docgen.run.reasons import cause_lines, drop_lines, failure_causes


def summary(manifest: dict, work=None) -> str:
    """The closing summary printed after a run (with ``work``: why documents failed, from its
    error rows)."""
    s, t = manifest.get("stages", {}), manifest.get("timings", {})
    ex, ge, fi, sh = (s.get(k, {}) for k in ("extract", "generate", "filter", "shard"))
    drops = fi.get("dropped", {})
    dropped = f"{sum(drops.values())} pairs, by reason:" if drops else "none"
    return "\n".join(
        [
            "docgen run summary",
            f"  documents   {ex.get('documents', 0)} ok, {ex.get('failed_documents', 0)} failed"
            f"{may_pass(ex)}, {ex.get('duplicate_inputs', 0)} duplicate inputs",
            f"  pages       {ex.get('pages', 0)} ({ex.get('failed_pages', 0)} failed)",
            *triage_lines(ge),
            f"  pairs       {ge.get('pairs', 0)} generated, {fi.get('kept', 0)} kept"
            + unanswerable_note(fi.get("unanswerable")),
            *generate_failed_lines(ge),
            *llm_lines(ge),
            *pass_lines(fi),
            *failure_lines(work, s),
            f"  dropped     {dropped}",
            *drop_lines(drops),
            f"  rows        {sh.get('rows', 0)} in {len(sh.get('shards', []))} shard(s)",
            f"  skipped     {ex.get('skipped', 0)} extract, {ge.get('skipped', 0)} generate, "
            f"{fi.get('skipped', 0)} filter partitions already done",
            *fault_lines(s),
            *[f"  note        {n}" for n in [empty_test_split(sh, test_fraction(manifest))] if n],
            f"  time        {t.get('total', 0):.1f} s",
            *([f"  stopped     {manifest['stopped']}"] if manifest.get("stopped") else []),
        ]
    )


def unanswerable_note(st) -> str:
    """The hard negatives among the kept pairs (filter.unanswerable_share), in words."""
    if not isinstance(st, dict) or not st.get("unanswerable"):
        return ""
    return (
        f" ({st['unanswerable']} of them unanswerable: questions asked of another document's page)"
    )


def failure_lines(work, stages: dict) -> list[str]:
    """The most common reasons documents and pages failed, with an example each (the error
    files are read only when the counts say something failed)."""
    causes = failure_causes(work) if work and any_failed(stages) else []
    if not causes:
        return []
    total = sum(n for _, _, n, _ in causes)
    return [f"  failures    {total}, by reason:", *cause_lines(causes)]


def test_fraction(manifest: dict) -> float:
    return (manifest.get("config") or {}).get("shard", {}).get("test_fraction") or 0.0


def empty_test_split(shard: dict, fraction: float) -> str | None:
    """A test split asked for and left empty (too few documents for the fraction), in words."""
    if not fraction or not shard or "test" in shard.get("splits", {}):
        return None
    return (f"no document fell in the test split (test_fraction {fraction:g} of "
            f"{shard.get('rows', 0)} documents): every row is in train")  # fmt: skip


def any_failed(stages: dict) -> bool:
    ex, ge = stages.get("extract", {}), stages.get("generate", {})
    keys = ("failed_documents", "failed_pages", "unreadable_inputs", "failed_tasks")
    return any(ex.get(k) for k in keys) or bool(
        ge.get("failed_documents") or ge.get("partial_documents")
    )


def may_pass(stage: dict) -> str:
    """How many of a stage's failed documents a rerun will try again."""
    n = stage.get("retryable_documents", 0)
    return f" ({n} may pass: run the same command to try again)" if n else ""


def fault_lines(stages: dict) -> list[str]:
    """Tasks run again after their worker died, and tasks given up, per stage (when any)."""
    faults = [
        f"{name} {st.get('retried_tasks', 0)} retried, {st.get('failed_tasks', 0)} failed"
        f"{' (' + ', '.join(st['failed']) + ')' if st.get('failed') else ''}"
        for name, st in stages.items()
        if isinstance(st, dict) and (st.get("retried_tasks") or st.get("failed_tasks"))
    ]
    return [f"  workers     lost while running: {'; '.join(faults)}"] if faults else []


def triage_lines(ge: dict) -> list[str]:
    """Pages triage kept from the model, by reason (when any)."""
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(ge.get("triage", {}).items()) if v)
    return [f"  triage      pages skipped: {skipped}"] if skipped else []


def pass_lines(fi: dict) -> list[str]:
    """The LLM passes over the kept pairs: chats asked, from cache, failed, tokens spent."""
    lines = []
    for name in LLM_PASSES:
        st = fi.get(name)
        if isinstance(st, dict) and st.get("chats"):
            failed = sum(st.get("failures", {}).values())
            lines.append(
                f"  {name:<11} {st['chats']} chats ({st.get('cached_requests', 0)} from cache, "
                f"{failed} failed), {st.get('prompt_tokens', 0)} prompt + "
                f"{st.get('completion_tokens', 0)} completion tokens spent"
            )
    return lines + judge_check_lines(fi.get("judge"))


def judge_check_lines(st) -> list[str]:
    """How the judge scored its control pairs, and where its verdicts were not used."""
    if not isinstance(st, dict) or not st.get("judge_controls_right"):
        return []
    right = st["judge_controls_right_score"] / st["judge_controls_right"]
    wrong = st.get("judge_controls_wrong_score", 0) / max(1, st.get("judge_controls_wrong", 0))
    line = f"  {'':<11} control pairs scored {right:.1f} known-right, {wrong:.1f} known-wrong"
    if not st.get("judge_blind"):
        return [line]
    parts = st.get("judge_checked", 0) + st.get("judge_unchecked", 0)
    return [line, f"  {'':<11} judge verdicts NOT used in {st['judge_blind']} of {parts} "
                  "partitions: it scored known-wrong pairs like known-right ones (a stronger "
                  "model may judge)"]  # fmt: skip


def generate_failed_lines(ge: dict) -> list[str]:
    """Documents the model gave no pairs for, or pairs for some of their chats only."""
    failed, partly = ge.get("failed_documents", 0), ge.get("partial_documents", 0)
    if not failed and not partly:
        return []
    total = ge.get("documents", 0)
    return [f"  generate    {failed} of {total} documents failed, {partly} partly{may_pass(ge)}"]


def llm_lines(ge: dict) -> list[str]:
    """Request and token counts, for runs through a model."""
    if not ge.get("requests") and not ge.get("cached_requests"):
        return []
    failures = ", ".join(f"{k} {v}" for k, v in sorted(ge.get("failures", {}).items()))
    return [
        f"  requests    {ge.get('requests', 0)} sent ({ge.get('retries', 0)} retries), "
        f"{ge.get('cached_requests', 0)} from cache, failed: {failures or 'none'}",
        f"  tokens      {ge.get('prompt_tokens', 0)} prompt, "
        f"{ge.get('completion_tokens', 0)} completion, {ge.get('spent_tokens', 0)} spent by this "
        f"run's requests ({ge.get('model', '')})",
    ]
