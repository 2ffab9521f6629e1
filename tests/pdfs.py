"""PDFs the extraction tests build themselves: layouts, scans, and hostile mutations."""

from __future__ import annotations

import random
import zlib

import pymupdf

from docgen.samples.render import ARABIC_FONT, arabic_font_dir

LEFT = ["Alpha one opens the left column and runs on.", "Alpha two keeps going down the left."]
RIGHT = ["Beta one starts the right column here.", "Beta two finishes the right column."]


def two_columns(rtl: bool = False) -> bytes:
    """Header across the page, two columns of paragraphs, footer. Each paragraph wraps onto
    several lines, whose baselines line up across the columns."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    css, archive = "p { font-size: 11pt; margin: 0 0 8pt 0; }", None
    if rtl:
        archive = pymupdf.Archive(arabic_font_dir())
        css += f"@font-face {{ font-family: ar; src: url({ARABIC_FONT}); }}"
        css += " body { font-family: ar; }"
        left = ["العمود الأيسر يبدأ هنا ويستمر في السطر التالي بلا توقف أبدا " * 3,
                "نهاية العمود الأيسر تأتي بعد سطور كثيرة من النص المتواصل " * 3]  # fmt: skip
        right = ["العمود الأيمن يبدأ أولا ويستمر في السطر التالي بلا توقف " * 3,
                 "نهاية العمود الأيمن تأتي بعد سطور كثيرة من النص المتواصل " * 3]  # fmt: skip
        header, footer = "تقرير الربع الأول", "صفحة ١"
    else:
        left = [p * 3 for p in LEFT]
        right = [p * 3 for p in RIGHT]
        header, footer = "Quarterly Report Header", "Page 1 footer"
    direction = ' dir="rtl"' if rtl else ""

    def box(rect, paragraphs):
        body = "".join(f"<p{direction}>{p}</p>" for p in paragraphs)
        page.insert_htmlbox(pymupdf.Rect(rect), body, css=css, archive=archive)

    box((60, 40, 535, 70), [header])
    box((60, 100, 290, 700), left)
    box((305, 100, 535, 700), right)
    box((60, 780, 535, 810), [footer])
    return doc.tobytes()


def image_only(text: str = "Invoice number 4711 total 99 dollars") -> bytes:
    """A scan: one page whose only content is a picture of text."""
    src = pymupdf.open()
    page = src.new_page(width=420, height=200)
    page.insert_text((30, 100), text, fontsize=18)
    picture = page.get_pixmap(dpi=200)
    doc = pymupdf.open()
    doc.new_page(width=420, height=200).insert_image(pymupdf.Rect(0, 0, 420, 200), pixmap=picture)
    return doc.tobytes()


def decompression_bomb(side: int = 20000) -> bytes:
    """A page showing a 1-bit image of side x side pixels in a few KB of flate."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((50, 50), "bomb")
    xref = doc.get_new_xref()
    doc.update_object(
        xref,
        f"<</Type/XObject/Subtype/Image/Width {side}/Height {side}/ColorSpace/DeviceGray"
        "/BitsPerComponent 1/Filter/FlateDecode>>",
    )
    doc.update_stream(xref, zlib.compress(b"\x55" * (side * side // 8), 9), compress=False)
    doc.xref_set_key(page.xref, "Resources", f"<</XObject<</Im1 {xref} 0 R>>>>")
    doc.update_stream(page.get_contents()[0], b"q 500 0 0 700 40 60 cm /Im1 Do Q")
    return doc.tobytes()


def slow_page(strokes: int = 200_000) -> bytes:
    """One page drawing many long crossing lines: seconds of rendering, a stand-in for a file
    that makes MuPDF work without end."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((50, 50), "slow")
    ops = b"".join(
        b"%d %d m %d %d l S\n" % (i % 500, (i * 7) % 800, (i * 13) % 500, (i * 3) % 800)
        for i in range(strokes)
    )
    doc.update_stream(page.get_contents()[0], ops)
    return doc.tobytes(deflate=True)


def with_javascript_and_attachment(good: bytes) -> bytes:
    doc = pymupdf.open(stream=good)
    doc.xref_set_key(doc.pdf_catalog(), "OpenAction", "<</S/JavaScript/JS(app.alert('hello'))>>")
    doc.embfile_add("notes.txt", b"an attachment")
    return doc.tobytes()


def huge_mediabox(good: bytes) -> bytes:
    doc = pymupdf.open(stream=good)
    doc.xref_set_key(doc[0].xref, "MediaBox", "[0 0 200000 200000]")
    return doc.tobytes()


def encrypted(good: bytes) -> bytes:
    doc = pymupdf.open(stream=good)
    return doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="u", owner_pw="o")


def cut_xref(good: bytes) -> bytes:
    """The cross-reference table and trailer cut away (MuPDF must rebuild them)."""
    at = good.rfind(b"xref")
    return good[:at] if at > 0 else good[: len(good) // 2]


def byte_flips(good: bytes, seed: int, n: int = 40) -> bytes:
    rng = random.Random(seed)
    data = bytearray(good)
    for _ in range(n):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def memory_bomb(chars: int = 30_000_000) -> bytes:
    """One text-show of tens of millions of glyphs in a few KB of flate: MuPDF's text page for it
    takes gigabytes."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((50, 50), "bomb", fontname="helv")
    ops = b"BT /helv 1 Tf 10 10 Td (" + b"A" * chars + b") Tj ET"
    doc.update_stream(page.get_contents()[0], ops)
    return doc.tobytes(deflate=True)


def many_links(pages: int, links: int) -> bytes:
    """A book whose every page carries ``links`` link annotations pointing at other pages (like
    the index of a long manual), written object by object: MuPDF parses them with each page and
    keeps them cached until told otherwise."""
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>", 3: b"<< /Type /Font /Subtype /Type1 "
               b"/BaseFont /Helvetica >>"}  # fmt: skip
    page_ids = [4 + i * (links + 2) for i in range(pages)]
    for i, pid in enumerate(page_ids):
        annots = list(range(pid + 2, pid + 2 + links))
        objects[pid] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> /Annots [%s] >>"
            % (pid + 1, b" ".join(b"%d 0 R" % a for a in annots))
        )
        text = b"BT /F1 12 Tf 72 770 Td (Index page %d) Tj ET" % (i + 1)
        objects[pid + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text)
        for j, aid in enumerate(annots):
            x, y = 40 + (j % 20) * 26, 60 + (j // 20) * 24
            target = page_ids[(i * 7 + j) % pages]
            objects[aid] = (
                b"<< /Type /Annot /Subtype /Link /Rect [%d %d %d %d] /Border [0 0 0] "
                b"/Dest [%d 0 R /XYZ 0 842 0] >>" % (x, y, x + 20, y + 16, target)
            )
    objects[2] = b"<< /Type /Pages /Count %d /Kids [%s] >>" % (
        pages, b" ".join(b"%d 0 R" % p for p in page_ids))  # fmt: skip
    out, offsets = bytearray(b"%PDF-1.7\n"), {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    size = max(objects) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += (
            b"%010d 00000 n \n" % offsets[number] if number in offsets else b"0000000000 65535 f \n"
        )
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)


def scan_of(pdf: bytes, page: int = 0, dpi: int = 200, turn: int = 0) -> bytes:
    """Page ``page`` of ``pdf`` as a scan: rendered at ``dpi``, turned ``turn`` degrees
    clockwise (a sheet fed sideways), the picture alone on a page of its own."""
    from docgen.extract.ocr import render

    image, _ = render(pymupdf.open(stream=pdf)[page], dpi, turn)
    picture = pymupdf.Pixmap(image)
    width, height = picture.width * 72 / dpi, picture.height * 72 / dpi
    doc = pymupdf.open()
    doc.new_page(width=width, height=height).insert_image(
        pymupdf.Rect(0, 0, width, height), pixmap=picture
    )
    return doc.tobytes()


def long_arabic(samples, pages: int = 32) -> bytes:
    """One long Arabic document: the sample corpus's Arabic pages, over and over. Its text in
    one chat is far more tokens than docgen's estimate for a model whose tokenizer splits Arabic
    finely (SmolLM2's: 3x), so the model's context refuses it."""
    sources = [pymupdf.open(p) for p in sorted(samples.glob("*-ar.pdf"))]
    book = pymupdf.open()
    while book.page_count < pages:
        for src in sources:
            for n in range(src.page_count):
                if book.page_count < pages:
                    book.insert_pdf(src, from_page=n, to_page=n)
    return book.tobytes()
