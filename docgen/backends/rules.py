"""The model-free ``rules`` backend: grounded extractive pairs from a page's own structure.

It reads what any document shows a reader: the title (the largest line at the top of the first
page), numbered section headings, ``label: value`` lines (dates and amounts get their own
phrasings) and table cells (row label × column header). Every answer is copied from the page, so it
is an exact span; the question is filled into a per-language template chosen with a seeded hash.
"""

from __future__ import annotations

import json
import random
import re
from functools import cache
from statistics import median

import yaml

from docgen.backends import PROMPTS_DIR, Backend, GenerationRequest, GenerationResult
from docgen.layout import parse_markdown_table

KV = re.compile(r"^(?P<key>[^:：]{1,60}?)\s*[:：]\s*(?P<value>\S.*)$")
HEADING = re.compile(r"^(?P<n>\d{1,2}(?:\.\d{1,2})*)\s*\.?\s+(?P<title>\S.{1,80})$")
DATE = re.compile(
    r"^(\d{1,4}[./-]\d{1,2}[./-]\d{1,4}"
    r"|\d{4}\s*[年년]\s*\d{1,2}\s*[月월]\s*\d{1,2}\s*[日일]"
    r"|\d{1,2}\.?\s+[^\W\d_]{3,12}\.?\s+\d{4}"
    r"|[^\W\d_]{3,12}\.?\s+\d{1,2},?\s+\d{4})$"
)
CURRENCY = "$€£¥₩₹円元원﷼"
AMOUNT = re.compile(
    rf"^(?:[{CURRENCY}]\s?|[A-Z]{{3}}\s)?-?\d[\d,.\s]*\d?"
    rf"(?:\s?[{CURRENCY}%]|\s?[A-Z]{{3}}|\s?(?:ريال|ر\.س|درهم|دينار|جنيه|руб))?$"
)
LATIN_LOWER_FIRST = {"en", "fr", "es"}  # languages whose field labels read lower-case mid-sentence


@cache
def templates() -> dict:
    return yaml.safe_load((PROMPTS_DIR / "rules" / "questions.yaml").read_text("utf-8"))


def is_amount(value: str) -> bool:
    return (
        bool(AMOUNT.match(value))
        and any(c.isdigit() for c in value)
        and (
            any(c in CURRENCY for c in value)
            or "," in value
            or "." in value
            or "ريال" in value
            or re.search(r"\b[A-Z]{3}\b", value) is not None
        )
    )


def kind_of(value: str) -> str:
    if DATE.match(value):
        return "date"
    return "amount" if is_amount(value) else "field"


def good_key(key: str) -> bool:
    """A label, not a sentence: short, not just a number, no sentence punctuation."""
    words = key.split()
    return (
        0 < len(key) <= 40
        and len(words) <= 6
        and not key.replace(".", "").isdigit()
        and not re.search(r"[.!?。！？]$|https?|www\.|/{2}", key)
    )


def key_values(lines: list[dict]) -> list[dict]:
    """``label: value`` lines; labels seen twice with different values are ambiguous and dropped."""
    found: dict[str, set] = {}
    order = []
    for line in lines:
        m = KV.match(line["text"].strip())
        if not m:
            continue
        key, value = m["key"].strip(), m["value"].strip()
        if re.search(r"\d$", key) and re.match(r"\d", value):  # a time such as 14:30
            continue
        if good_key(key) and 0 < len(value) <= 120:
            if key not in found:
                order.append(key)
            found.setdefault(key, set()).add(value)
    return [
        {"kind": kind_of(v), "key": k, "answer": v}
        for k in order
        if len(found[k]) == 1
        for v in found[k]
    ]


def title_of(lines: list[dict]) -> str | None:
    """The document title: the largest line near the top, clearly bigger than body text."""
    if len(lines) < 2:
        return None
    body = median(line["size"] for line in lines)
    i = max(range(min(3, len(lines))), key=lambda k: lines[k]["size"])
    top = lines[i]
    parts = [top["text"].strip()]
    for nxt in lines[i + 1 :]:  # a long title wraps onto lines of the same size
        if abs(nxt["size"] - top["size"]) > 0.5:
            break
        parts.append(nxt["text"].strip())
    text = " ".join(parts)
    if top["size"] >= 1.3 * body and 2 <= len(text) <= 160 and not KV.match(text):
        return text
    return None


def headings(lines: list[dict]) -> list[dict]:
    body = median(line["size"] for line in lines) if lines else 0
    out, seen = [], set()
    for line in lines:
        m = HEADING.match(line["text"].strip())
        if m and (line["size"] >= 1.1 * body or line["bold"]) and m["n"] not in seen:
            seen.add(m["n"])
            out.append({"kind": "heading", "key": m["n"], "answer": m["title"].strip()})
    return out


def table_cells(markdown: str) -> list[dict]:
    rows = parse_markdown_table(markdown)
    header, body = rows[0], rows[1:]
    labels = [r[0] for r in body]
    out = []
    for row in body:
        label = row[0]
        if not label or labels.count(label) > 1 or not re.search(r"[^\W\d_]", label):
            continue
        for col, cell in zip(header[1:], row[1:]):
            if col and cell and header.count(col) == 1:
                out.append({"kind": "table", "key": [label, col], "answer": cell})
    return out


def facts_of_page(page: dict) -> list[dict]:
    lines = list(page["lines"])
    found = []
    if page["page"] == 1 and (title := title_of(lines)):
        found.append({"kind": "title", "key": "title", "answer": title})
    found += headings(lines) + key_values(lines)
    for md in page["tables"]:
        found += table_cells(md)
    return found


def korean_particles(word: str) -> tuple[str, str]:
    """은/는 and 을/를 depend on whether the last syllable ends in a consonant."""
    last = word[-1:] or " "
    closed = "\uac00" <= last <= "\ud7a3" and (ord(last) - 0xAC00) % 28 != 0
    return ("은", "을") if closed else ("는", "를")


def mid_sentence(label: str, lang: str) -> str:
    """``Invoice number`` reads ``invoice number`` inside an English, French or Spanish question."""
    if lang in LATIN_LOWER_FIRST and label[:2].istitle() and not label.isupper():
        return label[0].lower() + label[1:]
    return label


def question(fact: dict, lang: str, rng: random.Random) -> str:
    lang = lang if lang in templates() else "en"
    template = rng.choice(templates()[lang][fact["kind"]])
    key = mid_sentence(fact["key"], lang) if isinstance(fact["key"], str) else ""
    topic, obj = korean_particles(key)
    row, col = fact["key"] if isinstance(fact["key"], list) else ("", "")
    return template.format(
        key=key,
        key_topic=key + topic,
        key_obj=key + obj,
        row=row,
        col=mid_sentence(col, lang),
        n=fact["key"],
    )


def pick(facts: list[dict], n: int, rng: random.Random) -> list[dict]:
    """Up to ``n`` facts, spread over kinds: round-robin over shuffled per-kind queues."""
    queues: dict[str, list] = {}
    for f in facts:
        queues.setdefault(f["kind"], []).append(f)
    for q in queues.values():
        rng.shuffle(q)
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

    def generate(self, requests, cache=None, budget=None) -> list[GenerationResult]:
        return [self.generate_one(r) for r in requests]

    def generate_one(self, request: GenerationRequest) -> GenerationResult:
        pairs = []
        for page in request.pages:
            rng = random.Random(f"{request.seed}:{request.doc_id}:{page['page']}")
            lang = page["lang"] if page["lang"] != "und" else request.lang
            for fact in pick(facts_of_page(page), request.n_pairs, rng):
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
        return GenerationResult(pairs=pairs)
