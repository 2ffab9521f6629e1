"""Facts of a page's running text for the ``rules`` backend, beside :mod:`docgen.generate.facts`'s
structure (title, headings, captions, fields, tables):

- ``list``: the items of a bulleted or numbered list under what introduces it — a heading or a
  line ending with a colon ("The patch is tried in the following order:");
- ``date_in_text``, ``amount_in_text``: a sentence of running text that states one date, or one
  amount (money, a percentage), asked about with that value left blank — the answer is the value.

Every answer is copied from the page. What is not read as such is never asked about: items that
are code, cut-off fragments or long passages; a sentence broken by a hyphen at a line end; a
sentence with two values (which one is asked?).
"""

from __future__ import annotations

import re
from statistics import median

from docgen.core.text import has_cjk
from docgen.generate.facts import (
    HEADING,
    KV,
    MACRO,
    SOME_DATE,
    VERSION,
    heading_title,
    label_like,
    letters_share,
    prose,
)

ITEM = re.compile(r"^(?:[•◦▪‣∙·∗*–—-]|\(?(?:\d{1,2}|[a-h])[.)])\s+(?P<text>\S.*)$")
LIST_ITEMS = (2, 8)  # a list of one is no list; a long one is asked about in parts by no one
ITEM_CHARS = 160
LIST_CHARS = 500
MONEY = re.compile(
    r"(?<![\w.,])(?:[$€£¥₩₹]\s?\d[\d,.]*\d|\d[\d,.]*\d?\s?(?:%|€|\$|USD|EUR|GBP|percent|per cent"
    r"|Prozent|pour cent|por ciento|٪|元|円|원))(?![\w])"
)
SENTENCE_END = re.compile(r"(?<=[.!?。！？؟])\s+|(?<=[。！？])")
# A change log's entry: "[2009/12/13 v1.2]", "2023-01-07 v1.5".
RELEASE = re.compile(
    r"^\[?(?P<date>\d{4}[/-]\d{2}[/-]\d{2})\s+v(?P<version>\d+(?:\.\d+)+[a-z]?)\]?$"
)
BLANK = "___"
# A bibliography entry or a link: a list of references, not a sentence to ask about.
REFERENCE = re.compile(r"\[\d{1,3}\]|https?:|www\.|\b[A-Z]{2,}:\w")
BROKEN_WORD = re.compile(r"[^\W\d]- [^\W\d]")  # "speci- fied": a word broken at a line end


def body_size(lines: list[dict]) -> float:
    return median(line["size"] for line in lines) if lines else 0.0


def is_body(line: dict, body: float) -> bool:
    return not line["bold"] and abs(line["size"] - body) <= 0.6


def lead_of(line: dict, body: float) -> str | None:
    """What introduces a list: a heading's title, or a sentence's start ending with a colon."""
    text = line["text"].strip()
    m = HEADING.match(text)
    if m and (line["bold"] or line["size"] >= 1.1 * body) and heading_title(m["title"]):
        return m["title"].strip()
    if not text.endswith((":", "：")) or not prose(line) or KV.match(text[:-1]):
        return None
    lead = text[:-1].strip()
    starts = lead[:1]
    if starts.islower() or not starts.isalpha() or len(lead) > 100 or MACRO.search(lead):
        return None  # the end of a sentence begun on the line above, or code
    words = len(lead) // 2 if has_cjk(lead) else len(lead.split())  # CJK: about 2 characters a word
    return lead if letters_share(lead) >= 0.7 and words >= 2 else None


def item_prose(line: dict) -> bool:
    """An item's line is running text; it may end with the semicolon that separates items."""
    return prose({**line, "text": line["text"].rstrip().removesuffix(";")})


def item_of(text: str) -> str:
    return text.strip().rstrip(".;,").removesuffix(" and").removesuffix(" or").strip()


def items_at(lines: list[dict], i: int, body: float) -> tuple[list[str], int, bool]:
    """The list items from line ``i`` on, the line after them, and whether they all read as
    running text (no code, no word broken at a line end, body type)."""
    items, j, clean = [], i, True
    while j < len(lines) and (m := ITEM.match(lines[j]["text"].strip())):
        text, k = m["text"], j + 1
        # An item's next lines hang under its text, right of its bullet.
        while (
            k < len(lines)
            and not ITEM.match(lines[k]["text"].strip())
            and lines[k]["x0"] > lines[j]["x0"] + 2
            and is_body(lines[k], body)
            and lines[k]["y0"] - lines[k - 1]["y1"] < lines[k]["size"]  # not a footer below
            and not lines[k]["text"].strip().isdigit()
        ):
            clean &= not text.endswith("-")
            text, k = f"{text} {lines[k]['text'].strip()}", k + 1
        clean &= is_body(lines[j], body) and all(map(item_prose, lines[j:k]))
        items.append(item_of(text))
        j = k
    return items, j, clean


def good_items(items: list[str], least: int) -> bool:
    return (
        least <= len(items) <= LIST_ITEMS[1]
        and all(2 <= len(t) <= ITEM_CHARS and letters_share(t) >= 0.6 for t in items)
        and not any(MACRO.search(t) or ";" in t for t in items)
        and len(set(items)) == len(items)
        and len("; ".join(items)) <= LIST_CHARS
    )


def lists(lines: list[dict]) -> list[dict]:
    """Lists under what introduces them; a release's changes under its date and version (a
    change log: "[2009/12/13 v1.2]" then "• Documentation updates.") and that release's date."""
    body = body_size(lines)
    out, i = [], 0
    while i < len(lines):
        if i == 0 or not (ITEM.match(lines[i]["text"].strip()) and is_body(lines[i], body)):
            i += 1
            continue
        above = lines[i - 1]
        items, i, clean = items_at(lines, i, body)
        if not clean:
            continue
        if (release := RELEASE.match(above["text"].strip())) and good_items(items, 1):
            version = release["version"]
            out.append({"kind": "changes", "key": version, "answer": "; ".join(items)})
            out.append({"kind": "release_date", "key": version, "answer": release["date"]})
        elif (lead := lead_of(above, body)) and good_items(items, 2):
            out.append({"kind": "list", "key": lead, "answer": "; ".join(items)})
    return out


def paragraphs(lines: list[dict]) -> list[str]:
    """Runs of body lines of running text, joined (CJK lines without a space); a field line
    ("Datum: 15.04.2022"), a list item or a gap of more than a line ends a run."""
    body = body_size(lines)
    out, run, last = [], [], None
    for line in [*lines, None]:
        text = line["text"].strip() if line else ""
        joins = (
            line
            and text
            and is_body(line, body)
            and prose(line)
            and not ITEM.match(text)
            and not ((m := KV.match(text)) and label_like(m["key"].strip()))
        )
        if joins and run and line["y0"] - last["y1"] > line["size"]:
            out.append(joined(run))
            run = []
        if joins:
            run.append(text)
            last = line
            continue
        if run:
            out.append(joined(run))
        run = []
    return out


def joined(run: list[str]) -> str:
    return "".join(run) if has_cjk(run[0]) else " ".join(run)


def sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(paragraph) if s.strip()]


def fits(sentence: str) -> bool:
    """A whole sentence of words, of a length a question can quote."""
    size = len(sentence) if has_cjk(sentence) else len(sentence.split())
    low, high = (10, 80) if has_cjk(sentence) else (6, 35)
    first = sentence[:1]
    return (
        low <= size <= high
        and sentence.endswith((".", "!", "。", "！", "؟"))
        and not first.islower()
        and (first.isalpha() or first in "«“\"'(")
        and letters_share(sentence) >= 0.6
        and not MACRO.search(sentence)
        and not BROKEN_WORD.search(sentence)
        and not REFERENCE.search(sentence)
    )


def values_in_text(lines: list[dict]) -> list[dict]:
    out, seen = [], set()
    for paragraph in paragraphs(lines):
        for sentence in sentences(paragraph):
            if not fits(sentence) or VERSION.search(sentence):
                continue
            dates, amounts = list(SOME_DATE.finditer(sentence)), list(MONEY.finditer(sentence))
            if len(dates) + len(amounts) != 1:
                continue  # none, or which one would be asked?
            m, kind = (dates[0], "date_in_text") if dates else (amounts[0], "amount_in_text")
            key = f"{sentence[: m.start()]}{BLANK}{sentence[m.end() :]}".strip()
            if m[0] not in seen:
                seen.add(m[0])
                out.append({"kind": kind, "key": key, "answer": m[0].strip()})
    return out
