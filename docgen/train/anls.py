"""ANLS and exact match, as DocVQA scores answers, and the typed match of :mod:`docgen.verify`.

ANLS (Biten et al., 2019): for each gold answer, NL = Levenshtein distance / length of the longer
string, on lower-cased answers with spaces collapsed; the score is 1 - NL when NL < 0.5, else 0;
a question scores its best gold answer.
"""

from __future__ import annotations

import re

from docgen import verify


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def anls(prediction: str, golds: list[str], threshold: float = 0.5) -> float:
    """Best normalised Levenshtein similarity over the gold answers (0 without any)."""
    return max((verify.anls(prediction, gold, threshold) for gold in golds), default=0.0)


def exact_match(prediction: str, golds: list[str]) -> float:
    p = normalise(prediction)
    return float(any(p == normalise(g) for g in golds))


def typed_match(prediction: str, golds: list[str], lang: str = "und") -> float:
    """1 when the prediction is one of the gold answers compared as its type (numbers by value,
    dates by day, yes/no by meaning, lists as sets: :func:`docgen.verify.matches`)."""
    return float(any(verify.matches(prediction, gold, lang=lang) for gold in golds))
