"""Optional LLM-as-judge (``filter.judge: true``, off by default).

After the rule-based filters, the generation backend (``openai`` or ``vllm``, as configured under
``generate``) reads each document's pages with its kept pairs (``prompts/judge``) and scores every
pair's groundedness from 1 to 5. Pairs under ``filter.judge_min_score`` are dropped as
``judge_low_score``; every judged pair keeps its score in a ``judge_score`` column. A document the
judge could not score (server down, malformed reply) keeps its pairs and is counted as
``judge_failed``: the judge only ever removes what it actually scored low.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pyarrow as pa

from docgen.backends.llm import ask_json
from docgen.config import FilterConfig, GenerateConfig
from docgen.dedup import verdict_stats
from docgen.prompting import Chat, load_prompts
from docgen.workdir import WorkDir, fingerprint


def judge_chats(rows: list[dict], pages: dict[str, list[dict]], per_chat: int):
    """(chat, row indices) per document and batch of at most ``per_chat`` kept pairs."""
    prompts = load_prompts("judge")
    by_doc: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        if row["keep"]:
            by_doc.setdefault(row["doc_id"], []).append(i)
    for doc_id, indices in sorted(by_doc.items()):
        doc_pages = sorted(pages.get(doc_id, []), key=lambda p: p["page"])
        lang = doc_pages[0]["lang"] if doc_pages else "und"
        for start in range(0, len(indices), per_chat):
            batch = indices[start : start + per_chat]
            user = prompts.user_template.render(
                role=prompts.roles["judge"], lang=lang, pages=doc_pages,
                pairs=[rows[i] for i in batch],
            )  # fmt: skip
            messages = [
                {"role": "system", "content": prompts.system},
                {"role": "user", "content": user},
            ]
            yield Chat(doc_id, start, messages, [p["page"] for p in doc_pages], "judge", lang,
                       len(batch)), batch  # fmt: skip


def over_kept_parts(work: str, parts: list[str], gen: GenerateConfig, cfg: FilterConfig,
                    prompts: str, partition_fn) -> dict:  # fmt: skip
    """Run an LLM pass (``partition_fn(wd, part, backend, gen, cfg)``) over kept partitions with
    the generate backend, set up once per worker and given the ``prompts`` set (its schema is
    the structured output); returns the summed counts."""
    from docgen.generate import backend_for

    wd = WorkDir(work)
    backend = backend_for(replace(gen, prompts=prompts))
    totals: Counter = Counter()
    for part in parts:
        totals.update(partition_fn(wd, part, backend, gen, cfg))
    stats = dict(totals)
    if engine := getattr(backend, "engine_id", None):
        stats["engines"] = {engine: len(parts)}
    return stats


def indexed(reply: dict | None, key: str, size: int, counts: Counter, bad: str) -> dict:
    """The items of a judge or translation reply by their 0-based position in the batch: an
    index outside ``1..size`` (a grammar allows any integer) or given twice is counted as
    ``bad`` and ignored (the first of a repeated index counts)."""
    items: dict[int, dict] = {}
    for item in (reply or {}).get(key, []):
        index = item["index"] - 1
        if 0 <= index < size and index not in items:
            items[index] = item
        else:
            counts[bad] += 1
    return items


def judge_parts(work: str, parts: list[str], gen: GenerateConfig, cfg: FilterConfig) -> dict:
    """Judge the kept pairs of ``parts``; rewrite each partition with its verdicts."""
    return over_kept_parts(work, parts, gen, cfg, "judge", judge_partition)


def judge_partition(wd: WorkDir, part: str, backend, gen: GenerateConfig, cfg: FilterConfig):
    path = wd.part_path("kept", part)
    info = wd.info(path)
    mark = fingerprint([info.get("fingerprint"), gen.model, cfg.judge_min_score])
    if info.get("stats", {}).get("judge") == mark:
        return Counter(skipped=1)
    table = wd.read("kept", part)
    rows = table.to_pylist()
    pages: dict[str, list[dict]] = {}
    columns = ["doc_id", "page", "text", "tables", "lang"]
    for p in wd.read("pages", part, columns=columns).to_pylist():
        pages.setdefault(p["doc_id"], []).append(p)
    jobs = list(judge_chats(rows, pages, gen.max_pairs_per_request))
    scores: list[int | None] = [row.get("judge_score") for row in rows]
    counts: Counter = Counter()
    replies = ask_json(backend, [chat for chat, _ in jobs], load_prompts("judge").schema, counts)
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
    for name, values, kind in (("keep", keep, pa.bool_()), ("reason", reason, pa.string()),
                               ("judge_score", scores, pa.int8())):  # fmt: skip
        column = pa.array(values, kind)
        index = table.schema.get_field_index(name)
        if index >= 0:
            table = table.set_column(index, name, column)
        else:
            table = table.append_column(name, column)
    # Marked as judged only when every chat was answered: a rerun asks again about the rest.
    done = mark if not counts["judge_failed"] else None
    stats = {**info.get("stats", {}), **verdict_stats(table, 0), **counts, "judge": done}
    wd.write(path, table, info["fingerprint"], stats)
    return counts
