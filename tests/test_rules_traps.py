"""The `rules` generator on the traps of real technical PDFs, each on a page built here: a code
listing, numbers that look like section headings, a table of contents, a caption, a definition,
a sentence fragment before a colon. What is asked, and what is not."""

import pymupdf
import pytest

from docgen.core.config import ExtractConfig, FilterConfig
from docgen.extract.document import extract_page
from docgen.filter.grounding import PageInfo
from docgen.filter.rules import judge
from docgen.generate.backends import GenerationRequest
from docgen.generate.backends.rules import RulesBackend
from docgen.generate.facts import facts_of_page


def built_page(lines: list[tuple[str, str, float]]) -> dict:
    """A page of ``(text, font, size)`` lines (PDF base-14 font names), extracted as docgen does."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    y = 60
    for text, font, size in lines:
        page.insert_text((56, y), text, fontname=font, fontsize=size)
        y += size * 1.9
    with pymupdf.open(stream=doc.tobytes()) as again:
        return extract_page(again[0], "d", "t.pdf", 1, ExtractConfig(ocr="off"))


BODY = [("The package adds colour to tables and keeps the spacing of rows.", "helv", 10)] * 3


@pytest.fixture(scope="module")
def page() -> dict:
    return built_page(
        [
            ("The colortbl package", "hebo", 20),
            ("1 Introduction", "hebo", 14),
            *BODY,
            ("Kerning: the adjustment of space between two characters", "helv", 10),
            ("however, the reverse is not possible: see the next part", "helv", 10),
            ("Figure 2: Growth of the index over ten years", "helv", 10),
            ("81 \\PackageInfo{graphics}{Driver file: \\Gin@driver}", "cour", 10),
            ("Default: \\relax", "cour", 10),
            ("Output: written to the log", "cour", 10),
            ("2 6 4", "hebo", 14),
            ("10 26 18 50 58 42 34", "hebo", 14),
            ("3 Usage . . . . . . . . . . . . . . . . . 5", "hebo", 12),
            ("2 Usage notes", "hebo", 14),
            *BODY,
        ]
    )


def test_what_a_technical_page_is_asked_about(page):
    found = {(f["kind"], str(f["key"])): f["answer"] for f in facts_of_page(page)}
    assert found == {
        ("title", "title"): "The colortbl package",
        ("heading", "1"): "Introduction",
        ("heading", "2"): "Usage notes",
        ("definition", "Kerning"): "the adjustment of space between two characters",
        ("caption", "Figure 2"): "Growth of the index over ten years",
    }
    # Not asked: the listing (monospaced, macros), numbers in heading type, the contents line,
    # the sentence fragment before a colon.


def test_the_listing_is_monospaced_and_its_lines_are_never_fields(page):
    mono = {line["text"] for line in page["lines"] if line["mono"]}
    assert "Output: written to the log" in mono and "Default: \\relax" in mono
    assert not any(line["mono"] for line in page["lines"] if line["text"].startswith("Kerning"))


def test_the_questions_read_as_questions_and_the_filters_keep_them(page):
    req = GenerationRequest(doc_id="d", source="t.pdf", lang="en", pages=[page], n_pairs=10)
    [result] = RulesBackend().generate([req])
    by_kind = {p["kind"]: p for p in result.pairs}
    assert by_kind["caption"]["answer"] == "Growth of the index over ten years"
    assert "figure 2" in by_kind["caption"]["question"].lower()
    assert "kerning" in by_kind["definition"]["question"].lower()
    assert {"heading", "section_number", "title"} & set(by_kind)
    rows = [{"doc_id": "d", "pages": [1], **p} for p in result.pairs]
    info = PageInfo.from_row({"text": page["text"], "tables": page["tables"], "lang": "en"})
    verdicts = judge(rows, {("d", 1): info}, FilterConfig())
    assert [r for _, r in verdicts] == [None] * len(rows)


def test_the_filters_drop_macros_math_and_statements():
    page = PageInfo.from_row({"text": "\\setlength{\\parindent}{0pt} and x = y + z", "tables": [],
                              "lang": "en"})  # fmt: skip
    rows = [
        {"doc_id": "d", "pages": [1], "question": "What is set by \\setlength?", "answer": "0pt"},
        {"doc_id": "d", "pages": [1], "question": "Which relation holds?", "answer": "x = y + z"},
        {"doc_id": "d", "pages": [1], "question": "The length is set", "answer": "0pt"},
    ]
    verdicts = judge(rows, {("d", 1): page}, FilterConfig(check_language=False))
    assert [r for _, r in verdicts] == ["code", "code", "not_a_question"]
