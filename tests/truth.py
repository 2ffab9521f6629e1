"""Score kept pairs against the sample corpus's ground truth (shared by tests and `make check`)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from docgen.core.text import normalize


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
    """Per language: (pairs whose answer equals the ground-truth value of their fact, pairs).
    A section asked by its title is right when the section of that number has that title; a
    date under the title, when it is a date the page states (the sidecars give no such fact)."""
    index = truth_index(samples)
    on_page = defaultdict(set)
    for (file, page, _), (_, value) in index.items():
        on_page[(file, page)].add(same(value))
    counts = defaultdict(lambda: [0, 0])
    for pair in kept:
        ev = json.loads(pair["evidence"])
        key = (
            json.dumps(ev["key"], ensure_ascii=False) if isinstance(ev["key"], list) else ev["key"]
        )
        where = (pair["source"], pair["pages"][0])
        asked, told = (
            (pair["answer"], key) if ev["kind"] == "section_number" else (key, pair["answer"])
        )
        lang, value = index.get((*where, normalize(asked)), (None, None))
        lang = lang or pair["source"].rsplit("-", 1)[-1].removesuffix(".pdf")
        counts[lang][1] += 1
        if ev["kind"] == "doc_date":
            counts[lang][0] += same(pair["answer"]) in on_page[where]
        elif value is not None and same(value) == same(told):
            counts[lang][0] += 1
    return {k: tuple(v) for k, v in counts.items()}


def same(text: str) -> str:
    return " ".join(text.split())
