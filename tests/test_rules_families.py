"""The `rules` generator's wider families — list items under what introduces them, a change
log's releases, dates and amounts inside sentences — and the cap that keeps one family from
making most of a document's pairs; on pages built here and extracted as docgen does."""

import pytest

from docgen.core.config import FilterConfig
from docgen.filter.grounding import PageInfo
from docgen.filter.rules import judge
from docgen.generate.backends import GenerationRequest
from docgen.generate.backends.rules import FAMILY_FLOOR, FAMILY_SHARE, RulesBackend, capped
from docgen.generate.facts import key_values, label_like, table_cells
from docgen.generate.facts_text import lists, values_in_text
from tests.test_rules_traps import built_page


def indented_page(lines: list[tuple[str, float]]) -> dict:
    """A page of body lines ``(text, x)``: an item's next lines hang right of its bullet."""
    import pymupdf

    from docgen.core.config import ExtractConfig
    from docgen.extract.document import extract_page

    doc = pymupdf.open()
    pdf_page = doc.new_page(width=595, height=842)
    for i, (text, x) in enumerate(lines):
        pdf_page.insert_text((x, 60 + 13 * i), text, fontname="helv", fontsize=10)
    with pymupdf.open(stream=doc.tobytes()) as again:
        return extract_page(again[0], "d", "t.pdf", 1, ExtractConfig(ocr="off"))


BODY = ("The package adds colour to tables and keeps the spacing of rows.", "helv", 10)


@pytest.fixture(scope="module")
def page() -> dict:
    return built_page(
        [
            ("1 Usage", "hebo", 14),
            BODY,
            ("The package is loaded in the following order:", "helv", 10),
            ("• the class file", "helv", 10),
            ("• the configuration file", "helv", 10),
            ("• the user's preamble", "helv", 10),
            BODY,
            ("The first version of the package was released on 12 March 2021.", "helv", 10),
            ("A site licence for the whole faculty costs $1,200 per year.", "helv", 10),
            ("It was tested on 3 May 2020 and again on 9 June 2020 by the team.", "helv", 10),
            ("[2] J. Smith: The colortbl package; 2019-10-01. CTAN:pkg/colortbl.", "helv", 10),
            ("[2009/12/13 v1.2]", "helv", 10),
            ("• Documentation updates.", "helv", 10),
            ("• New option babel.", "helv", 10),
            ("[2010/01/28 v1.3]", "helv", 10),
            ("• \\relax removed.", "helv", 10),
        ]
    )


def test_a_list_under_its_lead_and_a_change_log(page):
    lines = page["lines"]
    assert lists(lines) == [
        {"kind": "list", "key": "The package is loaded in the following order",
         "answer": "the class file; the configuration file; the user's preamble"},
        {"kind": "changes", "key": "1.2", "answer": "Documentation updates; New option babel"},
        {"kind": "release_date", "key": "1.2", "answer": "2009/12/13"},
    ]  # fmt: skip
    # v1.3's one change is code: neither its changes nor its date are asked about.


def test_one_date_or_amount_in_a_sentence_is_asked_with_a_blank(page):
    assert values_in_text(page["lines"]) == [
        {"kind": "date_in_text", "answer": "12 March 2021",
         "key": "The first version of the package was released on ___."},
        {"kind": "amount_in_text", "answer": "$1,200",
         "key": "A site licence for the whole faculty costs ___ per year."},
    ]  # fmt: skip
    # Not asked: the sentence with two dates (which one?), the bibliography entry.


def test_the_new_pairs_read_as_questions_and_the_filters_keep_them(page):
    req = GenerationRequest(doc_id="d", source="t.pdf", lang="en", pages=[page], n_pairs=12)
    [result] = RulesBackend().generate([req])
    kinds = {p["kind"] for p in result.pairs}
    assert {"list", "changes", "release_date", "date_in_text", "amount_in_text"} <= kinds
    quoted = next(p for p in result.pairs if p["kind"] == "list")["question"]
    assert '"The package is loaded in the following order"' in quoted  # as the page writes it
    rows = [{"doc_id": "d", "pages": [1], **p} for p in result.pairs]
    info = PageInfo.from_row({"text": page["text"], "tables": page["tables"], "lang": "en"})
    verdicts = judge(rows, {("d", 1): info}, FilterConfig())
    assert {r["kind"]: v for (_, v), r in zip(verdicts, rows)} == dict.fromkeys(kinds)


def test_a_list_whose_items_are_long_passages_or_broken_words_is_not_asked():
    passage = "the spacing of rows and columns is kept as it was before the table"
    lines = [
        (BODY[0], 56),
        ("The goals are as follows:", 56),
        ("• keep " + passage, 56),
        *[(passage, 66)] * 2,  # an item of three lines: a passage, not a list item
        ("• leave the rules alone", 56),
        ("Two further points:", 56),
        ("• the first point is broken at the line end where the word exten-", 56),
        ("sion goes on", 66),
        ("• the second point", 56),
    ]
    assert lists(indented_page(lines)["lines"]) == []
    fine = lines[:2] + [("• keep " + passage, 56), (lines[5][0], 56)]
    assert lists(indented_page(fine)["lines"]) == [
        {"kind": "list", "key": "The goals are as follows",
         "answer": f"keep {passage}; leave the rules alone"}
    ]  # fmt: skip


def test_no_family_is_more_than_its_share_of_a_document():
    import random

    pairs = [{"kind": "heading"}] * 12 + [{"kind": "section_number"}] * 8 + [{"kind": "field"}] * 6
    kept = capped(pairs, random.Random(1))
    headings = sum(p["kind"] in ("heading", "section_number") for p in kept)
    assert (FAMILY_SHARE, FAMILY_FLOOR) == (0.4, 3)  # the figures below are for these
    assert headings == 4 and headings / len(kept) == 0.4  # 4 of 10: 40% beside 6 fields
    assert sum(p["kind"] == "field" for p in kept) == 6  # the others are all kept
    assert len(capped([{"kind": "heading"}] * 9, random.Random(1))) == FAMILY_FLOOR


def test_a_manual_of_headings_gets_some_heading_questions_not_only_those():
    pages = [
        built_page(
            [
                (f"{n} Part {word}", "hebo", 14),
                (f"{n}.1 Details of part {word}", "hebo", 12),
                BODY,
                BODY,
            ]
        )  # fmt: skip
        for n, word in enumerate("one two three four five six seven eight".split(), 1)
    ]
    for i, p in enumerate(pages, 1):
        p["page"] = i
    req = GenerationRequest(doc_id="d", source="t.pdf", lang="en", pages=pages, n_pairs=6)
    [result] = RulesBackend().generate([req])
    assert len(result.pairs) == FAMILY_FLOOR  # 16 headings on 8 pages: a few of them


def line(text: str) -> dict:
    return {"text": text, "size": 10.0, "bold": False, "mono": False,
            "x0": 50.0, "y0": 0.0, "x1": 300.0, "y1": 10.0}  # fmt: skip


# The traps of real documents that made nonsense pairs (a held-out read of 45 pairs by hand).
def test_a_quotation_cut_in_two_by_a_colon_is_no_field():
    found = key_values([line("メニューの「ファイル：開く」を選びます")])
    assert found == []
    assert key_values([line("ファイル名：「開く」")]) == [
        {"kind": "field", "key": "ファイル名", "answer": "「開く」"}
    ]


def test_a_value_cut_at_a_comma_is_no_field():
    assert key_values([line('Style: "Oblique,')]) == []
    assert key_values([line("Style: Oblique,")]) == []
    assert key_values([line("Style: Oblique")]) == [
        {"kind": "field", "key": "Style", "answer": "Oblique"}
    ]


def test_a_persian_sentence_before_a_colon_is_no_label():
    assert not label_like("برای نصب این بسته کافی است")  # "to install this package it suffices"
    assert key_values([line("برای نصب این بسته کافی است: دستور زیر")]) == []
    assert label_like("شماره تماس")  # "phone number": a label
    assert label_like("تاريخ الفاتورة")  # "invoice date"


def test_garbled_table_cells_are_not_asked():
    table = (
        "| Font | Style | Weight |\n|---|---|---|\n"
        "| Helvetica | Oblique | b o l d |\n| Times | Regu- | Medium |\n"
        "| Courier | (Italic | Light |"
    )
    assert table_cells(table) == [
        {"kind": "table", "key": ["Helvetica", "Style"], "answer": "Oblique"},
        {"kind": "table", "key": ["Times", "Weight"], "answer": "Medium"},
        {"kind": "table", "key": ["Courier", "Weight"], "answer": "Light"},
    ]  # not the letters one by one, the word cut by a hyphen, the bracket left open


def test_a_cjk_lead_with_no_spaces_introduces_its_list():
    lines = [line("手順は次のとおりです："), line("• ファイルを開く"), line("• 設定を保存する")]
    for i, ln in enumerate(lines):
        ln["y0"], ln["y1"] = 20.0 * i, 20.0 * i + 10
    assert lists(lines) == [
        {"kind": "list", "key": "手順は次のとおりです", "answer": "ファイルを開く; 設定を保存する"}
    ]
