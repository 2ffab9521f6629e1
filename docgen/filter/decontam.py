"""Decontamination: pairs whose question is close to an evaluation set's.

Decontamination drops pairs whose question shares at least ``decontam_threshold`` of its token
n-grams with one question of an evaluation set the user supplies (JSON, JSON lines or Parquet with
a ``question`` column, or a JSON list of strings).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

import pyarrow.parquet as pq

from docgen.core.config import FilterConfig
from docgen.core.text import ngrams, tokens


def fingerprint_file(path: str | None) -> str:
    if not path:
        return ""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def eval_questions(path: str) -> list[str]:
    """Questions of an evaluation set file (JSON, JSON lines, Parquet)."""
    p = Path(path)
    if p.suffix == ".parquet":
        return [q for q in pq.read_table(p, columns=["question"]).column(0).to_pylist() if q]
    text = p.read_text("utf-8")
    try:
        data = json.loads(text)
    except ValueError:  # JSON lines
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, dict) and "question" in data:  # JSON lines with a single line
        data = [data]
    elif isinstance(data, dict):  # e.g. DocVQA's {"data": [{"question": ...}, ...]}
        data = next((v for v in data.values() if isinstance(v, list)), [])
    return [d if isinstance(d, str) else d.get("question", "") for d in data if d]


@lru_cache(maxsize=4)
def _index(path: str, digest: str, n: int, threshold: float):
    """A function question -> contaminated?, built once per worker for an evaluation file."""
    postings: dict[tuple, list[int]] = defaultdict(list)
    for i, question in enumerate(eval_questions(path)):
        for gram in ngrams(tokens(question), n):
            postings[gram].append(i)

    def contaminated(question: str) -> bool:
        grams = ngrams(tokens(question), n)
        shared = Counter(i for g in grams for i in set(postings.get(g, ())))
        return bool(shared) and max(shared.values()) / len(grams) >= threshold

    return contaminated


def contamination_index(cfg: FilterConfig):
    if not cfg.decontaminate:
        return None
    digest = fingerprint_file(cfg.decontaminate)
    return _index(cfg.decontaminate, digest, cfg.decontam_ngram, cfg.decontam_threshold)
