"""Right-to-left lines read from where their glyphs stand, not from the order they were written.

PDFs store Arabic-script text as glyphs, and the producers differ in how: in visual order (left to
right, as XeTeX and many word processors do), in logical order, or in an order of their own (a
final form or a mark placed after the fact). MuPDF turns each span it finds around, which is right
only for a span that is wholly right to left and written in visual order: numbers and Latin words
inside an Arabic line come out with their neighbours in the wrong place, spaces at the ends of
runs move, and glyphs written out of order stay out of order. So a line that holds right-to-left
letters is rebuilt here from its characters' boxes: sorted by position (a mark stays with the
letter it was written after), split into runs of one direction (digits, Latin letters and what
stands between them run left to right), and read back in logical order.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right

from docgen.core.text import RTL_LETTER

# Digits are read left to right in a right-to-left line too (European and Arabic-Indic alike).
LTR_STRONG = re.compile(
    r"[A-Za-z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff\u0660-\u0669\u06f0-\u06f9]"
)
MIRROR = str.maketrans("()[]{}<>«»", ")(][}{><»«")
LETTER_L = re.compile(r"[A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]")  # not digits


def has_rtl(text: str) -> bool:
    return RTL_LETTER.search(text) is not None


def kind(c: str) -> str:
    """``R`` right-to-left letter, ``L`` left-to-right letter or digit, ``N`` anything else."""
    if LTR_STRONG.match(c):
        return "L"
    if RTL_LETTER.match(c) and unicodedata.category(c) != "Nd":
        return "R"
    return "N"


def right_to_left(chars: list[str], kinds: list[str]) -> bool:
    """A line's direction: a right-to-left line begins (logically: at its right end) with a
    right-to-left letter, a left-to-right one at its left end with a Latin letter; digits, which
    both may hold, do not count."""
    letters = [k for c, k in zip(chars, kinds) if k == "R" or LETTER_L.match(c)]
    if not letters:
        return False
    if letters[-1] == "R":
        return True
    return letters[0] != "L" and letters.count("R") >= letters.count("L")


def glyph_spaces(chars: list[tuple[str, float, float]], tol: float = 0.15) -> set[int]:
    """Indexes of the spaces MuPDF adds where the pen went back: such a space has the very box of
    a glyph (or of another space), unlike a real space or one MuPDF adds for a gap between words,
    which stands in a place of its own."""
    boxes = sorted((x0, x1) for c, x0, x1 in chars if c != " ")
    starts = [x0 for x0, _ in boxes]
    found, kept = set(), []
    for i, (c, x0, x1) in enumerate(chars):
        if c != " ":
            continue
        near = boxes[bisect_left(starts, x0 - tol) : bisect_right(starts, x0 + tol)] + kept
        if any(abs(b0 - x0) < tol and abs(b1 - x1) < tol for b0, b1 in near):
            found.add(i)
        else:
            kept.append((x0, x1))
    return found


def glyph_extras(chars: list[tuple[str, float, float]]) -> dict[int, int]:
    """The characters past the first of a glyph that stands for several (a lam-alef glyph mapped
    to its two letters): MuPDF gives them no width, at the end of the glyph's advance. Index of
    each -> index of its glyph's first character (the nearest one ending where it stands)."""
    found = {}
    for i, (c, x0, x1) in enumerate(chars):
        if x1 - x0 > 0.01 or unicodedata.category(c) in ("Zs", "Cf"):
            continue  # (a zero-width joiner or non-joiner stands between two glyphs)
        near = [
            j
            for j in range(max(0, i - 4), min(len(chars), i + 5))
            if j != i and chars[j][2] - chars[j][1] > 0.01 and abs(chars[j][2] - x0) < 0.05
        ]
        if near:
            found[i] = min(near, key=lambda j: abs(j - i))
    return found


def extra_of(extra: dict[int, int], base: int) -> list[int]:
    """The extra characters of ``base``'s glyph in logical order: written after it, or before
    it in reverse when MuPDF turned the span around."""
    mine = [i for i, b in extra.items() if b == base]
    return sorted(i for i in mine if i > base) + sorted((i for i in mine if i < base), reverse=True)


def logical_line(chars: list[tuple[str, float, float]], size: float) -> str:
    """The logical text of one visual line from its characters ``(c, x0, x1)`` in the order the
    PDF wrote them (``size``: the line's font size)."""
    synthetic = glyph_spaces(chars)
    extra = glyph_extras(chars)
    groups: list[list] = []  # [text, x0, x1]: a character, what its glyph also stands for, marks
    for i, (c, x0, x1) in enumerate(chars):
        if i in synthetic or i in extra:
            continue
        if groups and unicodedata.category(c) in ("Mn", "Me"):
            groups[-1][0] += c
        else:
            groups.append([c + "".join(chars[j][0] for j in extra_of(extra, i)), x0, x1])
    groups.sort(key=lambda g: g[1] + g[2])  # visual order, left to right (the sort is stable)
    groups = with_gap_spaces(non_joiners(groups, 0.05 * size), size)
    kinds = [kind(g[0][0]) for g in groups]
    rtl = right_to_left([g[0][0] for g in groups], kinds)
    # A neutral between two left-to-right characters runs with them ("TeX Live", "2.0"); any
    # other takes the line's direction.
    before = strong_neighbours(kinds)
    after = strong_neighbours(kinds[::-1])[::-1]
    resolved = [
        k if k != "N" else ("L" if b == a == "L" else ("R" if rtl else "L"))
        for k, b, a in zip(kinds, before, after)
    ]
    runs: list[tuple[str, list[str]]] = []
    for g, k in zip(groups, resolved):
        if runs and runs[-1][0] == k:
            runs[-1][1].append(g[0])
        else:
            runs.append((k, [g[0]]))
    if rtl:
        runs.reverse()
    # A right-to-left run shows "(" where its text has ")": the glyph stands mirrored.
    return "".join(
        "".join(reversed(text)).translate(MIRROR) if k == "R" else "".join(text) for k, text in runs
    )


def _dual_joining() -> frozenset[str]:
    """Letters that join on both sides: those with a medial presentation form."""
    medial = (unicodedata.decomposition(chr(c)) for c in range(0xFB50, 0xFEFD))
    return frozenset(chr(int(d.split()[1], 16)) for d in medial if d.startswith("<medial>"))


DUAL_JOINING = _dual_joining()


def non_joiners(groups: list[list], touch: float) -> list[list]:
    """A space between two right-to-left letters that touch (no gap wider than ``touch``) is no
    word space: XeTeX writes many Persian fonts' zero-width non-joiner as a glyph that maps to a
    space, then takes the pen back. It stands for a non-joiner where the letter before it could
    have joined the next and did not (a final or isolated form of a dual-joining letter), and
    for nothing elsewhere."""
    out: list[list] = []
    for i, g in enumerate(groups):
        left, right = out[-1] if out else None, groups[i + 1] if i + 1 < len(groups) else None
        if g[0] == " " and left and right and kind(left[0][0]) == kind(right[0][0]) == "R":
            if right[1] - left[2] <= touch:
                if not_joined(right[0][0]):
                    out.append(["\u200c", g[1], g[2]])
                continue
        out.append(g)
    return out


def not_joined(c: str) -> bool:
    """Whether ``c`` (the letter before a non-joiner, logically) is a dual-joining letter shown
    in a form that does not join the next one."""
    form, _, base = unicodedata.decomposition(c).partition(" ")
    if not form.startswith("<"):
        return c in DUAL_JOINING
    return form in ("<final>", "<isolated>") and chr(int(base, 16)) in DUAL_JOINING


def with_gap_spaces(groups: list[list], size: float) -> list[list]:
    """A space wherever two glyphs stand apart with none between: TeX and many producers leave
    word spaces as gaps, and MuPDF does not always fill them. Between two right-to-left letters
    a gap of 0.09 em is a word space (measured on Arabic and Persian manuals: gaps inside words
    stay under 0.08 em, word spaces of tightly justified lines come down to 0.11 em); next to
    anything else, 0.15 em."""
    out: list[list] = []
    for g in groups:
        if out and not (g[0].isspace() or out[-1][0].isspace()):
            rtl = kind(g[0][0]) == kind(out[-1][0][-1]) == "R"
            if g[1] - out[-1][2] > (0.09 if rtl else 0.15) * size:
                out.append([" ", out[-1][2], g[1]])
        out.append(g)
    return out


def strong_neighbours(kinds: list[str]) -> list[str | None]:
    """For each position, the last strong kind (L or R) before it."""
    out, last = [], None
    for k in kinds:
        out.append(last)
        if k != "N":
            last = k
    return out
