"""Page structure from PyMuPDF: visual lines in reading order, words with boxes (tables: tables.py).

MuPDF hands back text in logical order within a span, but one visual line often arrives as several
fragments (a bold label and its value, a number inside Arabic text, table cells). Fragments that
share a baseline are joined here: left to right on LTR lines, right to left on RTL ones.
"""

from __future__ import annotations

import re

import numpy as np

from docgen.core.text import fold, has_cjk, is_rtl
from docgen.extract.bidi import has_rtl, logical_line

BOLD = 16  # PyMuPDF span flags
MONOSPACED = 8
# Monospaced fonts by name: TeX's typewriter fonts and others seldom carry the flag.
MONO_FONT = re.compile(
    r"mono|courier|consol|inconsolata|cmtt|lmtt|sftt|txtt|ectt|tctt|pcr[rb]", re.I
)


# TEXT_PRESERVE_LIGATURES: a ligature glyph comes out as its one character (U+FEFB lam-alef, U+FB03
# "ﬃ"), which text.fold turns into its letters in logical order. Left to MuPDF, a ligature is
# expanded in visual order: on right-to-left lines lam-alef reads alef-lam ("بالای" as "باالی"),
# in every Arabic-script PDF that XeTeX or a word processor wrote with presentation forms.
TEXT_FLAGS = 1 | 2 | 64  # TEXT_PRESERVE_LIGATURES | TEXT_PRESERVE_WHITESPACE | TEXT_MEDIABOX_CLIP


def text_flags():
    import pymupdf

    # TEXT_COLLECT_VECTORS makes MuPDF break lines at ruling lines, so the text of adjacent
    # table cells is not run together.
    return TEXT_FLAGS | pymupdf.TEXT_COLLECT_VECTORS


def text_dict(page, textpage=None) -> dict:
    """MuPDF's text of the page (from ``textpage`` when given: one made by OCR, or one shared by
    every reader of the page so the page is parsed once). Lines that hold right-to-left letters
    carry ``logical``, their text rebuilt from the glyphs' positions (see
    :mod:`docgen.extract.bidi`)."""
    if textpage is None:
        textpage = page.get_textpage(flags=text_flags())
    text = page.get_text("dict", textpage=textpage)
    spans = [s["text"] for b in text["blocks"] for ln in b.get("lines", ()) for s in ln["spans"]]
    if not has_rtl("".join(spans)):  # one search of the page's text (a letter is one character)
        return text
    text = page.get_text("rawdict", textpage=textpage)  # the same page, with each glyph's box
    merge_touching_lines(text)
    for block in text["blocks"]:
        for line in block.get("lines", ()):
            chars = [(c["c"], c["bbox"][0], c["bbox"][2]) for s in line["spans"]
                     for c in s["chars"]]  # fmt: skip
            for span in line["spans"]:
                span["text"] = "".join(c["c"] for c in span.pop("chars"))
            if line["dir"][0] > 0.99 and has_rtl("".join(c for c, _, _ in chars)):
                line["logical"] = logical_line(chars, max(s["size"] for s in line["spans"]))
    return text


def merge_touching_lines(text: dict) -> None:
    """Join horizontal lines of a rawdict that sit on one baseline and touch: MuPDF starts a new
    line when the pen goes back, which glyphs written out of visual order make it do inside a
    word. Their characters are then ordered by position
    (:func:`docgen.extract.bidi.logical_line`)."""
    found = [(block, line) for block in text["blocks"] for line in block.get("lines", ())
             if line["dir"][0] > 0.99 and line["spans"]]  # fmt: skip
    found.sort(key=lambda bl: (round(bl[1]["bbox"][3]), bl[1]["bbox"][0]))
    keep = None
    for block, line in found:
        if keep is not None:
            (x0, y0, x1, y1), (a0, b0, a1, b1) = keep[1]["bbox"], line["bbox"]
            size = max(s["size"] for s in line["spans"])
            if abs(y1 - b1) < 0.2 * size and a0 - x1 < 0.25 * size and min(y1, b1) > max(y0, b0):
                keep[1]["spans"] += line["spans"]
                keep[1]["bbox"] = (min(x0, a0), min(y0, b0), max(x1, a1), max(y1, b1))
                block["lines"].remove(line)
                continue
        keep = (block, line)


def fragments(text: dict) -> list[dict]:
    """Every text line MuPDF found, with its box, largest font size and boldness."""
    out = []
    fonts: dict[str, tuple[bool, bool]] = {}  # a font's name: bold, monospaced (asked once)
    for block in text["blocks"]:
        for line in block.get("lines", []):
            spans = [s for s in line["spans"] if s["text"].strip()]
            if not spans:
                continue
            bold = mono = True
            for s in spans:
                font = s["font"]
                if font not in fonts:
                    fonts[font] = ("bold" in font.lower(), bool(MONO_FONT.search(font)))
                bold_font, mono_font = fonts[font]
                bold = bold and bool(s["flags"] & BOLD or bold_font)
                mono = mono and bool(s["flags"] & MONOSPACED or mono_font)
            out.append(
                {
                    "text": fold(
                        line.get("logical") or "".join(s["text"] for s in line["spans"])
                    ).strip(),
                    "size": max(s["size"] for s in spans),
                    "bold": bold,
                    "mono": mono,
                    "bbox": list(line["bbox"]),
                }
            )
    return out


def join(parts: list[dict]) -> str:
    """Join fragments of one visual line; CJK neighbours that touch get no space between them."""
    text = parts[0]["text"]
    for prev, cur in zip(parts, parts[1:]):
        gap = (
            abs(cur["bbox"][0] - prev["bbox"][2])
            if not is_rtl(text)
            else abs(prev["bbox"][0] - cur["bbox"][2])
        )
        tight = gap < 0.3 * max(prev["size"], cur["size"])
        cjk = has_cjk(text[-1:]) or has_cjk(cur["text"][:1])
        text += ("" if tight and cjk else " ") + cur["text"]
    return text


def find_gutter(frags: list[dict]) -> tuple[float, float] | None:
    """The widest vertical strip that separates columns of text: crossed by few fragments (a
    title, a running header, a full-width caption), with at least three fragments on each side,
    each side a quarter of the width or more and filled by its lines the way running text fills
    a column. Table columns and key-value forms fail those tests and are read row by row."""
    if len(frags) < 6:
        return None
    lefts = np.array([f["bbox"][0] for f in frags])
    rights = np.array([f["bbox"][2] for f in frags])
    x0, x1 = float(lefts.min()), float(rights.max())
    size = sorted(f["size"] for f in frags)[len(frags) // 2]
    edges = np.unique(np.concatenate([lefts, rights]))
    wide = np.flatnonzero(np.diff(edges) >= max(6.0, 0.8 * size))
    starts, ends = edges[wide], edges[wide + 1]
    # The fragments crossing each wide gap, every gap at once.
    crossing = ((lefts < ends[:, None]) & (rights > starts[:, None])).sum(axis=1)
    few = crossing <= max(2, len(frags) // 10)
    best = None
    for a, b in zip(starts[few].tolist(), ends[few].tolist()):
        if best and b - a <= best[1] - best[0]:
            continue
        left = [f for f in frags if f["bbox"][2] <= a]
        right = [f for f in frags if f["bbox"][0] >= b]
        if all(is_column(side, x1 - x0) for side in (left, right)):
            best = (a, b)
    return best


def is_column(frags: list[dict], region_width: float) -> bool:
    """Fragments that look like a column of running text: three or more, a quarter of the region
    wide or more, most of them filling at least half of that width."""
    if len(frags) < 3:
        return False
    width = max(f["bbox"][2] for f in frags) - min(f["bbox"][0] for f in frags)
    widths = sorted(f["bbox"][2] - f["bbox"][0] for f in frags)
    return width >= 0.25 * region_width and widths[len(widths) // 2] >= 0.5 * width


def reading_blocks(frags: list[dict], rtl: bool) -> list[list[dict]]:
    """Fragments grouped into blocks in the order a person reads them: fragments crossing a
    column gutter (titles, headers, footers) in their place from top to bottom, and between
    them each column in turn (right column first on right-to-left pages); recursive, so three
    columns or columns inside a section work too."""
    gutter = find_gutter(frags)
    if gutter is None:
        return [frags] if frags else []
    a, b = gutter
    left = [f for f in frags if f["bbox"][2] <= a]
    right = [f for f in frags if f["bbox"][0] >= b]
    apart = {id(f) for side, other in ((left, right), (right, left)) for f in detached(side, other)}
    blocks: list[list[dict]] = []
    section: list[dict] = []

    def flush():
        sides = [
            [f for f in section if f["bbox"][2] <= a],
            [f for f in section if f["bbox"][2] > a],
        ]
        for side in reversed(sides) if rtl else sides:
            blocks.extend(reading_blocks(side, rtl))
        section.clear()

    for f in sorted(frags, key=lambda f: (f["bbox"][1], f["bbox"][0])):
        if (f["bbox"][0] < b and f["bbox"][2] > a) or id(f) in apart:
            flush()
            blocks.append([f])
        else:
            section.append(f)
    flush()
    return blocks


def detached(side: list[dict], other: list[dict]) -> list[dict]:
    """Fragments at the top or bottom of one column that stand apart from it (a gap of several
    lines) and beyond the other column's extent: a running header or a footer aligned with one
    column, read in their place on the page rather than inside that column."""
    if not side or not other:
        return []
    ordered = sorted(side, key=lambda f: f["bbox"][1])
    top, bottom = min(f["bbox"][1] for f in other), max(f["bbox"][3] for f in other)
    size = sorted(f["size"] for f in side)[len(side) // 2]
    out = []
    for i in range(1, len(ordered)):  # from the bottom: the first wide gap below the other column
        if (
            ordered[i]["bbox"][1] > bottom
            and ordered[i]["bbox"][1] - ordered[i - 1]["bbox"][3] > 2.5 * size
        ):
            out += ordered[i:]
            break
    for i in range(len(ordered) - 1, 0, -1):  # from the top: a wide gap above the other column
        if (
            ordered[i - 1]["bbox"][3] < top
            and ordered[i]["bbox"][1] - ordered[i - 1]["bbox"][3] > 2.5 * size
        ):
            out += ordered[:i]
            break
    return out


def rows_of(frags: list[dict]) -> list[list[dict]]:
    """Fragments of one block grouped into visual lines, top to bottom."""
    rows: list[list[dict]] = []
    ry0 = ry1 = 0.0  # the last row's top and bottom
    for frag in sorted(frags, key=lambda f: (f["bbox"][1], f["bbox"][0])):
        y0, y1 = frag["bbox"][1], frag["bbox"][3]
        if rows:
            overlap = min(y1, ry1) - max(y0, ry0)
            if overlap > 0.6 * min(y1 - y0, ry1 - ry0):
                rows[-1].append(frag)
                ry0, ry1 = min(ry0, y0), max(ry1, y1)
                continue
        rows.append([frag])
        ry0, ry1 = y0, y1
    return rows


def visual_lines(text: dict) -> list[dict]:
    """Lines in reading order: blocks (columns, headers, footers) in turn, top to bottom within
    each, fragments on one baseline merged (right to left on RTL lines)."""
    frags = fragments(text)
    page_rtl = is_rtl("".join(f["text"] for f in frags))
    lines = []
    for block in reading_blocks(frags, page_rtl):
        for row in rows_of(block):
            rtl = is_rtl("".join(f["text"] for f in row))
            row.sort(key=lambda f: -f["bbox"][2] if rtl else f["bbox"][0])
            boxes = [f["bbox"] for f in row]
            lines.append(
                {
                    "text": join(row),
                    "size": float(max(f["size"] for f in row)),
                    "bold": all(f["bold"] for f in row),
                    "mono": all(f["mono"] for f in row),  # a code or verbatim line
                    "x0": min(b[0] for b in boxes),
                    "y0": min(b[1] for b in boxes),
                    "x1": max(b[2] for b in boxes),
                    "y1": max(b[3] for b in boxes),
                }
            )
    return lines


def words(page, textpage=None) -> list[dict]:
    found = (
        page.get_text("words", flags=text_flags())
        if textpage is None
        else page.get_text("words", textpage=textpage)
    )
    return [{"text": fold(w[4]), "x0": w[0], "y0": w[1], "x1": w[2], "y1": w[3]} for w in found]
