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

import pyarrow as pa

from docgen.config import FilterConfig, GenerateConfig
from docgen.llm_pass import over_kept_parts, pair_pass
from docgen.workdir import WorkDir


def judge_parts(
    work: str, parts: list[str], gen: GenerateConfig, cfg: FilterConfig, budget=None
) -> dict:
    """Judge the kept pairs of ``parts``; write each partition's verdicts (``WORK/judge/``)."""
    return over_kept_parts(work, parts, gen, cfg, "judge", judge_partition, budget)


def judge_partition(wd: WorkDir, part: str, backend, gen: GenerateConfig, cfg: FilterConfig):
    def apply(rows: list[dict], verdicts: dict[int, dict]) -> dict:
        scores = [verdicts[i]["score"] if i in verdicts else None for i in range(len(rows))]
        keep = [r["keep"] and (s is None or s >= cfg.judge_min_score)
                for r, s in zip(rows, scores)]  # fmt: skip
        reason = [r["reason"] if k or r["reason"] else "judge_low_score"
                  for r, k in zip(rows, keep)]  # fmt: skip
        return {"keep": (keep, pa.bool_()), "reason": (reason, pa.string()),
                "judge_score": (scores, pa.int8())}  # fmt: skip

    settings = [gen.model, gen.input, cfg.judge_min_score]
    return pair_pass(wd, part, backend, gen, "judge", "verdicts", "judged_chats", settings, apply)
