"""Filter stage: every pair passes a chain of filters, each returning ``(keep, reason)``.

The first filter that rejects a pair names the reason; reasons are counted per partition and
summed into the manifest. ``kept/part-<id>.parquet`` holds every pair with ``keep`` and ``reason``
columns, so what was dropped can be audited next to what was kept.
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pyarrow as pa

from docgen.config import FilterConfig
from docgen.layout import parse_markdown_table
from docgen.text import normalize
from docgen.workdir import WorkDir

CODE = re.compile(r"```|\bdef \w+\(|\bfunction\s*\(|</?\w+[^>]*>|\{\s*\"\w+\"\s*:|;\s*$|=>|\+\+")
MARKERS = re.compile(r"(^|\s)(Q|A)\d+\s*[:：.]", re.IGNORECASE)
# "Unanswerable" and refusals in the supported languages (lower-cased comparison form).
UNANSWERABLE = re.compile(
    "|".join(
        [
            r"unanswerable",
            r"not (?:mentioned|provided|specified|stated|available) in",
            r"cannot be (?:determined|answered)",
            r"^n/?a$",
            r"i (?:cannot|can't|am unable)",
            r"non (?:mentionné|précisé|indiqué)",
            r"impossible de répondre",
            r"nicht (?:angegeben|erwähnt|beantwortbar)",
            r"no (?:se )?(?:menciona|especifica|indica)",
            r"غير مذكور",
            r"لا يمكن الإجابة",
            r"未提及",
            r"无法回答",
            r"記載されていません",
            r"回答できません",
            r"언급되지 않",
            r"답할 수 없",
        ]
    )
)


def not_empty(pair, page_text, cfg):
    return bool(pair["question"].strip() and pair["answer"].strip()), "empty"


def no_code(pair, page_text, cfg):
    return not (CODE.search(pair["question"]) or CODE.search(pair["answer"])), "code"


def no_markers(pair, page_text, cfg):
    return not (MARKERS.search(pair["question"]) or MARKERS.search(pair["answer"])), "qa_marker"


def readable(pair, page_text, cfg):
    """U+FFFD means the PDF's text layer had a glyph with no Unicode value."""
    return "\ufffd" not in pair["question"] + pair["answer"], "unreadable"


def answerable(pair, page_text, cfg):
    return not UNANSWERABLE.search(normalize(pair["answer"])), "unanswerable"


def length_ok(pair, page_text, cfg):
    q, a = pair["question"].strip(), pair["answer"].strip()
    if len(q) < cfg.min_question_chars or len(q) > cfg.max_question_chars:
        return False, "question_length"
    return len(a) <= cfg.max_answer_chars, "answer_length"


def grounded(pair, page_text, cfg):
    """The answer must be a span of the pages it cites (text or table cells), after normalising."""
    if not cfg.require_grounded:
        return True, ""
    return normalize(pair["answer"]) in page_text, "ungrounded"


FILTERS = (not_empty, readable, no_code, no_markers, answerable, length_ok, grounded)


def page_texts(pages: list[dict]) -> dict[tuple[str, int], str]:
    """Comparison text of each page: its text plus its table cells, normalised."""
    out = {}
    for p in pages:
        cells = [c for md in p["tables"] for row in parse_markdown_table(md) for c in row]
        out[(p["doc_id"], p["page"])] = normalize("\n".join([p["text"], *cells]))
    return out


def judge(pairs: list[dict], texts: dict, cfg: FilterConfig) -> list[tuple[bool, str | None]]:
    """(keep, reason) for every pair, in order; duplicates are judged against earlier kept pairs."""
    verdicts, seen = [], set()
    for pair in pairs:
        text = "\n".join(texts.get((pair["doc_id"], n), "") for n in pair["pages"])
        reason = next((r for f in FILTERS for ok, r in [f(pair, text, cfg)] if not ok), None)
        if reason is None:
            key = (pair["doc_id"], normalize(pair["question"]))
            reason = "duplicate_question" if key in seen else None
            seen.add(key)
        verdicts.append((reason is None, reason))
    return verdicts


def filter_partition(work: str, part: str, cfg: FilterConfig) -> dict:
    wd = WorkDir(work)
    fp = wd.step_fingerprint("qa", part, cfg)
    out = wd.part_path("kept", part)
    if (stats := wd.done(out, fp)) is not None:
        return {**stats, "skipped": 1}
    start = time.perf_counter()
    qa = wd.read("qa", part)
    pages = wd.read("pages", part, columns=["doc_id", "page", "text", "tables"]).to_pylist()
    verdicts = judge(qa.to_pylist(), page_texts(pages), cfg)
    table = qa.append_column("keep", pa.array([k for k, _ in verdicts], pa.bool_()))
    table = table.append_column("reason", pa.array([r for _, r in verdicts], pa.string()))
    reasons = Counter(r for _, r in verdicts if r)
    stats = {
        "pairs": len(verdicts),
        "kept": len(verdicts) - sum(reasons.values()),
        "dropped": dict(reasons),
        "seconds": round(time.perf_counter() - start, 3),
        "skipped": 0,
    }
    wd.write(out, table, fp, stats)
    return stats
