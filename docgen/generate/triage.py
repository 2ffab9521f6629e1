"""Page triage: which pages are worth asking about, decided by cheap rules before any model runs.

A page is skipped (counted by reason in the generate stage's ``triage`` stats) when it is:

- ``blank``: no text, and an image that compresses to almost nothing (an empty page);
- ``contents``: a table of contents (most lines end in a page number after dot leaders);
- ``index``: a back-of-book index (most lines are a term and page numbers);
- ``references``: a bibliography (numbered or bracketed entries with years);
- ``code``: a code listing (most lines dense in code symbols);
- ``boilerplate``: text seen on more than ``MAX_COPIES`` pages of the same task already (a
  form's back page, a licence page repeated in every file).

Every page kept is also marked ``visual`` when it holds an embedded image (a chart, photo,
figure or scan: the extract stage counts them in ``figures``), and only chunks with such a page
are asked for visual questions. Vector-drawn charts hold no embedded image and are not seen
as visual here.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from docgen.generate.chats import marked
from docgen.generate.tasks import Task, ask_json

MAX_COPIES = 5
# Bytes of stored image per pixel under which a page image is all one colour (a blank A4 page at
# 150 dpi deflates to a few KB: ~0.002; a page of text to ~0.05).
BLANK_BYTES_PER_PIXEL = 0.006
LEADER = re.compile(r"(\.{4,}|…{2,}|(\. ){4,}|·{4,})\s*\d{1,4}$")
INDEX_ENTRY = re.compile(r"^[^\d\W][^,]{0,60},\s*\d{1,4}(\s*[-–,]\s*\d{1,4})*\.?$")
REFERENCE = re.compile(r"^(\[\d{1,3}\]|\d{1,3}\.)\s+\S.*\b(1[89]\d\d|20\d\d)\b")
CODE_SYMBOLS = set("{}()[];=<>#$\\_|&*/+`~^")


def share(lines: list[str], test) -> float:
    return sum(1 for line in lines if test(line)) / len(lines) if lines else 0.0


def codeish(line: str) -> bool:
    """A line dense in code symbols (or with the indentation and ending of a statement)."""
    chars = [c for c in line if not c.isspace()]
    dense = len(chars) >= 4 and sum(c in CODE_SYMBOLS for c in chars) / len(chars) >= 0.15
    return dense or bool(re.search(r"[;{}]\s*$", line))


def skip_reason(page: dict) -> str | None:
    """Why a page is not worth a question (None: it is)."""
    text = page["text"].strip()
    if len(text) < 3:
        size = page.get("image_bytes")
        pixels = (page.get("image_width") or 0) * (page.get("image_height") or 0)
        if (
            not page.get("figures")
            and size is not None
            and pixels
            and (size / pixels < BLANK_BYTES_PER_PIXEL)
        ):
            return "blank"
        return None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 5 and share(lines, LEADER.search) >= 0.5:
        return "contents"
    if len(lines) >= 10 and share(lines, INDEX_ENTRY.match) >= 0.6:
        return "index"
    if len(lines) >= 5 and share(lines, REFERENCE.match) >= 0.5:
        return "references"
    if len(lines) >= 8 and share(lines, codeish) >= 0.5:
        return "code"
    return None


def triage(pages: list[dict]) -> tuple[list[dict], Counter]:
    """The pages worth asking about, each marked ``visual``, and the skipped ones by reason."""
    kept, skipped, seen = [], Counter(), Counter()
    for page in pages:
        reason = skip_reason(page)
        body = " ".join(page["text"].split())
        if reason is None and len(body) >= 40:
            digest = hashlib.sha256(body.encode()).digest()
            seen[digest] += 1
            if seen[digest] > MAX_COPIES:
                reason = "boilerplate"
        if reason is not None:
            skipped[reason] += 1
            continue
        kept.append({**page, "visual": page.get("figures") is None or page["figures"] > 0})
    return kept, skipped


# The labeller is asked about a page's gist: its first characters are enough.
LABEL_TEXT_CHARS = 3000
VISUAL_CATEGORIES = ("chart", "figure", "slide")


class PageLabels(Task):
    """The labeller: one chat per page (``prompts/triage``), with its image when sent."""

    def __init__(self):
        super().__init__("triage")

    def chats(self, pages: list[dict], image: bool) -> list:
        chats = []
        for page in pages:
            page = {**page, "text": page["text"][:LABEL_TEXT_CHARS], "tables": []}
            images = [page["image"]] if image and page.get("image") else []
            user = self.render(lang=page["lang"], page=marked([page])[0] if images else page,
                               image=bool(images))  # fmt: skip
            chats.append(self.chat_of(page["doc_id"], page["page"], user, pages=[page["page"]],
                                      lang=page["lang"], images=images))  # fmt: skip
        return chats


def model_triage(backend, pages: list[dict], image: bool, cache, part: str, counts: Counter,
                 allowance=None):  # fmt: skip
    """The pages a model labelled worth asking about (``generate.triage_model``): each labelled
    with a category and a complexity 1-10 (counted in ``counts``), ``no_content`` pages
    skipped, and ``visual`` set from the label. A page the model could not label is kept as
    the rules left it."""
    task = PageLabels()
    replies = ask_json(backend, task, task.chats(pages, image), counts, cache, part, allowance)
    kept = []
    for page, label in zip(pages, replies):
        if label is None:
            kept.append(page)
            continue
        counts[f"category:{label['category']}"] += 1
        counts[f"complexity:{label['complexity']}"] += 1
        if label["category"] == "no_content":
            counts["skipped:no_content"] += 1
            continue
        visual = label["visual_content"] or label["category"] in VISUAL_CATEGORIES
        kept.append({**page, "visual": visual, "complexity": label["complexity"]})
    return kept
