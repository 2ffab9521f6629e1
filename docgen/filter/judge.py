"""Optional LLM-as-judge (``filter.judge: true``, off by default).

After the rule-based filters, the generation backend (``openai`` or ``vllm``, as configured under
``generate``) reads the pages each kept pair cites, as generation saw them (with their images when
``generate.input`` sends images), with the pairs (``prompts/judge``) and scores every pair's
groundedness from 1 to 5. Pairs under ``filter.judge_min_score`` are dropped as
``judge_low_score``; every judged pair keeps its score in a ``judge_score`` column. A document the
judge could not score (server down, malformed reply) keeps its pairs and is counted as
``judge_failed``: the judge only ever removes what it actually scored low.

A judge is checked, not trusted. Each chat carries control pairs made from the pages' own fields
(:mod:`docgen.generate.facts`, as the ``rules`` generator reads them), at seeded places among the
pairs: a known-right one (a field's question and its value) and a known-wrong one (the same
question with another field's value). Where a partition's judge scored the known-wrong controls
within ``CONTROL_MARGIN`` of the known-right ones (two of each at least), its verdicts are not
used: its pairs stay as the filters left them, ``judge_blind`` counts the partition, and the
summary says so (``judge_unchecked``: partitions with too few fields for controls).
"""

from __future__ import annotations

import random
from collections import Counter

import pyarrow as pa

from docgen.core.config import FilterConfig, GenerateConfig
from docgen.core.workdir import WorkDir
from docgen.filter.llm_pass import pair_pass

# Points (of 1 to 5) a judge must score known-right controls above known-wrong ones, on average.
CONTROL_MARGIN = 1.5
FIELD_KINDS = ("field", "date", "amount", "table")  # short values, wrong when swapped


def controls(shown: list[dict], lang: str, seed: str) -> list[dict]:
    """A known-right and a known-wrong pair about the pages ``shown``; none where they state
    fewer than two fields with different values."""
    from docgen.generate.backends.rules import question
    from docgen.generate.facts import facts_of_page

    facts = [f for p in shown for f in facts_of_page(p) if f["kind"] in FIELD_KINDS]
    rng = random.Random(seed)
    rng.shuffle(facts)
    for fact in facts:
        others = [f for f in facts if f["answer"] not in fact["answer"]
                  and fact["answer"] not in f["answer"]]  # fmt: skip
        if others:
            # A plausible lie: a value of the same kind, from another row of a table.
            alike = [f for f in others if f["kind"] == fact["kind"] and (
                f["kind"] != "table" or f["key"][0] != fact["key"][0])] or others  # fmt: skip
            asked, lie = question(fact, lang, rng), rng.choice(alike)["answer"]
            return [{"question": asked, "answer": fact["answer"], "control": "right"},
                    {"question": asked, "answer": lie, "control": "wrong"}]  # fmt: skip
    return []


def blind(right: list[int], wrong: list[int]) -> bool | None:
    """Whether a judge's scores of the controls say it cannot tell right from wrong; None where
    there were too few controls to say (pages with fewer than two fields)."""
    if len(right) < 2 or len(wrong) < 2:
        return None
    return sum(right) / len(right) - sum(wrong) / len(wrong) < CONTROL_MARGIN


def judge_partition(wd: WorkDir, part: str, backend, gen: GenerateConfig, cfg: FilterConfig,
                    allowance=None):  # fmt: skip
    def apply(rows: list[dict], verdicts: dict[int, dict], counts: Counter) -> dict:
        scores = [verdicts[i]["score"] if i in verdicts else None for i in range(len(rows))]
        checks = {"right": [], "wrong": []}
        for i, verdict in verdicts.items():
            if i >= len(rows):  # a control pair
                checks[verdict["control"]].append(verdict["score"])
        for kind, given in checks.items():
            counts[f"judge_controls_{kind}"] += len(given)
            counts[f"judge_controls_{kind}_score"] += sum(given)
        verdict = blind(checks["right"], checks["wrong"])
        counts["judge_unchecked" if verdict is None else "judge_checked"] += 1
        if verdict:
            counts["judge_blind"] += 1  # its verdicts are not used: the pairs stay as they were
            scores = [None] * len(rows)
        keep = [r["keep"] and (s is None or s >= cfg.judge_min_score)
                for r, s in zip(rows, scores)]  # fmt: skip
        reason = [r["reason"] if k or r["reason"] else "judge_low_score"
                  for r, k in zip(rows, keep)]  # fmt: skip
        return {"keep": (keep, pa.bool_()), "reason": (reason, pa.string()),
                "judge_score": (scores, pa.int8())}  # fmt: skip

    settings = [gen.model, gen.input, cfg.judge_min_score, "controls"]
    return pair_pass(wd, part, backend, gen, "judge", "verdicts", "judged_chats", settings, apply,
                     extra=controls, allowance=allowance)  # fmt: skip
