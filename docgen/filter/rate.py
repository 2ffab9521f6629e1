"""Optional rating of every kept pair (``filter.rate: true``, off by default).

The generation backend reads the pages each kept pair cites, as generation saw them (their images
too when ``generate.input`` sends images), with the pairs (``prompts/rate``), and scores each pair
from 1 to 5 on the four scales FineVision rates turns on: ``relevance``, ``visual_dependency``,
``image_correspondence`` and ``formatting``. The scores go into ``rating_<scale>`` columns of the
pass's own files (``WORK/rate/``) and from there into the shards, to filter by at training time
(``docgen train --min-ratings``): no rating drops a pair, but below a scale's
``filter.min_ratings`` when it names one (``rated_low:<scale>``).

Pairs of the kinds whose answer is not a span of the text layer by nature (``visual``: read off a
chart or figure; ``yes_no``, ``layout``, ``document``: see ``rules.RATER_GROUNDED``) skip the
span check when ratings are on, so the rater is what grounds them: one rated below
``GROUNDED_AT`` on ``image_correspondence`` (or ``filter.min_ratings``' own figure for it) is
dropped as ``rated_low:image_correspondence``, one the rater could not rate as ``unrated``. Any
other pair the rater could not rate is kept, unrated, and counted.
"""

from __future__ import annotations

import pyarrow as pa

from docgen.core.config import FilterConfig, GenerateConfig
from docgen.core.settings import RATINGS
from docgen.core.workdir import WorkDir
from docgen.filter.llm_pass import pair_pass
from docgen.filter.rules import RATER_GROUNDED

# The image_correspondence a pair that skipped the span check needs: the rater's "the answer is
# right for what the page shows".
GROUNDED_AT = 4


def rate_partition(wd: WorkDir, part: str, backend, gen: GenerateConfig, cfg: FilterConfig,
                   allowance=None):  # fmt: skip
    def apply(rows: list[dict], items: dict[int, dict], counts) -> dict:
        ratings = {s: [items[i][s] if i in items else None for i in range(len(rows))]
                   for s in RATINGS}  # fmt: skip
        reason = [verdict(row, {s: ratings[s][i] for s in RATINGS}, cfg)
                  for i, row in enumerate(rows)]  # fmt: skip
        return {"keep": ([r is None for r in reason], pa.bool_()),
                "reason": (reason, pa.string()),
                **{f"rating_{s}": (ratings[s], pa.int8()) for s in RATINGS}}  # fmt: skip

    settings = [gen.model, gen.input, cfg.min_ratings]
    return pair_pass(
        wd,
        part,
        backend,
        gen,
        "rate",
        "ratings",
        "rated_chats",
        settings,
        apply,
        allowance=allowance,
    )


def verdict(row: dict, ratings: dict, cfg: FilterConfig) -> str | None:
    """Why a pair goes, given its ratings (None: it stays)."""
    if not row["keep"]:
        return row["reason"]
    low = [s for s, least in cfg.min_ratings.items()
           if ratings[s] is not None and ratings[s] < least]  # fmt: skip
    if low:
        return f"rated_low:{low[0]}"
    if row["kind"] in RATER_GROUNDED:  # the rater is its grounding
        seen = ratings["image_correspondence"]
        if seen is None:
            return "unrated"
        if seen < cfg.min_ratings.get("image_correspondence", GROUNDED_AT):
            return "rated_low:image_correspondence"
    return None
