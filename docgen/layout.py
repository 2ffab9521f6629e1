"""Page structure from PyMuPDF: visual lines in reading order, words with boxes, tables.

MuPDF hands back text in logical order within a span, but one visual line often arrives as several
fragments (a bold label and its value, a number inside Arabic text, table cells). Fragments that
share a baseline are joined here: left to right on LTR lines, right to left on RTL ones.
"""

from __future__ import annotations

from docgen.text import fold, has_cjk, is_rtl

BOLD = 16  # PyMuPDF span flag


def text_flags():
    import pymupdf

    # Not TEXT_PRESERVE_LIGATURES: "ﬃ" should read back as "ffi". TEXT_COLLECT_VECTORS makes
    # MuPDF break lines at ruling lines, so the text of adjacent table cells is not run together.
    return (
        pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP | pymupdf.TEXT_COLLECT_VECTORS
    )


def fragments(page) -> list[dict]:
    """Every text line MuPDF found, with its box, largest font size and boldness."""
    out = []
    for block in page.get_text("dict", flags=text_flags())["blocks"]:
        for line in block.get("lines", []):
            spans = [s for s in line["spans"] if s["text"].strip()]
            if not spans:
                continue
            out.append(
                {
                    "text": fold("".join(s["text"] for s in line["spans"])).strip(),
                    "size": max(s["size"] for s in spans),
                    "bold": all(s["flags"] & BOLD or "bold" in s["font"].lower() for s in spans),
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


def visual_lines(page) -> list[dict]:
    """Lines in reading order: top to bottom, fragments on one baseline merged."""
    rows: list[list[dict]] = []
    for frag in sorted(fragments(page), key=lambda f: (f["bbox"][1], f["bbox"][0])):
        y0, y1 = frag["bbox"][1], frag["bbox"][3]
        row = rows[-1] if rows else None
        if row is not None:
            ry0, ry1 = min(f["bbox"][1] for f in row), max(f["bbox"][3] for f in row)
            overlap = min(y1, ry1) - max(y0, ry0)
            if overlap > 0.6 * min(y1 - y0, ry1 - ry0):
                row.append(frag)
                continue
        rows.append([frag])
    lines = []
    for row in rows:
        rtl = is_rtl("".join(f["text"] for f in row))
        row.sort(key=lambda f: -f["bbox"][2] if rtl else f["bbox"][0])
        boxes = [f["bbox"] for f in row]
        lines.append(
            {
                "text": join(row),
                "size": float(max(f["size"] for f in row)),
                "bold": all(f["bold"] for f in row),
                "x0": min(b[0] for b in boxes),
                "y0": min(b[1] for b in boxes),
                "x1": max(b[2] for b in boxes),
                "y1": max(b[3] for b in boxes),
            }
        )
    return lines


def words(page) -> list[dict]:
    return [
        {"text": fold(w[4]), "x0": w[0], "y0": w[1], "x1": w[2], "y1": w[3]}
        for w in page.get_text("words", flags=text_flags())
    ]


def markdown_table(rows: list[list[str]]) -> str:
    """A GitHub-style Markdown table; the first row is the header."""

    def cell(c):
        return " ".join((c or "").split()).replace("|", "\\|")

    width = max(len(r) for r in rows)
    rows = [[cell(c) for c in r] + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def parse_markdown_table(md: str) -> list[list[str]]:
    """The rows of a table written by :func:`markdown_table` (header first, rule line dropped)."""
    rows = []
    for i, line in enumerate(md.strip().splitlines()):
        if i == 1:
            continue
        cells = line.strip().strip("|").replace("\\|", "\0").split("|")
        rows.append([c.strip().replace("\0", "|") for c in cells])
    return rows


def cell_text(page, rect) -> str:
    """Text inside one table cell, joined as visual lines (so RTL cells read right)."""
    import pymupdf

    clip = pymupdf.Rect(rect)
    frags = []
    for block in page.get_text("dict", clip=clip, flags=text_flags())["blocks"]:
        for line in block.get("lines", []):
            text = fold("".join(s["text"] for s in line["spans"])).strip()
            if text:
                frags.append(
                    {"text": text, "size": line["spans"][0]["size"], "bbox": list(line["bbox"])}
                )
    if not frags:
        return ""
    rtl = is_rtl("".join(f["text"] for f in frags))
    frags.sort(key=lambda f: (round(f["bbox"][1] / 4), -f["bbox"][2] if rtl else f["bbox"][0]))
    return join(frags)


def tables(page, method: str, rtl: bool) -> list[str]:
    """The page's tables as Markdown; on RTL pages columns are put back in reading order.

    ``pdfplumber`` finds ruled grids more reliably than PyMuPDF's finder (which merges rows of
    Arabic tables); either way the cell text is read with MuPDF, which returns logical order where
    pdfplumber returns Arabic reversed.
    """
    if method == "off":
        return []
    if method == "pdfplumber":
        grids = plumber_grids(page)
    else:
        grids = [[list(row.cells) for row in t.rows] for t in page.find_tables().tables]
    out = []
    for grid in grids:
        rows = [[cell_text(page, c) if c else "" for c in row] for row in grid]
        rows = [r for r in rows if any(c.strip() for c in r)]
        if len(rows) >= 2 and max(len(r) for r in rows) >= 2:
            out.append(markdown_table([list(reversed(r)) if rtl else r for r in rows]))
    return out


def plumber_grids(page) -> list[list[list[tuple | None]]]:
    """Cell boxes of the page's tables found by pdfplumber (on this page alone)."""
    import io

    import pdfplumber
    import pymupdf

    single = pymupdf.open()
    single.insert_pdf(page.parent, from_page=page.number, to_page=page.number)
    with pdfplumber.open(io.BytesIO(single.tobytes())) as pdf:
        return [[list(row.cells) for row in t.rows] for t in pdf.pages[0].find_tables()]
