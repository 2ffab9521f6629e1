"""Where each turn's answer is on the row's page images (``shard.answer_boxes``).

For every pair of a row, :func:`docgen.filter.locate.locate` looks for its answer on each page it
cites that the row shows, in the page's words (text layer or OCR) and lines: ``answer_located``
says how it was found (``exact``, ``fuzzy``, ``not_found``: an answer read off a chart is not
found, and says so), ``answer_boxes`` gives one box per line of it, each naming the row's image
it is on (0-based), that page's number, the box in the image's pixels and in 0–1000.
"""

from __future__ import annotations

import pyarrow as pa

from docgen.filter.locate import line_boxes, locate, scaled

# What locating needs of a page, read beside the rows' images when the boxes are asked for.
PAGE_COLUMNS = ["width", "height", "image_width", "image_height", "words", "lines"]
BOX_TYPE = pa.struct(
    [("image", pa.int32()), ("page", pa.int32()), ("box", pa.list_(pa.int32())),
     ("box_1000", pa.list_(pa.int32()))]
)  # fmt: skip
BOX_FIELDS = [("answer_located", pa.list_(pa.string())),
              ("answer_boxes", pa.list_(pa.list_(BOX_TYPE)))]  # fmt: skip
LOCATED = ("exact", "fuzzy", "not_found")
BETTER = {how: rank for rank, how in enumerate(reversed(LOCATED))}  # not_found < fuzzy < exact


def turn_boxes(pairs: list[dict], chunk: list[dict], page) -> tuple[list[str], list[list[dict]]]:
    """``answer_located`` and ``answer_boxes`` of a row: its ``pairs``, the pages it shows
    (``chunk``, in image order) and ``page(index)``, a page's PAGE_COLUMNS by its index."""
    located, boxes = [], []
    for q in pairs:
        best, found = "not_found", []
        for image, p in enumerate(chunk):
            if p["page"] not in q["pages"]:
                continue
            rec = page(p["index"])
            how, pieces = locate(q["answer"], rec["words"] or [], rec["lines"] or [])
            if how == "not_found" or not rec["image_width"]:
                continue
            best = max(best, how, key=BETTER.get)
            size, pixels = (rec["width"], rec["height"]), (rec["image_width"], rec["image_height"])
            found += [{"image": image, "page": p["page"], **scaled(box, size, pixels)}
                      for box in line_boxes(pieces)]  # fmt: skip
        located.append(best)
        boxes.append(found)
    return located, boxes


def box_problems(row: dict) -> list[str]:
    """What is wrong with a row's answer columns, when it has them: one entry per pair, each
    box on one of the row's images, four whole numbers, the thousandths within 0–1000."""
    if "answer_located" not in row:
        return []
    n, images = len(row["texts"] or []), len(row.get("images") or [])
    located, boxes = row["answer_located"] or [], row["answer_boxes"] or []
    wrong = []
    if len(located) != n or not set(located) <= set(LOCATED):
        wrong.append(f"answer_located is not one of {', '.join(LOCATED)} per pair: {located}")
    if len(boxes) != n:
        wrong.append(f"answer_boxes is not one list per pair ({len(boxes)} for {n})")
    for turn in boxes:
        for b in turn or []:
            fine = (0 <= b["image"] < images and len(b["box"]) == len(b["box_1000"]) == 4
                    and all(0 <= v <= 1000 for v in b["box_1000"]))  # fmt: skip
            if not fine:
                wrong.append(f"answer box {b} is not a box on one of the row's {images} images")
    return wrong
