"""ANLS and exact match, as DocVQA scores answers.

ANLS (Biten et al., 2019): for each gold answer, NL = Levenshtein distance / length of the longer
string, on lower-cased answers with spaces collapsed; the score is 1 - NL when NL < 0.5, else 0;
a question scores its best gold answer.
"""

from __future__ import annotations

import re

from rapidfuzz.distance import Levenshtein


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def anls(prediction: str, golds: list[str], threshold: float = 0.5) -> float:
    """Best normalised Levenshtein similarity over the gold answers (0 without any)."""
    best = 0.0
    p = normalise(prediction)
    for gold in golds:
        g = normalise(gold)
        longest = max(len(p), len(g))
        if longest == 0:
            return 1.0  # both empty
        nl = Levenshtein.distance(p, g) / longest
        best = max(best, 1 - nl if nl < threshold else 0.0)
    return best


def exact_match(prediction: str, golds: list[str]) -> float:
    p = normalise(prediction)
    return float(any(p == normalise(g) for g in golds))
