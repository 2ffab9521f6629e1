"""Optional rating of every kept pair (``filter.rate: true``, off by default).

The generation backend reads the pages each kept pair cites, as generation saw them (their images
too when ``generate.input`` sends images), with the pairs (``prompts/rate``), and scores each pair
from 1 to 5 on the four scales FineVision rates turns on: ``relevance``, ``visual_dependency``,
``image_correspondence`` and ``formatting``. The scores go into ``rating_<scale>`` columns of the
kept pairs and from there into the shards; a pair rated below ``filter.min_ratings`` on a scale is
dropped as ``rated_low:<scale>``.

Pairs of the kinds whose answer is not a span of the text layer by nature (``visual``: read off a
chart or figure; ``yes_no``, ``layout``, ``document``: see ``filters.RATER_GROUNDED``) skip the
span check when ratings are on, so the rater is what grounds them: one the rater could not rate
is dropped as ``unrated``. Any other pair the rater could not rate is kept, unrated, and counted.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from docgen.config import FilterConfig, GenerateConfig
from docgen.filters import RATER_GROUNDED, RATINGS
from docgen.llm_pass import (
    ask_about_pairs,
    done_before,
    mark_of,
    over_kept_parts,
    rewrite,
    with_columns,
)
from docgen.workdir import WorkDir


def rate_parts(
    work: str, parts: list[str], gen: GenerateConfig, cfg: FilterConfig, budget=None
) -> dict:
    """Rate the kept pairs of ``parts``; rewrite each partition with the ratings."""
    return over_kept_parts(work, parts, gen, cfg, "rate", rate_partition, budget)


def rate_partition(wd: WorkDir, part: str, backend, gen: GenerateConfig, cfg: FilterConfig):
    mark = mark_of(wd, part, gen.model, gen.input, cfg.min_ratings)
    if done_before(wd, part, "rate", mark):
        return Counter(skipped=1)
    table = wd.read("kept", part)
    rows = table.to_pylist()
    for row in rows:  # left unrated by an earlier run: asked about again
        if row["reason"] == "unrated":
            row["keep"], row["reason"] = True, None
    items, counts = ask_about_pairs(wd, part, backend, gen, rows, "rate", "ratings",
                                    "rated_chats")  # fmt: skip
    ratings = {s: [items[i][s] if i in items else row.get(f"rating_{s}")
                   for i, row in enumerate(rows)] for s in RATINGS}  # fmt: skip
    keep, reason = [], []
    for i, row in enumerate(rows):
        why = row["reason"]
        if row["keep"]:
            low = [s for s, least in cfg.min_ratings.items()
                   if ratings[s][i] is not None and ratings[s][i] < least]  # fmt: skip
            if low:
                why = f"rated_low:{low[0]}"
            elif row["kind"] in RATER_GROUNDED and ratings["image_correspondence"][i] is None:
                why = "unrated"
        keep.append(why is None)
        reason.append(why)
    columns = {f"rating_{s}": (ratings[s], pa.int8()) for s in RATINGS}
    table = with_columns(table, {"keep": (keep, pa.bool_()), "reason": (reason, pa.string()),
                                 **columns})  # fmt: skip
    rewrite(wd, part, table, counts, "rate", mark)
    return counts
