"""OCR on built scans, one per supported language: each sample letter's first page rendered to an
image at 200 dpi, the picture alone in a PDF. docgen reads it with its script's packs (chosen by
Tesseract's script detection) and must find the text of the original page and its language."""

import collections
import re

import pymupdf
import pytest
from pdfs import scan_of

from docgen.core.config import ExtractConfig
from docgen.core.text import normalize
from docgen.extract import layout, ocr
from docgen.extract.document import extract_page

pytestmark = pytest.mark.skipif(
    not {"osd", "fra", "chi_sim"} <= ocr.available_languages(),
    reason="Tesseract and its packs: `make ocr`",
)
LANGUAGES = ("en", "fr", "de", "es", "ar", "zh", "ja", "ko")
CHARACTERS = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")  # kana, Han, Hangul


def tokens(text: str) -> collections.Counter:
    """Characters of CJK and Hangul text (words there have no reliable spaces), else words."""
    text = normalize(text)
    words = re.findall(r"[^\W\d_]{2,}", CHARACTERS.sub(" ", text))
    return collections.Counter(CHARACTERS.findall(text) + words)


def found(reference: str, read: str) -> float:
    ref = tokens(reference)
    return sum((ref & tokens(read)).values()) / sum(ref.values())


def read(pdf: bytes) -> dict:
    page = pymupdf.open(stream=pdf)[0]
    return extract_page(page, "d", "scan.pdf", 1, ExtractConfig())


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_scanned_letter_is_read_in_its_language(samples, lang):
    (pdf,) = samples.glob(f"*-letter-{lang}.pdf")
    original = "\n".join(ln["text"] for ln in layout.visual_lines(
        layout.text_dict(pymupdf.open(pdf)[0])))  # fmt: skip
    row = read(scan_of(pdf.read_bytes()))
    assert row["ocr"] and row["lang"] == lang
    assert found(original, row["text"]) >= 0.9, row["text"]
    assert row["words"] and all(0 <= w["x0"] < w["x1"] <= row["width"] + 1 for w in row["words"])


def test_a_page_fed_sideways_is_turned_upright(samples):
    (pdf,) = samples.glob("*-letter-en.pdf")
    original = pymupdf.open(pdf)[0].get_text()
    upright = read(scan_of(pdf.read_bytes()))
    sideways = read(scan_of(pdf.read_bytes(), turn=90))
    assert found(original, sideways["text"]) >= 0.9
    # Boxes are on the page as scanned: the sideways page is wider than it is tall.
    assert sideways["width"] > sideways["height"]
    assert max(w["x1"] for w in sideways["words"]) <= sideways["width"] + 1
    assert upright["lang"] == sideways["lang"] == "en"


@pytest.mark.skipif(not {"Hangul", "Arabic", "HanS"} <= ocr.available_languages(),
                    reason="Tesseract's script models: `make ocr`")  # fmt: skip
def test_a_script_model_reads_in_place_of_its_language_pack():
    # Installed script models replace the pack of a configured language: they read more of it.
    assert ocr.packs_for("Hangul", ["eng", "kor"]) == ["Hangul"]
    assert ocr.packs_for("Arabic", ["eng", "ara"]) == ["Arabic", "eng"]
    assert ocr.packs_for("Han", ["chi_sim", "jpn"]) == ["HanS"]
    assert ocr.packs_for("Japanese", ["jpn", "eng"]) == ["jpn", "eng"]  # its model reads less
    # A language that is not configured is not read, through its script model either.
    assert ocr.packs_for("Hangul", ["eng", "fra"]) == ["eng", "fra"]


PERSIAN = (
    "این راهنما برای کاربران فارسی‌زبان نوشته شده است. برای نصب بسته، ابتدا پرونده‌ها را از "
    "پایگاه اینترنتی دریافت کنید و سپس دستور زیر را در پایانه اجرا کنید. گام بعدی، پیکربندی "
    "چاپگر و گزینه‌های نمایش است که در فصل چهارم توضیح داده شده است."
)


@pytest.mark.skipif(not {"Arabic", "ara"} <= ocr.available_languages(),
                    reason="Tesseract's Arabic script model and pack: `make ocr`")  # fmt: skip
def test_arabic_is_read_with_its_pack_and_persian_with_the_script_model(samples, monkeypatch):
    calls = []
    real = ocr.read

    def read_and_record(image, packs, dpi, timeout):  # the real Tesseract, its packs noted
        calls.append(list(packs))
        return real(image, packs, dpi, timeout)

    monkeypatch.setattr(ocr, "read", read_and_record)
    (letter,) = samples.glob("*-letter-ar.pdf")
    original = pymupdf.open(letter)[0].get_text()
    row = read(scan_of(letter.read_bytes()))
    assert calls == [["Arabic", "eng"], ["ara"]]  # read as Arabic by its letters: ara again
    assert found(original, row["text"]) >= 0.9
    calls.clear()
    doc = pymupdf.open()
    html = f'<p dir="rtl" style="font-size: 16px">{PERSIAN} {PERSIAN}</p>'
    doc.new_page(width=595, height=842).insert_htmlbox(pymupdf.Rect(50, 60, 545, 700), html)
    row = read(scan_of(doc.tobytes()))
    assert calls == [["Arabic", "eng"]]  # Persian: the script model's reading is kept
    assert found(PERSIAN, row["text"]) >= 0.8
