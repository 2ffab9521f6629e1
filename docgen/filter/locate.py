"""Where an answer is on its page: the words that say it, as boxes.

The page's words (text layer or OCR, with their boxes in page points) are read as one stream of
comparison tokens (:func:`docgen.core.text.tokens`: words, single characters for CJK). The
answer is located:

- ``exact``: its tokens run in order in the stream, or, for right-to-left lines whose words a PDF
  stores in visual order, as the same tokens in any order over as many consecutive ones;
- ``fuzzy``: the best alignment of its text with the stream's (rapidfuzz) is ``FUZZY_AT`` alike
  or more — what an OCR page with a misread letter needs;
- ``not_found``: neither; an answer read off a chart or figure (pixels, not words) is not found,
  and says so.

The first place found is the one given. The words matched become one box per line (the union of
their boxes), which :func:`scaled` turns into the page image's pixels and into 0–1000. A word
of which only some tokens are matched (a CJK run is one word to a PDF; "2024" of "INV-2024-0042")
is cut to the share of its characters they take (from the right in right-to-left text); a word
whose every token is matched keeps its whole box ("$" and all). Where a page's words do not hold
the answer, its lines are searched the same way (right-to-left words broken by a PDF's glyphs).
"""

from __future__ import annotations

from collections import Counter

from docgen.core.text import RTL_LETTER, token_spans, tokens

FUZZY_AT = 90  # rapidfuzz partial ratio, 0-100
FUZZY_LEAST = 4  # characters an answer needs before it may be found fuzzily
GLUE = 0.05  # of a word's height: pieces of one right-to-left word are closer than this
TRAILING = set(",.:;!?)]」』、。，：")  # after the last word matched, not part of the answer


def glued(words: list[dict]) -> list[dict]:
    """``words`` with the pieces of a right-to-left word made one again: a PDF's glyph forms
    break words (``ا`` ``لمبيعا`` ``ت``), and its pieces touch, where a word space leaves a gap
    (of a tenth of an em or more)."""
    out: list[dict] = []
    for w in words:
        last = out[-1] if out else None
        touching = last and abs(w["y0"] - last["y0"]) < 1 and (
            -0.5 <= last["x0"] - w["x1"] <= GLUE * (w["y1"] - w["y0"]))  # fmt: skip
        if touching and RTL_LETTER.search(w["text"]) and RTL_LETTER.search(last["text"]):
            out[-1] = {**last, "text": last["text"] + w["text"], "x0": w["x0"]}
        else:
            out.append(w)
    return out


def stream(words: list[dict]) -> tuple[list[str], list[tuple[int, float, float]]]:
    """The page's comparison tokens, and where each comes from: its word, and the share of the
    word's characters before its start and before its end."""
    toks, owners = [], []
    for i, word in enumerate(words):
        found, spans, size = token_spans(word["text"])
        for t, (start, end) in zip(found, spans):
            toks.append(t)
            owners.append((i, start / size, end / size))
    return toks, owners


def exact(want: list[str], toks: list[str]) -> tuple[int, int] | None:
    """The tokens ``[start, end)`` of ``want`` in ``toks``: in order, else as the same tokens in
    any order."""
    n = len(want)
    for start in range(len(toks) - n + 1):
        if toks[start : start + n] == want:
            return start, start + n
    bag = Counter(want)
    for start in range(len(toks) - n + 1):
        if toks[start] in bag and Counter(toks[start : start + n]) == bag:
            return start, start + n
    return None


def fuzzy(want: list[str], toks: list[str]) -> tuple[int, int] | None:
    """The tokens ``[start, end)`` of the best fuzzy place of ``want``, when alike enough."""
    from rapidfuzz import fuzz

    text = " ".join(want)
    if len(text.replace(" ", "")) < FUZZY_LEAST or not toks:
        return None
    joined = " ".join(toks)
    found = fuzz.partial_ratio_alignment(text, joined, score_cutoff=FUZZY_AT)
    if found is None:
        return None
    starts = []  # each token's first character in ``joined``
    at = 0
    for t in toks:
        starts.append(at)
        at += len(t) + 1
    first = max(i for i, s in enumerate(starts) if s <= found.dest_start)
    last = max(i for i, s in enumerate(starts) if s < found.dest_end)
    return first, last + 1


def locate(answer: str, words: list[dict], lines: list[dict] = ()) -> tuple[str, list[dict]]:
    """(``exact`` | ``fuzzy`` | ``not_found``, the pieces of the page that say ``answer``, each
    cut to the part of it matched): its ``words``, else its ``lines`` — a PDF's right-to-left
    glyphs often break a word in pieces (``ا`` ``لمبيعا`` ``ت``) that its lines hold whole."""
    want = tokens(answer)
    if not want:
        return "not_found", []
    words = glued(words)
    for how, find in (("exact", exact), ("fuzzy", fuzzy)):
        for pieces in (words, lines):
            toks, owners = stream(pieces)
            if toks and (span := find(want, toks)):
                return how, matched(answer, pieces, owners[span[0] : span[1]], owners)
    return "not_found", []


def matched(answer: str, pieces: list[dict], taken: list, owners: list) -> list[dict]:
    """The ``pieces`` the tokens ``taken`` come from, each cut to its share of them."""
    parts: dict[int, list] = {}  # piece: [share before the match, share to its end, tokens]
    for i, start, end in taken:
        part = parts.setdefault(i, [start, end, 0])
        part[:] = [min(part[0], start), max(part[1], end), part[2] + 1]
    whole = Counter(i for i, *_ in owners)  # tokens per piece
    # "due:" says "due": a mark after the last word matched is not the answer's, unless it ends so.
    last, marked = max(parts), answer.rstrip()[-1:] in TRAILING
    found = []
    for i, (start, end, n) in sorted(parts.items()):
        full = n == whole[i]
        tail = i == last and not marked and pieces[i]["text"][-1:] in TRAILING
        share = (0.0 if full else start, end if tail or not full else 1.0)
        found.append(pieces[i] if share == (0.0, 1.0) else cut(pieces[i], *share))
    return found


def cut(piece: dict, start: float, end: float) -> dict:
    """``piece`` with its box cut to its characters' share ``[start, end)``: from the left, or
    from the right in right-to-left text (a mixed line's left-to-right runs are placed alike)."""
    width = piece["x1"] - piece["x0"]
    if RTL_LETTER.search(piece["text"]):
        return {**piece, "x0": piece["x1"] - width * end, "x1": piece["x1"] - width * start}
    return {**piece, "x0": piece["x0"] + width * start, "x1": piece["x0"] + width * end}


def line_boxes(words: list[dict]) -> list[tuple[float, float, float, float]]:
    """One box per line: the union of the words' boxes, a word joining the line before when
    their vertical middles are within half a line's height."""
    boxes: list[list[float]] = []
    for w in words:
        middle, height = (w["y0"] + w["y1"]) / 2, max(w["y1"] - w["y0"], 1e-6)
        last = boxes[-1] if boxes else None
        if last and abs((last[1] + last[3]) / 2 - middle) <= height / 2:
            last[:] = [min(last[0], w["x0"]), min(last[1], w["y0"]),
                       max(last[2], w["x1"]), max(last[3], w["y1"])]  # fmt: skip
        else:
            boxes.append([w["x0"], w["y0"], w["x1"], w["y1"]])
    return [tuple(b) for b in boxes]


def scaled(box, page_size: tuple[float, float], image_size: tuple[int, int]) -> dict:
    """A box in page points as the page image's pixels (``box``) and 0–1000 (``box_1000``)."""
    (w, h), (iw, ih) = page_size, image_size
    x0, y0, x1, y1 = box
    pixels = [round(x0 * iw / w), round(y0 * ih / h), round(x1 * iw / w), round(y1 * ih / h)]
    per_mille = [round(x0 * 1000 / w), round(y0 * 1000 / h), round(x1 * 1000 / w),
                 round(y1 * 1000 / h)]  # fmt: skip
    clamp = [min(max(v, 0), m) for v, m in zip(pixels, (iw, ih, iw, ih))]
    return {"box": clamp, "box_1000": [min(max(v, 0), 1000) for v in per_mille]}
