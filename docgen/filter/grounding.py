"""Is an answer supported by the pages it cites? Spans, values and fuzzy spans, in any script.

1. The normalised answer is a span of the pages' text or table cells: grounded.
2. Every number and date in the answer must be a value the pages state ("1.671,67" matches
   "$1,671.67", "2024-03-12" matches "12 March 2024"); one that is on none of them is invented:
   ``ungrounded_value``.
3. The answer, without framing words at its ends (function words, the question's own words),
   must be a fuzzy span of the pages (rapidfuzz ``partial_ratio`` over tokens: words, and single
   characters for CJK, which needs no word splitting), or, for a long abstractive answer, its
   words (CJK: character pairs) must mostly occur on the pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from docgen.core.text import STOPWORDS, has_cjk, normalize, tokens
from docgen.core.values import answer_values, page_values
from docgen.extract.tables import parse_markdown_table

# Words an answer may add around what the page says ("The answer is …", "答案是…"), besides the
# question's own words: they are not looked for on the page.
FRAMING = (
    "is was are were a an it its el il est sont es ist sind war "
    "answer réponse antwort respuesta هو هي في من على إلى عن الجواب الإجابة "
    "答案是 答えは です でした 답은 입니다 이다 "
    # currency words next to an amount whose value is checked on its own
    "元 円 원 yuan yen won euro euros dollar dollars riyal ريال درهم"
)
FUNCTION_WORDS = {w for words in STOPWORDS.values() for w in words} | set(tokens(FRAMING))
LONG_ANSWER_TOKENS = 8  # from here on an answer may be abstractive: judged by coverage


@dataclass
class PageInfo:
    """What the filters need of one page, computed once per page."""

    text: str  # normalised text plus table cells
    lang: str = "und"
    raw: str = field(default="", repr=False)

    @classmethod
    def from_row(cls, row: dict) -> PageInfo:
        cells = [c for md in row.get("tables") or [] for r in parse_markdown_table(md) for c in r]
        raw = "\n".join([row.get("text") or "", *cells])
        return cls(normalize(raw), row.get("lang") or "und", raw)

    @cached_property
    def values(self) -> set[str]:
        return page_values(self.raw or self.text)

    @cached_property
    def lines(self) -> set[str]:
        return {normalize(line) for line in (self.raw or self.text).splitlines() if line.strip()}

    @cached_property
    def token_text(self) -> str:
        """The page as its tokens, space separated: punctuation and CJK spacing do not count."""
        return " ".join(tokens(self.text))

    @cached_property
    def units(self) -> set[str]:
        return set(coverage_units(self.text))


def strip_framing(words: list[str], framing: set[str]) -> list[str]:
    """Drop framing words from both ends ("the answer is … ." / "答えは…です")."""
    start, end = 0, len(words)
    while start < end and words[start] in framing:
        start += 1
    while end > start and words[end - 1] in framing:
        end -= 1
    return words[start:end]


def coverage_units(text: str) -> list[str]:
    """Words, and for CJK pairs of characters (single characters would match almost anything)."""
    toks = tokens(text)
    if not has_cjk(text):
        return toks
    return [a + b for a, b in zip(toks, toks[1:])] or toks


def ungrounded(
    answer: str, pages: list[PageInfo], fuzzy_threshold: float, coverage: float, question: str = ""
):
    """None when the answer is supported by ``pages``, else the reason it is not. Words of the
    question may frame the answer ("The total amount is …") without being looked for."""
    from rapidfuzz import fuzz

    text = "\n".join(p.text for p in pages)
    if not text:
        return "ungrounded"
    if normalize(answer) in text:
        return None
    values, rest = answer_values(answer)
    stated = set().union(*(p.values for p in pages))
    if any(not (readings & stated) for readings in values):
        return "ungrounded_value"
    framing = FUNCTION_WORDS | set(tokens(question))
    page_tokens = " ".join(p.token_text for p in pages)
    # The answer as it is, then without its (already checked) values: "Q1 - Q4" aligns best with
    # its digits, "2024-03-12" for a page's "12 March 2024" only without them.
    for form in (answer, rest):
        core = strip_framing(tokens(form), framing)
        if not core or fuzz.partial_ratio(" ".join(core), page_tokens) >= fuzzy_threshold:
            return None
    units = coverage_units(rest)
    if len(tokens(answer)) >= LONG_ANSWER_TOKENS and units:
        on_pages = set().union(*(p.units for p in pages))
        if sum(u in on_pages for u in units) / len(units) >= coverage:
            return None
    return "ungrounded"
