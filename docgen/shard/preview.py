"""``docgen preview OUT --html FILE``: sample rows of the shards as one static, offline HTML page.

Each sampled row shows its page images beside its question–answer pairs, with the language and the
source file; with answer boxes in the shards (``shard.answer_boxes``), each answer's boxes are
drawn on its page, numbered as its pair, and an answer not found on the page says so. Images are
embedded (downscaled JPEG data URIs), so the file opens anywhere without the shards next to it.
Rows are sampled with a seed, reading only the row groups they are in.
"""

from __future__ import annotations

import base64
import html
import io
import random
from pathlib import Path

from docgen.core.storage import is_local, location
from docgen.core.text import detect_language
from docgen.core.workdir import parquet_file

THUMB_SIDE = 900  # longest side of an embedded page image, in pixels

STYLE = """
body { font-family: "Noto Sans", "Noto Sans CJK SC", "Noto Sans Arabic", sans-serif; margin: 24px;
       background: #f4f5f7; color: #1d1f23; }
h1 { font-size: 22px; } .meta { color: #555; font-size: 13px; }
.row { display: flex; gap: 20px; background: #fff; border-radius: 8px; padding: 16px;
       margin: 16px 0; box-shadow: 0 1px 3px rgba(0,0,0,.15); }
.pages { flex: 0 0 45%; display: flex; flex-direction: column; gap: 8px; }
.pages img { width: 100%; border: 1px solid #ccc; display: block; }
.page { position: relative; }
.box { position: absolute; border: 2px solid #e11d48; background: rgba(225, 29, 72, .12);
       color: #e11d48; font: 600 11px sans-serif; line-height: 1; }
.n { color: #e11d48; font-weight: 600; margin-right: 4px; }
.loc { color: #b45309; font-size: 12px; }
.pairs { flex: 1; } .pair { margin: 0 0 12px; }
.q { font-weight: 600; } .a { color: #14532d; } .src { color: #777; font-size: 12px; }
"""
# Lets a browser (or a test) tell that every image decoded: body[data-images-loaded].
SCRIPT = """
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  document.body.dataset.images = imgs.length;
  document.body.dataset.imagesLoaded = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
});
"""


def thumbnail(data: bytes) -> str:
    """A data URI of the page image, downscaled and JPEG-encoded to keep the page light."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("RGB")
        im.thumbnail((THUMB_SIDE, THUMB_SIDE))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def sample_rows(out: Path, n: int, seed: int) -> list[dict]:
    """``n`` rows chosen at random (seeded) over every shard of every split."""
    shards = sorted((out / "data").glob("*.parquet"))
    if not shards:
        raise ValueError(f"no shards in {out / 'data'}: run `docgen shard` first")
    groups = []  # (shard, row group, rows in it)
    for path in shards:
        meta = parquet_file(path).metadata
        groups += [(path, g, meta.row_group(g).num_rows) for g in range(meta.num_row_groups)]
    total = sum(rows for _, _, rows in groups)
    chosen = sorted(random.Random(seed).sample(range(total), min(n, total)))
    rows, start, wanted = [], 0, iter(chosen)
    index = next(wanted, None)
    for path, g, count in groups:
        if index is not None and index < start + count:
            table = parquet_file(path).read_row_group(g)
            while index is not None and index < start + count:
                rows.append({**table.slice(index - start, 1).to_pylist()[0], "_shard": path.name})
                index = next(wanted, None)
        start += count
    return rows


def marks(row: dict) -> dict[int, str]:
    """Per image of the row, its answers' boxes (``answer_boxes``), numbered as their pairs:
    placed in hundredths of the image, so they sit right at any size the page is shown."""
    out: dict[int, str] = {}
    for k, turn in enumerate(row.get("answer_boxes") or [], 1):
        for b in turn or []:
            x0, y0, x1, y1 = (v / 10 for v in b["box_1000"])
            out[b["image"]] = out.get(b["image"], "") + (
                f'<span class="box" title="answer {k}" style="left:{x0:.1f}%;top:{y0:.1f}%;'
                f'width:{x1 - x0:.1f}%;height:{y1 - y0:.1f}%">{k}</span>')  # fmt: skip
    return out


def render_row(row: dict) -> str:
    texts = row["texts"]
    langs = row.get("languages") or sorted(
        {detect_language(" ".join(t["user"] + " " + t["assistant"] for t in texts))[0]}
    )
    boxes = marks(row)
    images = "".join(
        f'<div class="page"><img alt="{html.escape(im.get("path") or "page")}" '
        f'src="{thumbnail(im["bytes"])}">{boxes.get(i, "")}</div>'
        for i, im in enumerate(row["images"])
    )
    located = row.get("answer_located") or [None] * len(texts)
    pairs = "".join(
        f'<div class="pair" dir="auto"><div class="q"><span class="n">{k}</span>'
        f'{html.escape(t["user"])}</div><div class="a">{html.escape(t["assistant"])}'
        + (f' <span class="loc">({how.replace("_", " ")} on the page)</span>'
           if how not in (None, "exact") else "")
        + f'</div><div class="src" dir="ltr">{html.escape(t["source"])}</div></div>'
        for k, (t, how) in enumerate(zip(texts, located), 1)
    )  # fmt: skip
    source = texts[0]["source"].split(" p")[0] if texts else ""
    return (
        f'<section class="row"><div class="pages">{images}</div><div class="pairs">'
        f'<p class="meta">{html.escape(source)} · language {html.escape(", ".join(langs))} · '
        f"{len(row['images'])} page(s), {len(texts)} pair(s) · {html.escape(row['_shard'])}</p>"
        f"{pairs}</div></section>"
    )


def write_preview(out: str | Path, html_file: str | Path, rows: int = 24, seed: int = 0) -> int:
    """Write the preview page; returns how many rows it shows."""
    out = location(out)
    sample = sample_rows(out, rows, seed)
    title = f"docgen preview: {(out.resolve() if is_local(out) else out).name}"
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='meta'>{len(sample)} row(s) sampled with seed "
        f"{seed}</p>{''.join(render_row(r) for r in sample)}</body></html>"
    )
    Path(html_file).parent.mkdir(parents=True, exist_ok=True)
    Path(html_file).write_text(page, "utf-8")
    return len(sample)
