"""Page triage: pages not worth a question are skipped by reason before generation, and only
pages with a figure are asked visual questions."""

import pymupdf
import pytest

from docgen.core.config import load_config
from docgen.generate.triage import skip_reason, triage
from docgen.run.pipeline import run_pipeline
from docgen.run.report import collect

CONTENTS = "Contents\n" + "\n".join(f"{i}. Chapter {i} {'.' * 20} {i * 7}" for i in range(1, 9))
INDEX = "Index\n" + "\n".join(f"{w}, {i}, {i + 12}" for i, w in enumerate(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split(), 3))  # fmt: skip
REFERENCES = "References\n" + "\n".join(
    f"[{i}] A. Author and B. Writer. A paper on topic {i}. Journal {i}, {1990 + i}."
    for i in range(1, 8))  # fmt: skip
CODE = "\n".join(["def main(argv):", "    if (x == y) { z = f(x); }", "    a[i] = b[j] + c;",
                  "    return {'k': v};"] * 3)  # fmt: skip
PROSE = (
    "The committee met on Tuesday to discuss the budget for the coming year. Members agreed "
    "that the new library would open in the spring, and that its hours would be extended."
)


@pytest.mark.parametrize("text, reason", [
    (CONTENTS, "contents"), (INDEX, "index"), (REFERENCES, "references"), (CODE, "code"),
    (PROSE, None), ("Invoice: INV-1\nTotal: 3.50\nDate: 2024-01-02\nItem .... 3", None),
])  # fmt: skip
def test_pages_that_are_not_worth_a_question_are_named(text, reason):
    assert skip_reason({"text": text}) == reason


def test_blank_pages_boilerplate_and_figures():
    blank = {"text": "", "figures": 0, "image_bytes": 3000, "image_width": 1240,
             "image_height": 1754}  # fmt: skip
    photo = {**blank, "figures": 1, "image_bytes": 400_000}  # a scan or photo: no text, not blank
    kept, skipped = triage([blank, photo] + [{"text": PROSE, "figures": 0}] * 7)
    assert skipped == {"blank": 1, "boilerplate": 2}  # copies beyond the fifth
    assert [p["visual"] for p in kept] == [True] + [False] * 5


def pdf_of(path, pages: list[str], figure: bool = False) -> None:
    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page()
        page.insert_textbox(page.rect + (56, 56, -56, -56), text, fontsize=10)
    if figure:
        pix = pymupdf.Pixmap(pymupdf.csGRAY, pymupdf.IRect(0, 0, 40, 40), False)
        pix.set_rect(pix.irect, 120)
        doc[0].insert_image(pymupdf.Rect(300, 600, 400, 700), pixmap=pix)
    doc.save(path)


def test_the_generate_stage_skips_them_and_the_report_counts_them(tmp_path):
    folder = tmp_path / "pdfs"
    folder.mkdir()
    pdf_of(folder / "book.pdf", [PROSE + "\nTitle: A book", CONTENTS, INDEX, REFERENCES, CODE, ""])
    cfg = load_config(None, [f"input={folder}", f"work={tmp_path / 'w'}",
                             f"out={tmp_path / 'o'}", "run.scheduler=sync",
                             "run.progress=false"])  # fmt: skip
    gen = run_pipeline(cfg)["stages"]["generate"]
    skipped = {"contents": 1, "index": 1, "references": 1, "code": 1, "blank": 1}
    assert gen["triage"] == skipped and gen["pairs"] > 0
    assert collect(cfg.work)[0]["triage_skipped"] == skipped
    from docgen.core.workdir import WorkDir
    from docgen.run.summary import summary

    line = "triage      pages skipped: blank 1, code 1, contents 1, index 1, references 1"
    assert line in summary(WorkDir(cfg.work).manifest())
