"""Arabic-script PDFs written the way XeTeX and many word processors write them: each glyph a
presentation form (lam-alef as its ligature glyph), the ToUnicode map giving those code points,
glyphs in visual order (left to right), numbers and Latin runs left to right inside the line.

``scramble`` writes the glyphs of each Arabic run one by one in an order other than the visual one
(as some producers do: a final yeh written before the noon it follows); ``logical_tounicode``
maps the ligature glyph to its two letters, in logical order, instead of to U+FEFB;
``zwnj_as_space`` writes each zero-width non-joiner as XeTeX does with many Persian fonts: a glyph
that maps to a space, after which the pen goes back, so the next letter touches the previous one.
"""

from __future__ import annotations

import random
import re
import unicodedata

import pymupdf

from docgen.samples.render import ARABIC_FONT, arabic_font_dir

# Runs that go left to right inside a right-to-left line: Latin words, numbers (European or
# Arabic-Indic digits, with their separators), and the spaces between two of them.
_LTR = r"[A-Za-z0-9\u0660-\u0669\u06f0-\u06f9]"
LTR_RUN = re.compile(rf"{_LTR}(?:[.,:/\-]?{_LTR}|[ ]+(?={_LTR}))*")


def shaped(text: str, persian: bool) -> str:
    """Presentation forms, logical order (lam-alef as one ligature character)."""
    import arabic_reshaper

    reshaper = arabic_reshaper.ArabicReshaper(
        {"delete_harakat": False, "support_ligatures": True,
         "language": "Farsi" if persian else "Arabic"}
    )  # fmt: skip
    return reshaper.reshape(text)


def visual_runs(line: str, persian: bool) -> list[tuple[str, bool]]:
    """The line's runs left to right as they stand on the page: (text in visual order, is_ltr)."""
    runs, last = [], 0
    for m in LTR_RUN.finditer(line):
        if m.start() > last:
            runs.append((line[last : m.start()], False))
        runs.append((m.group(), True))
        last = m.end()
    if last < len(line):
        runs.append((line[last:], False))
    return [(text if ltr else visual(shaped(text, persian)), ltr) for text, ltr in reversed(runs)]


def clusters(text: str) -> list[str]:
    """A letter and the marks on it, each."""
    out: list[str] = []
    for ch in text:
        if out and unicodedata.category(ch) == "Mn":
            out[-1] += ch
        else:
            out.append(ch)
    return out


def visual(text: str) -> str:
    """Right-to-left text in visual order: its clusters reversed, each written letter first, and
    brackets mirrored (the glyph drawn for ")" is "("), as a shaper outputs them."""
    return "".join(reversed(clusters(text))).translate(str.maketrans("()[]", ")(]["))


def arabic_pdf(lines: list[str], persian: bool = False, scramble: bool = False,
               logical_tounicode: bool = False, zwnj_as_space: bool = False,
               size: float = 14) -> bytes:  # fmt: skip
    """One A4 page, one text line per item of ``lines`` (logical order), right aligned."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    arabic = pymupdf.Font(fontfile=f"{arabic_font_dir()}/{ARABIC_FONT}")
    latin = pymupdf.Font("helv")
    writer = pymupdf.TextWriter(page.rect)
    rng = random.Random(0)
    for n, line in enumerate(lines):
        runs = visual_runs(line, persian)
        fonts = [latin if ltr else arabic for _, ltr in runs]
        widths = [f.text_length(t, fontsize=size) for (t, _), f in zip(runs, fonts)]
        x, y = 540 - sum(widths), 80 + n * size * 1.8
        for (text, ltr), font, width in zip(runs, fonts, widths):
            if scramble and not ltr:
                glyphs, at = [], x
                for cluster in clusters(text):  # a letter and its marks stay together
                    glyphs.append((at, cluster))
                    at += font.text_length(cluster, fontsize=size)
                for i in range(0, len(glyphs) - 1, 2):  # each pair written right one first
                    if rng.random() < 0.7:
                        glyphs[i], glyphs[i + 1] = glyphs[i + 1], glyphs[i]
                for at, cluster in glyphs:
                    writer.append((at, y), cluster, font=font, fontsize=size)
            elif zwnj_as_space and not ltr:
                at = x
                for n_piece, piece in enumerate(text.split("\u200c")):
                    if n_piece:  # the space glyph, then the pen back to just inside it
                        writer.append((at, y), " ", font=font, fontsize=size)
                        at -= 0.03 * size
                    writer.append((at, y), piece, font=font, fontsize=size)
                    at += font.text_length(piece, fontsize=size)
            else:
                writer.append((x, y), text, font=font, fontsize=size)
            x += width
    writer.write_text(page)
    if logical_tounicode:
        map_ligatures_to_letters(doc)
    return doc.tobytes()


LAM_ALEF = {
    0xFEF5: "06440622",
    0xFEF6: "06440622",
    0xFEF7: "06440623",
    0xFEF8: "06440623",
    0xFEF9: "06440625",
    0xFEFA: "06440625",
    0xFEFB: "06440627",
    0xFEFC: "06440627",
}


def map_ligatures_to_letters(doc) -> None:
    """Rewrite every ToUnicode map so lam-alef glyphs map to their two letters, logical order
    (every entry as a ``bfchar``, ranges expanded, so no range runs on from a changed value)."""
    for xref in range(1, doc.xref_length()):
        if not doc.xref_is_stream(xref) or b"begincmap" not in (data := doc.xref_stream(xref)):
            continue
        text = data.decode("latin-1")
        mapping = {}
        for block in re.findall(r"beginbfrange(.*?)endbfrange", text, re.DOTALL):
            for lo, hi, dest in re.findall(r"<(\w+)>\s*<(\w+)>\s*<(\w+)>", block):
                for k in range(int(lo, 16), int(hi, 16) + 1):
                    mapping[k] = int(dest, 16) + k - int(lo, 16)
        for block in re.findall(r"beginbfchar(.*?)endbfchar", text, re.DOTALL):
            for code, dest in re.findall(r"<(\w+)>\s*<(\w+)>", block):
                mapping[int(code, 16)] = int(dest, 16)
        entries = [f"<{k:04x}> <{LAM_ALEF.get(v, f'{v:04x}')}>" for k, v in sorted(mapping.items())]
        chunks = [entries[i : i + 100] for i in range(0, len(entries), 100)]
        body = "".join(f"{len(c)} beginbfchar\n" + "\n".join(c) + "\nendbfchar\n" for c in chunks)
        head = text[: text.index("endcodespacerange") + len("endcodespacerange\n")]
        tail = text[text.index("endcmap") :]
        doc.update_stream(xref, (head + body + tail).encode("latin-1"))
