"""The model-free ``rules`` backend: grounded extractive pairs from a page's own structure.

It asks about what any document shows a reader (:mod:`docgen.generate.facts`: the title and its
author and date, numbered section headings, figure and table captions, ``label: value`` lines,
table cells). Every answer is copied from the page, so it is an exact span; the question is filled
into a per-language template chosen with a seeded hash, and the kinds are mixed page by page.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from functools import cache

import yaml

from docgen.generate.backends.base import Backend, GenerationRequest, GenerationResult
from docgen.generate.chats import PROMPTS_DIR
from docgen.generate.facts import facts_of_page
from docgen.generate.facts_text import lists, values_in_text

LATIN_LOWER_FIRST = {"en", "fr", "es"}  # languages whose field labels read lower-case mid-sentence
QUOTED = {"list", "date_in_text", "amount_in_text"}  # keys quoted as the page writes them


@cache
def templates() -> dict:
    return yaml.safe_load((PROMPTS_DIR / "rules" / "questions.yaml").read_text("utf-8"))


def korean_particles(word: str) -> tuple[str, str]:
    """은/는 and 을/를 depend on whether the last syllable ends in a consonant."""
    last = word[-1:] or " "
    closed = "\uac00" <= last <= "\ud7a3" and (ord(last) - 0xAC00) % 28 != 0
    return ("은", "을") if closed else ("는", "를")


def mid_sentence(label: str, lang: str) -> str:
    """``Invoice number`` reads ``invoice number`` inside an English, French or Spanish question."""
    if (
        lang in LATIN_LOWER_FIRST
        and label[:1].isascii()
        and label[:2].istitle()
        and not label.isupper()
    ):
        return label[0].lower() + label[1:]
    return label


def question(fact: dict, lang: str, rng: random.Random) -> str:
    lang = lang if lang in templates() else "en"
    template = rng.choice(templates()[lang][fact["kind"]])
    key = fact["key"] if isinstance(fact["key"], str) else ""
    key = key if fact["kind"] in QUOTED else mid_sentence(key, lang)
    topic, obj = korean_particles(key)
    row, col = fact["key"] if isinstance(fact["key"], list) else ("", "")
    return template.format(
        key=key,
        key_topic=key + topic,
        key_obj=key + obj,
        row=row,
        col=mid_sentence(col, lang),
        n=fact["key"],
        title=fact["key"],
    )


def asked_by_number(fact: dict, rng: random.Random) -> dict:
    """A heading is asked about either way, seeded: its title from its number, or its number
    from its title ("Which section is titled …?")."""
    if fact["kind"] != "heading" or rng.random() < 0.5:
        return fact
    return {"kind": "section_number", "key": fact["answer"], "answer": fact["key"]}


# Kinds drawn from one fact share a cap (a heading is asked by its number or by its title).
FAMILY = {"section_number": "heading"}
# No family of kinds is more than this share of a document's pairs, beyond a few: a manual of
# numbered headings gives some heading questions, and the rest of it is asked about otherwise.
FAMILY_SHARE = 0.4
FAMILY_FLOOR = 3


def page_facts(page: dict) -> list[dict]:
    lines = list(page["lines"])
    return facts_of_page(page) + lists(lines) + values_in_text(lines)


def capped(pairs: list[dict], rng: random.Random) -> list[dict]:
    """``pairs`` with no family over ``FAMILY_SHARE`` of them beside the others (or over
    ``FAMILY_FLOOR``); the pairs left out of a family are drawn with ``rng``, the rest keep their
    order. Each family is capped against the others as they were: capping one never drops more."""
    family = [FAMILY.get(p["kind"], p["kind"]) for p in pairs]
    dropped = set()
    for name, n in sorted(Counter(family).items()):
        others = len(pairs) - n
        keep = max(FAMILY_FLOOR, int(others * FAMILY_SHARE / (1 - FAMILY_SHARE) + 1e-9))
        if n > keep:
            dropped |= set(rng.sample([i for i, f in enumerate(family) if f == name], n - keep))
    return [p for i, p in enumerate(pairs) if i not in dropped]


def pick(facts: list[dict], n: int, rng: random.Random) -> list[dict]:
    """Up to ``n`` facts, spread over kinds: round-robin over shuffled per-kind queues, and no
    kind (family of kinds) more than a third of ``n``: a page of headings gives a few heading
    questions, not ``n``, so the dataset is not made of one kind of question."""
    queues: dict[str, list] = {}
    for f in facts:
        queues.setdefault(FAMILY.get(f["kind"], f["kind"]), []).append(f)
    for q in queues.values():
        rng.shuffle(q)
        del q[max(1, n // 3) :]
    chosen = []
    while len(chosen) < n and any(queues.values()):
        for kind in sorted(queues):
            if queues[kind] and len(chosen) < n:
                chosen.append(queues[kind].pop())
    return chosen


class RulesBackend(Backend):
    name = "rules"
    model = "rules"
    prompt_id = "rules/questions.yaml"

    default_pairs_per_page = 6

    def generate(self, requests) -> list[GenerationResult]:
        facts = {(r.doc_id, p["page"]): page_facts(p) for r in requests for p in r.pages}
        # Per partition: what a partition gives must not depend on which others share its task.
        common = {part: boilerplate([r for r in requests if r.part == part], facts)
                  for part in {r.part for r in requests}}  # fmt: skip
        return [self.generate_one(r, facts, common[r.part]) for r in requests]

    def generate_one(
        self, request: GenerationRequest, facts: dict, common: set
    ) -> GenerationResult:
        pairs = []
        for page in request.pages:
            rng = random.Random(f"{request.seed}:{request.doc_id}:{page['page']}")
            lang = page["lang"] if page["lang"] != "und" else request.lang
            found = [asked_by_number(f, rng) for f in facts[(request.doc_id, page["page"])]
                     if said(f) not in common]  # fmt: skip
            for fact in pick(found, request.n_pairs, rng):
                pairs.append(
                    {
                        "question": question(fact, lang, rng),
                        "answer": fact["answer"],
                        "kind": fact["kind"],
                        "pages": [page["page"]],
                        "lang": lang,
                        "evidence": json.dumps(
                            {"kind": fact["kind"], "key": fact["key"]}, ensure_ascii=False
                        ),
                        "raw": json.dumps(fact, ensure_ascii=False),
                    }
                )
        return GenerationResult(
            pairs=capped(pairs, random.Random(f"{request.seed}:{request.doc_id}"))
        )


# A label and value in this many documents of a task is boilerplate (an install step, a licence
# line), not what a reader of one document asks about.
BOILERPLATE_DOCS = 3
FIELD_KINDS = {"field", "definition", "date", "amount"}


def said(fact: dict) -> tuple:
    return (
        (fact["kind"], str(fact["key"]).lower(), fact["answer"])
        if fact["kind"] in FIELD_KINDS
        else ()
    )


def boilerplate(requests, facts: dict) -> set:
    """Fields stated alike in ``BOILERPLATE_DOCS`` documents or more of ``requests``."""
    docs: dict[tuple, set] = {}
    for r in requests:
        for p in r.pages:
            for f in facts[(r.doc_id, p["page"])]:
                if said(f):
                    docs.setdefault(said(f), set()).add(r.doc_id)
    return {k for k, d in docs.items() if len(d) >= BOILERPLATE_DOCS}
