"""Render sample documents (pages of blocks) to PDF with PyMuPDF's HTML layout engine.

MuPDF shapes text with HarfBuzz and lays it out with the Unicode bidi algorithm, so Arabic comes out
joined and right to left; CJK falls back to MuPDF's built-in Droid Sans Fallback. For Arabic we
prefer Debian's Noto Sans Arabic: MuPDF's built-in Naskh maps some contextual glyphs to no Unicode
value, so the text layer of such a PDF would not read back.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

log = logging.getLogger(__name__)

ARABIC_FONT_DIRS = ("/usr/share/fonts/truetype/noto", "/usr/share/fonts/noto")
ARABIC_FONT = "NotoSansArabic-Regular.ttf"
A4 = (595, 842)
RECEIPT = (300, 640)

CSS = """
body { font-size: 10.5pt; line-height: 1.35; }
h1 { font-size: 20pt; margin: 0 0 8pt 0; }
h2 { font-size: 13pt; margin: 12pt 0 4pt 0; }
p { margin: 0 0 5pt 0; }
p.kv { margin: 0 0 3pt 0; }
table { border-collapse: collapse; margin: 8pt 0 8pt 0; width: 100%; }
td, th { border: 0.8pt solid #333; padding: 3pt 5pt; }
th { background-color: #e8e8e8; font-weight: bold; }
"""


def arabic_font_dir() -> str | None:
    for d in ARABIC_FONT_DIRS:
        if (Path(d) / ARABIC_FONT).exists():
            return d
    return None


def block_html(block: dict, lang: str, colon: str, rtl: bool) -> str:
    e = html.escape
    kind = block["type"]
    if kind == "title":
        return f"<h1>{e(block['text'])}</h1>"
    if kind == "heading":
        return f"<h2>{e(block['number'])}. {e(block['text'])}</h2>"
    if kind == "line":
        return f"<p>{e(block['text'])}</p>"
    if kind == "para":
        return f"<p>{e(block['text'])}</p>"
    if kind == "fields":
        return "".join(
            f'<p class="kv"><b>{e(k)}{e(colon.rstrip())}</b>{" " if colon.endswith(" ") else ""}'
            f"{e(v)}</p>"
            for k, v in block["items"]
        )
    if kind == "table":
        # MuPDF lays table columns out left to right whatever the direction, so an RTL table is
        # written reversed: its first (row-label) column then stands at the right, as readers
        # expect.
        order = (lambda r: list(reversed(r))) if rtl else list
        head = "".join(f"<th>{e(c)}</th>" for c in order(block["header"]))
        rows = "".join(
            "<tr>" + "".join(f"<td>{e(c)}</td>" for c in order(r)) + "</tr>" for r in block["rows"]
        )
        return f"<table><tr>{head}</tr>{rows}</table>"
    if kind in ("chart", "pie"):
        return f'<img src="{block["image"]}" style="width:300pt"/><p>{e(block["caption"])}</p>'
    if kind == "stamp":
        return f'<img src="{block["image"]}" style="width:150pt"/>'
    raise ValueError(f"unknown block type {kind!r}")


def chart_png(labels: list[str], values: list[int], width: int = 420, height: int = 220) -> bytes:
    """A bar chart (values 0-100) as a PNG: bars, each value above its bar, labels below."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=16)
    base, top = height - 30, 30
    draw.line([(30, base), (width - 10, base)], fill=0, width=2)
    slot = (width - 40) / len(values)
    for i, (label, value) in enumerate(zip(labels, values)):
        x0 = 40 + i * slot + slot * 0.2
        x1, y = x0 + slot * 0.6, base - (base - top) * value / 100
        draw.rectangle([x0, y, x1, base], fill=90)
        draw.text(((x0 + x1) / 2, y - 4), str(value), fill=0, font=font, anchor="ms")
        draw.text(((x0 + x1) / 2, base + 6), label, fill=0, font=font, anchor="mt")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def pie_png(labels: list[str], values: list[int], size: int = 220) -> bytes:
    """A pie chart (shares in percent) as a PNG: slices in greys, a legend of swatches with
    each slice's label and share."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (size * 2, size), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=16)
    start = -90.0
    for i, (label, value) in enumerate(zip(labels, values)):
        grey, end = 40 + 50 * i, start + 360 * value / 100
        draw.pieslice([10, 10, size - 10, size - 10], start, end, fill=grey, outline=255)
        top = 40 + 40 * i
        draw.rectangle([size * 1.1, top, size * 1.1 + 18, top + 18], fill=grey, outline=0)
        draw.text((size * 1.1 + 28, top + 9), f"{label} {value}%", fill=0, font=font, anchor="lm")
        start = end
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def stamp_png(text: str, date: str) -> bytes:
    """A red rubber stamp, slanted: a frame, the word, the date."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (300, 140), "white")
    draw = ImageDraw.Draw(image)
    red = (200, 30, 40)
    draw.rounded_rectangle([8, 8, 292, 132], radius=14, outline=red, width=5)
    draw.text((150, 58), text, fill=red, font=ImageFont.load_default(size=40), anchor="mm")
    draw.text((150, 106), date, fill=red, font=ImageFont.load_default(size=22), anchor="mm")
    image = image.rotate(10, expand=True, fillcolor="white", resample=Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


DRAWN = {
    "chart": lambda b: chart_png(b["labels"], b["values"]),
    "pie": lambda b: pie_png(b["labels"], b["values"]),
    "stamp": lambda b: stamp_png(b["text"], b["date"]),
}


def with_charts(pages: list[list[dict]], archive):
    """The pages with each drawn block (chart, pie, stamp) naming its image, drawn into
    ``archive`` (made when None); returns (pages, archive)."""
    import pymupdf

    out = []
    for blocks in pages:
        row = []
        for b in blocks:
            if b["type"] in DRAWN:
                archive = archive if archive is not None else pymupdf.Archive()
                name = f"{b['type']}-{sum(len(r) for r in out) + len(row)}.png"
                archive.add((DRAWN[b["type"]](b), name))
                b = {**b, "image": name}
            row.append(b)
        out.append(row)
    return out, archive


def render_document(pages: list[list[dict]], lang: str, pack: dict, small: bool = False) -> bytes:
    """One PDF (bytes) with one page per list of blocks."""
    import pymupdf

    rtl = pack["dir"] == "rtl"
    css, archive = CSS, None
    if rtl and (font_dir := arabic_font_dir()):
        archive = pymupdf.Archive(font_dir)
        css += f"@font-face {{ font-family: ar; src: url({ARABIC_FONT}); }}\n"
        css += "body { font-family: ar; }\n"
    pages, archive = with_charts(pages, archive)
    width, height = RECEIPT if small else A4
    margin = 24 if small else 56
    doc = pymupdf.open()
    doc.set_metadata({"producer": "docgen samples", "creator": "docgen samples"})
    for blocks in pages:
        page = doc.new_page(width=width, height=height)
        body = "".join(block_html(b, lang, pack["colon"], rtl) for b in blocks)
        markup = f'<body lang="{lang}" dir="{"rtl" if rtl else "ltr"}">{body}</body>'
        rect = pymupdf.Rect(margin, margin, width - margin, height - margin)
        spare, _ = page.insert_htmlbox(rect, markup, css=css, archive=archive, scale_low=1)
        if spare < 0:
            raise RuntimeError("sample page content does not fit its page")
    return doc.tobytes(garbage=3, deflate=True, no_new_id=True)  # no random /ID: reproducible
