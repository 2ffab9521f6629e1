"""``docgen report WORK --out DIR``: what was generated, kept and why, as numbers and plots.

Writes ``DIR/stats.json`` and PNG plots (matplotlib, no display needed): pairs per document,
question and answer lengths, drops by reason, languages, kinds of question, and the kept pairs'
ratings when they were rated. Partitions are read one
at a time and only counted, so a report on millions of pairs takes little memory.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path

from docgen.core.settings import RATINGS
from docgen.core.storage import location
from docgen.core.workdir import KEPT, PAGES, WorkDir
from docgen.filter.passes import joined

COLUMNS = ["doc_id", "question", "answer", "kind", "lang", "keep", "reason"]


def summarize(lengths: Counter) -> dict:
    """Mean, median, 95th percentile and max of a length histogram."""
    total = sum(lengths.values())
    if not total:
        return {"count": 0}
    ordered = sorted(lengths.elements())
    return {
        "count": total,
        "mean": round(statistics.fmean(ordered), 1),
        "median": ordered[total // 2],
        "p95": ordered[min(total - 1, int(total * 0.95))],
        "max": ordered[-1],
    }


def collect(work: str | Path) -> tuple[dict, tuple[Counter, Counter]]:
    """Counts over every kept partition of the run (pairs judged, kept, and why not), and the
    question and answer length histograms of the kept pairs (for the plots)."""
    wd = WorkDir(work)
    per_doc: Counter = Counter()
    q_len, a_len, reasons, kinds, langs, page_langs = (Counter() for _ in range(6))
    ratings: dict[str, Counter] = {}
    judged = kept = 0
    for part in wd.run_parts(KEPT):
        table = joined(wd, part, columns=COLUMNS + [f"rating_{s}" for s in RATINGS])
        rated = [c for c in table.schema.names if c.startswith("rating_")]
        for row in table.to_pylist():
            judged += 1
            if not row["keep"]:
                reasons[row["reason"] or "unknown"] += 1
                continue
            kept += 1
            per_doc[row["doc_id"]] += 1
            q_len[len(row["question"])] += 1
            a_len[len(row["answer"])] += 1
            kinds[row["kind"] or "unknown"] += 1
            langs[row["lang"] or "und"] += 1
            for column in rated:
                ratings.setdefault(column.removeprefix("rating_"), Counter())[row[column]] += 1
        page_langs.update(wd.read(PAGES, part, columns=["lang"]).column(0).to_pylist())
    stages = wd.manifest().get("stages", {})
    gen_cfg = wd.manifest().get("config", {}).get("generate", {})
    extract = stages.get("extract", {})
    documents = extract.get("documents", len(per_doc))
    histogram = Counter(per_doc.values())
    histogram[0] = max(0, documents - len(per_doc))  # documents left without a pair
    return {
        "documents": documents,
        "failed_documents": extract.get("failed_documents", 0),
        "pages": extract.get("pages", sum(page_langs.values())),
        "pairs_judged": judged,
        "pairs_kept": kept,
        "keep_rate": round(kept / judged, 4) if judged else None,
        "dropped": dict(reasons.most_common()),
        "pairs_per_document": {str(k): v for k, v in sorted(histogram.items())},
        "question_chars": summarize(q_len),
        "answer_chars": summarize(a_len),
        "kinds": dict(kinds.most_common()),
        "kind_mix": kind_mix(kinds, gen_cfg),
        "triage_skipped": stages.get("generate", {}).get("triage", {}),  # pages, by reason
        # Kept pairs per score, per rating scale (filter.rate); "none": the rater gave none.
        "ratings": {
            scale: {str(k) if k else "none": v for k, v in sorted(c.items(), key=str)}
            for scale, c in ratings.items()
        },  # fmt: skip
        "pair_languages": dict(langs.most_common()),
        "page_languages": dict(page_langs.most_common()),
        "generator": stages.get("generate", {}).get("model") or gen_cfg.get("backend"),
    }, (q_len, a_len)


def kind_mix(kinds: Counter, gen_cfg: dict) -> dict:
    """Per kind of question, its share of the kept pairs against the share the LLM prompt asked
    for (``generate.kind_shares`` or the prompt set's kinds.yaml); empty for ``rules``."""
    from docgen.generate.chats import load_prompts

    if gen_cfg.get("backend", "rules") == "rules":
        return {}
    try:
        target = load_prompts(gen_cfg.get("prompts") or "llm").shares(gen_cfg.get("kind_shares"))
    except (OSError, ValueError):  # a prompt set that is gone or changed since the run
        return {}
    total, kept = sum(target.values()) or 1, sum(kinds.values()) or 1
    return {k: {"target": round(target.get(k, 0) / total, 3), "kept": round(kinds[k] / kept, 3)}
            for k in sorted(set(target) | set(kinds), key=lambda k: -target.get(k, 0))}  # fmt: skip


def bar(ax, counts: dict, title: str, xlabel: str = "") -> None:
    names = list(counts) or ["none"]
    ax.bar(range(len(names)), [counts.get(n, 0) for n in names], color="#4c72b0")
    ax.set_xticks(range(len(names)), names, rotation=45 if len(names) > 6 else 0, ha="right")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")


def plot(stats: dict, lengths: tuple[Counter, Counter], out: Path) -> list[str]:
    """One PNG per view; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers
    import matplotlib.pyplot as plt

    q_len, a_len = lengths
    views = {
        "pairs_per_document.png": lambda ax: bar(
            ax, stats["pairs_per_document"], "Kept pairs per document", "pairs"
        ),
        "question_length.png": lambda ax: hist(ax, q_len, "Question length", "characters"),
        "answer_length.png": lambda ax: hist(ax, a_len, "Answer length", "characters"),
        "drops_by_reason.png": lambda ax: bar(ax, stats["dropped"], "Pairs dropped, by reason"),
        "languages.png": lambda ax: bar(ax, stats["pair_languages"], "Kept pairs per language"),
        "kinds.png": lambda ax: bar(ax, stats["kinds"], "Kinds of question kept"),
    }
    for name, draw in views.items():
        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
        draw(ax)
        fig.tight_layout()
        with (out / name).open("wb") as f:  # OUT may be a URL
            fig.savefig(f, format="png")
        plt.close(fig)
    return list(views)


def hist(ax, lengths: Counter, title: str, xlabel: str) -> None:
    values = list(lengths.elements()) or [0]
    ax.hist(values, bins=min(40, max(5, len(set(values)))), color="#55a868")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("pairs")


def write_report(work: str | Path, out: str | Path) -> dict:
    """``out/stats.json`` and the plots; returns the stats."""
    out = location(out)
    out.mkdir(parents=True, exist_ok=True)
    stats, lengths = collect(work)
    stats["plots"] = plot(stats, lengths, out)
    (out / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False), "utf-8")
    return stats
