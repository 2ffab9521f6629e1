"""Arabic-script text as it is written, from PDFs written the way XeTeX and word processors write
them (tests/arabic_pdfs.py): presentation forms, lam-alef ligature glyphs, visual order, glyphs
out of order, ligatures mapped to their letters, numbers and Latin words inside RTL lines."""

import pymupdf
import pytest
from arabic_pdfs import arabic_pdf

from docgen.core.config import ExtractConfig
from docgen.core.text import detect_language, normalize
from docgen.extract.bidi import logical_line
from docgen.extract.document import extract_page
from docgen.samples.render import arabic_font_dir

pytestmark = pytest.mark.skipif(arabic_font_dir() is None, reason="needs Noto Sans Arabic")

PERSIAN = [
    "بالای صفحه نشانی",  # lam-alef after a letter that does not join: the isolated ligature
    "فایل را در پوشه‌ی اصلی بگذارید",  # a zero-width non-joiner, kept
    "نسخه 2.0 از TeX Live در سال ۱۴۰۲",  # Latin words and numbers left to right inside
    "کلاس‌ها و یادداشت‌های ویژه",  # Persian kaf and yeh, kept as written
]
ARABIC = [
    "السلام عليكم يا أصدقاء",  # lam-alef in the middle of a word: the final ligature
    "العـــربية والإسلام",  # tatweel, lam-alef with hamza below
    "صفحة ١٢ من ٤٠ — الإصدار 3 (الأخير)",  # Arabic-Indic and European digits, brackets
    "مُحَمَّدٌ رَسُولٌ كَرِيمٌ",  # diacritics, kept with their letters
]


def page_text(data: bytes) -> list[str]:
    with pymupdf.open(stream=data) as doc:
        row = extract_page(doc[0], "d", "t.pdf", 1, ExtractConfig(ocr="off"))
    return row["text"].split("\n")


@pytest.mark.parametrize("lines,persian", [(PERSIAN, True), (ARABIC, False)])
@pytest.mark.parametrize("how", ["visual", "scrambled", "ligature-as-letters", "zwnj-as-space"])
def test_arabic_script_lines_come_back_in_logical_order(lines, persian, how):
    data = arabic_pdf(lines, persian=persian, scramble=how == "scrambled",
                      logical_tounicode=how == "ligature-as-letters",
                      zwnj_as_space=how == "zwnj-as-space")  # fmt: skip
    assert page_text(data) == lines


def test_ligatures_were_what_broke():
    """Without TEXT_PRESERVE_LIGATURES, MuPDF expands lam-alef itself, in visual order."""
    with pymupdf.open(stream=arabic_pdf(["بالای صفحه"], persian=True)) as doc:
        expanded = doc[0].get_text(flags=pymupdf.TEXT_PRESERVE_WHITESPACE).strip()
    assert expanded == "باالی صفحه"
    assert page_text(arabic_pdf(["بالای صفحه"], persian=True)) == ["بالای صفحه"]


def test_latin_ligatures_still_read_as_letters():
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_font(fontname="noto", fontfile=f"{arabic_font_dir()}/NotoSans-Regular.ttf")
    page.insert_text((72, 72), "The e\ufb03cient o\ufb00ice", fontname="noto")
    assert page_text(doc.tobytes())[0] == "The efficient office"


def test_matching_treats_arabic_variants_as_equal_but_the_text_keeps_them():
    assert normalize("كتاب علي") == normalize("کتاب علی")  # Arabic and Persian kaf and yeh
    assert normalize("الإسلام") == normalize("الاسلام") == normalize("الـــإسلام")
    assert normalize("مُحَمَّد") == normalize("محمد")
    assert normalize("مدرسة") == normalize("مدرسه")
    assert normalize("\ufefb") == normalize("لا")
    assert "ک" in page_text(arabic_pdf(["کلاس"], persian=True))[0]  # shown as written


def test_language_detection_reads_the_logical_text():
    text = "\n".join(page_text(arabic_pdf(ARABIC, persian=False)))
    assert detect_language(text) == ("ar", "rtl")


def test_logical_line_orders_runs_by_position():
    # Visual order, left to right: "3", " ", then the Arabic word's glyphs right to left.
    chars = [("3", 0, 5), (" ", 5, 8), ("ﻡ", 8, 14), ("ﻼ", 14, 20), ("ﺳ", 20, 26)]
    assert logical_line(chars, 10) == "ﺳﻼﻡ 3"
    # The same glyphs written in another order give the same line.
    assert logical_line([chars[3], chars[0], chars[4], chars[2], chars[1]], 10) == "ﺳﻼﻡ 3"
    # A word space left as a gap (as TeX does) is a space.
    gapped = [("3", 0, 5), ("ﻡ", 9, 15), ("ﻼ", 15, 21), ("ﺳ", 21, 27)]
    assert logical_line(gapped, 10) == "ﺳﻼﻡ 3"
