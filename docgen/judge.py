"""Optional LLM-as-judge (``filter.judge: true``, off by default).

After the rule-based filters, the generation backend (``openai`` or ``vllm``, as configured under
``generate``) reads the pages each kept pair cites, as generation saw them (with their images when
``generate.input`` sends images), with the pairs (``prompts/judge``) and scores every pair's
groundedness from 1 to 5. Pairs under ``filter.judge_min_score`` are dropped as
``judge_low_score``; every judged pair keeps its score in a ``judge_score`` column. A document the
judge could not score (server down, malformed reply) keeps its pairs and is counted as
``judge_failed``: the judge only ever removes what it actually scored low.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from docgen.backends.llm import ask_json
from docgen.config import FilterConfig, GenerateConfig
from docgen.dedup import verdict_stats
from docgen.llm_pass import (
    indexed,
    over_kept_parts,
    pages_by_doc,
    pair_chats,
    pass_cache,
    with_columns,
)
from docgen.prompting import load_prompts
from docgen.workdir import WorkDir, fingerprint


def judge_parts(work: str, parts: list[str], gen: GenerateConfig, cfg: FilterConfig) -> dict:
    """Judge the kept pairs of ``parts``; rewrite each partition with its verdicts."""
    return over_kept_parts(work, parts, gen, cfg, "judge", judge_partition)


def judge_partition(wd: WorkDir, part: str, backend, gen: GenerateConfig, cfg: FilterConfig):
    path = wd.part_path("kept", part)
    info = wd.info(path)
    mark = fingerprint([info.get("fingerprint"), gen.model, gen.input, cfg.judge_min_score])
    if info.get("stats", {}).get("judge") == mark:
        return Counter(skipped=1)
    table = wd.read("kept", part)
    rows = table.to_pylist()
    prompts = load_prompts("judge")
    pages = pages_by_doc(wd, part, gen)
    jobs = list(pair_chats(prompts, rows, pages, gen.max_pairs_per_request, "judge"))
    scores: list[int | None] = [row.get("judge_score") for row in rows]
    counts: Counter = Counter()
    replies = ask_json(
        backend, [chat for chat, _ in jobs], prompts.schema, counts, pass_cache(wd, "judge"), part
    )
    for (_, batch), reply in zip(jobs, replies):
        verdicts = indexed(reply, "verdicts", len(batch), counts, "judge_bad_index")
        if not verdicts:  # no usable verdict: the pairs are kept, the failure counted
            counts["judge_failed"] += 1
            continue
        counts["judged_chats"] += 1
        for index, verdict in verdicts.items():
            scores[batch[index]] = verdict["score"]
    keep = [r["keep"] and (s is None or s >= cfg.judge_min_score) for r, s in zip(rows, scores)]
    reason = [r["reason"] if k or r["reason"] else "judge_low_score" for r, k in zip(rows, keep)]
    table = with_columns(table, {"keep": (keep, pa.bool_()), "reason": (reason, pa.string()),
                                 "judge_score": (scores, pa.int8())})  # fmt: skip
    # Marked as judged only when every chat was answered: a rerun asks again about the rest.
    done = mark if not counts["judge_failed"] else None
    stats = {**info.get("stats", {}), **verdict_stats(table, 0), **counts, "judge": done}
    wd.write(path, table, info["fingerprint"], stats)
    return counts
