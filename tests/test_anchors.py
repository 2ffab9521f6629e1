"""Questions that stay unambiguous when mixed: multi-page and whole-document questions name the
page, figure or table they rely on, and a multi-page one cites two pages or more."""

from dataclasses import dataclass, field

import pytest
import yaml

from docgen.core.settings import FilterConfig
from docgen.filter.anchors import anchored
from docgen.filter.rules import FILTERS
from docgen.generate.chats import PROMPTS_DIR


@dataclass
class Ctx:
    lang: str
    cfg: FilterConfig = field(default_factory=FilterConfig)


CASES = [
    ("multi_page", [2, 3], "What is the total of the two tables on pages 2 and 3?", "en", ""),
    ("multi_page", [2, 3], "What is the total over both quarters?", "en", "unanchored"),
    ("multi_page", [2], "What is the total of the tables on pages 2 and 3?", "en",
     "multi_page_one_page"),
    ("document", [1], "Who signed the letter at the foot of page 1?", "en", ""),
    ("document", [1], "Who issued it?", "en", "unanchored"),
    ("document", [1], "Qui a signé la lettre en bas de la page ?", "fr", ""),
    ("document", [1], "Was steht in der Kopfzeile?", "de", ""),
    ("document", [1], "ما عنوان الصفحة الأولى؟", "ar", ""),
    ("multi_page", [1, 2], "第1页和第2页的表格中合计是多少？", "zh", ""),
    ("multi_page", [1, 2], "合计是多少？", "zh", "unanchored"),
    ("multi_page", [1, 2], "1페이지와 2페이지의 합계는 얼마입니까?", "ko", ""),
    ("extractive", [1], "What is the total?", "en", ""),  # other kinds: not asked to
]  # fmt: skip


@pytest.mark.parametrize("kind,pages,question,lang,reason", CASES)
def test_multi_page_and_document_questions_name_what_they_rely_on(kind, pages, question, lang,
                                                                   reason):  # fmt: skip
    pair = {"kind": kind, "pages": pages, "question": question}
    assert anchored(pair, Ctx(lang)) == (not reason, reason)
    assert anchored(pair, Ctx(lang, FilterConfig(require_anchors=False))) == (True, "")


def test_the_prompt_asks_for_it_and_the_rules_check_it():
    kinds = yaml.safe_load((PROMPTS_DIR / "llm" / "kinds.yaml").read_text("utf-8"))
    assert "names the pages" in kinds["multi_page"]["means"]
    assert "names the part" in kinds["document"]["means"]
    assert anchored in FILTERS
