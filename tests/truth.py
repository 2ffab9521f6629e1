"""Score kept pairs against the sample corpus's ground truth (shared by tests and `make check`)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from docgen.text import normalize


def truth_index(samples: Path) -> dict:
    """(source file, page, kind key) -> value, from the .json sidecars."""
    index = {}
    for sidecar in samples.glob("*.json"):
        truth = json.loads(sidecar.read_text("utf-8"))
        for page in truth["pages"]:
            for fact in page["facts"]:
                key = (
                    json.dumps(fact["key"], ensure_ascii=False)
                    if isinstance(fact["key"], list)
                    else fact["key"]
                )
                index[(truth["file"], page["page"], normalize(key))] = (
                    truth["lang"],
                    fact["value"],
                )
    return index


def score(kept: list[dict], samples: Path) -> dict[str, tuple[int, int]]:
    """Per language: (pairs whose answer equals the ground-truth value of their fact, pairs)."""
    index = truth_index(samples)
    counts = defaultdict(lambda: [0, 0])
    for pair in kept:
        ev = json.loads(pair["evidence"])
        key = (
            json.dumps(ev["key"], ensure_ascii=False) if isinstance(ev["key"], list) else ev["key"]
        )
        lang, value = index.get((pair["source"], pair["pages"][0], normalize(key)), (None, None))
        lang = lang or pair["source"].rsplit("-", 1)[-1].removesuffix(".pdf")
        counts[lang][1] += 1
        if value is not None and " ".join(value.split()) == " ".join(pair["answer"].split()):
            counts[lang][0] += 1
    return {k: tuple(v) for k, v in counts.items()}
