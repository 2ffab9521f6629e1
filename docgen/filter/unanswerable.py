"""Questions the document cannot answer (``filter.unanswerable_share``, default 0.05).

A model trained only on questions its page answers learns to answer every question, and invents
when it cannot. So a share of the dataset are hard negatives, as NVIDIA mixes them: a kept
question from one document, shown with a page of another document of the same partition and
language (the page of the same number, else its first), answered with the language's "the
document does not say" sentence. It is kept only when the new page truly has no answer: what
the question asks about (its terms found on its own page: a field's label, a table's row) is not
on it, nor any term of the original answer (its words but function words, its numbers and
dates); a question that names nothing of its page ("What is the title?") is answerable on any
page and never made one. The new rows (kind ``unanswerable``) are this pass's file
(``WORK/unanswerable/``), joined after the partition's rows; they are counted, and so are the
questions that found no other document of their language (``unanswerable_alone``) or that the
other page could answer (``unanswerable_answerable``).

Works the same whatever wrote the pairs (the ``rules`` backend or a model): it needs no model.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter

import pyarrow as pa

from docgen.core.config import FilterConfig
from docgen.core.text import has_cjk, ngrams, tokens
from docgen.core.values import answer_values, page_values
from docgen.core.workdir import PAGES, WorkDir
from docgen.filter import passes
from docgen.filter.grounding import FUNCTION_WORDS

# "The document does not say", per language (English where a language is not listed).
NO_ANSWER = {
    "en": "The document does not say.",
    "fr": "Le document ne le précise pas.",
    "de": "Das Dokument gibt darüber keine Auskunft.",
    "es": "El documento no lo indica.",
    "ar": "لا يذكر المستند ذلك.",
    "fa": "سند در این باره چیزی نمی‌گوید.",
    "he": "המסמך אינו מציין זאת.",
    "zh": "文档中没有说明。",
    "ja": "文書には記載されていません。",
    "ko": "문서에 나와 있지 않습니다.",
}
KIND = "unanswerable"
# Kinds whose questions name nothing of their page ("What is the title?", "the date of the
# letter?", "what does the chart show?"): any page of the kind answers them.
KEYLESS = (
    "title",
    "author",
    "date",
    "doc_date",
    "version",
    "heading",
    "layout",
    "document",
    "visual",
    "multi_page",
    "yes_no",
)


def wanted(kept: int, share: float) -> int:
    """How many to add so that they are ``share`` of the pairs after."""
    return round(kept * share / (1 - share)) if 0 < share < 1 else 0


def terms(text: str) -> set:
    """The terms of a text: its words but function words and bare digits (numbers are compared
    as values); for CJK, pairs of characters (one character says little)."""
    words = [t for t in tokens(text) if t not in FUNCTION_WORDS and not t.isdigit()]
    cjk = [t for t in words if has_cjk(t)]
    return {t for t in words if not has_cjk(t)} | (ngrams(cjk, 2) if cjk else set())


def page_text(page: dict) -> str:
    return page["text"] + "\n" + "\n".join(page["tables"])


class PageFacts:
    """A page's terms and values, made once a page (pages are asked about many times)."""

    def __init__(self):
        self.made: dict[int, tuple[set, set]] = {}

    def __call__(self, page: dict) -> tuple[set, set]:
        if id(page) not in self.made:  # (the pages live as long as this does: ids stay theirs)
            text = page_text(page)
            self.made[id(page)] = (terms(text), page_values(text))
        return self.made[id(page)]


def unanswerable_on(row: dict, asked: list[dict], other: dict, facts=None) -> bool:
    """Whether ``row``'s question has no answer on page ``other``: what it asks about (its terms
    on the pages it was ``asked`` about: a field's label, a table's row) is not there, nor any
    term of its answer (its words, its numbers and dates). A question that names nothing of its
    page ("What is the title?") is answerable on any page, and never one. ``facts``: a
    :class:`PageFacts` to reuse."""
    facts = facts or PageFacts()
    there, on_page = facts(other)
    key = terms(row["question"]) & set().union(*(facts(p)[0] for p in asked))
    values, _ = answer_values(row["answer"])
    return (bool(key) and not key & there and not terms(row["answer"]) & there
            and not any(v & on_page for v in values))  # fmt: skip


# A question is tried on the TRIED pages most like its own, then on TRIED others, among at
# most CANDIDATES pages of other documents drawn at random (the cost of a question bounded).
TRIED = 5
CANDIDATES = 64


class Likeness:
    """The candidate pages for a question's own pages, most alike first (the Jaccard index of
    their terms), ranked once for every question about the same pages; each page's terms made
    once."""

    def __init__(self, pages: dict, rng: random.Random):
        self.pages, self.rng = pages, rng
        self.facts = PageFacts()
        self.ranked: dict[tuple, list] = {}

    def terms(self, doc_id: str, number: int) -> set:
        return self.facts(self.pages[doc_id][number])[0]

    def ranking(self, doc_id: str, numbers: tuple, candidates: list[tuple[str, int]]) -> list:
        key = (doc_id, numbers)
        if key not in self.ranked:
            drawn = self.rng.sample(candidates, min(CANDIDATES, len(candidates)))
            mine = set().union(*(self.terms(doc_id, n) for n in numbers))

            def alike(c: tuple[str, int]) -> float:
                theirs = self.terms(*c)
                both = len(mine & theirs)
                return both / (len(mine) + len(theirs) - both) if mine or theirs else 0.0

            ranked = sorted(drawn, key=lambda c: -alike(c))  # ties: in the seeded draw's order
            rest = ranked[TRIED:]
            self.rng.shuffle(rest)
            self.ranked[key] = ranked[:TRIED] + rest[:TRIED]
        return self.ranked[key]


def most_alike(row: dict, asked: list[dict], candidates: list[tuple[str, int]],
               like: Likeness) -> tuple[str, int] | None:  # fmt: skip
    """The page of another document most like the question's own pages on which it has no
    answer (an invoice's question goes to another invoice, not to a report: a hard negative):
    of the ``TRIED`` most alike, else of ``TRIED`` others (a similar page often answers)."""
    numbers = tuple(n for n in row["pages"] if n in like.pages.get(row["doc_id"], {}))
    for c in like.ranking(row["doc_id"], numbers, candidates):
        if unanswerable_on(row, asked, like.pages[c[0]][c[1]], like.facts):
            return c
    return None


def unanswerable_rows(rows: list[dict], pages: dict, share: float, seed: str,
                      counts: Counter) -> list[dict]:  # fmt: skip
    """The rows to add: kept pairs of ``rows`` asked of another document's page (``pages``:
    {doc_id: {page number: page}}), about ``share`` of the pairs after."""
    kept = [r for r in rows if r["keep"]]
    need = wanted(len(kept), share)
    # Only pages the dataset shows already (cited by a kept pair): never one whose pairs were
    # all dropped (a benchmark's page, found by decontaminate_images, or an empty page).
    shown = {(r["doc_id"], n) for r in kept for n in r["pages"]}
    by_lang: dict[str, list[str]] = {}
    for doc_id in sorted({r["doc_id"] for r in kept}):
        lang = next(r["lang"] for r in kept if r["doc_id"] == doc_id)
        by_lang.setdefault(lang, []).append(doc_id)
    rng = random.Random(seed)
    # (a translated question is left out: its answer is in another language than it)
    order = [r for r in kept if r["kind"] not in KEYLESS and r["kind"] != KIND
             and not r.get("translated_from")]  # fmt: skip
    rng.shuffle(order)
    added: list[dict] = []
    like = Likeness(pages, rng)
    for row in order:
        if len(added) >= need:
            break
        others = [d for d in by_lang.get(row["lang"], []) if d != row["doc_id"] and d in pages]
        if not others:
            counts["unanswerable_alone"] += 1
            continue
        asked = [pages[row["doc_id"]][n] for n in row["pages"] if n in pages.get(row["doc_id"], {})]
        found = most_alike(row, asked, [(d, n) for d in others for n in sorted(pages[d])
                                        if (d, n) in shown], like)  # fmt: skip
        if found is None:
            counts["unanswerable_answerable"] += 1
            continue
        other, number = found
        page = pages[other][number]
        answer = NO_ANSWER.get(row["lang"], NO_ANSWER["en"])
        key = f"{other}\0{row['question']}\0{KIND}"
        added.append({**row, "doc_id": other, "source": page["source"], "pages": [number],
                      "answer": answer, "kind": KIND, "keep": True, "reason": None,
                      "pair_id": hashlib.sha256(key.encode()).hexdigest()[:16],
                      "evidence": json.dumps({"asked_of": row["doc_id"]}), "raw": "",
                      "reasoning": None})  # fmt: skip
    counts[KIND] += len(added)
    return added


def unanswerable_partition(work: str, part: str, cfg: FilterConfig) -> dict:
    """The unanswerable rows of a partition, run by :func:`docgen.filter.passes.run_pass`."""
    wd = WorkDir(work)

    def make(view: pa.Table):
        pages: dict[str, dict[int, dict]] = {}
        columns = ["doc_id", "source", "page", "text", "tables"]
        for p in wd.read(PAGES, part, columns=columns).to_pylist():
            pages.setdefault(p["doc_id"], {})[p["page"]] = p
        counts: Counter = Counter()
        rows = unanswerable_rows(view.to_pylist(), pages, cfg.unanswerable_share, part, counts)
        table = pa.Table.from_pylist(rows, view.schema)
        return table, pa.concat_tables([view, table]), counts, True

    return dict(passes.run_pass(wd, KIND, part, [cfg.unanswerable_share], make))
