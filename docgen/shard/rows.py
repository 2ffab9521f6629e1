"""Shard rows: what each output row holds, built from the kept pairs and the page records.

The rows of one work-dir partition in each config's layout (:mod:`docgen.shard.schema`:
``default``, Docmatix's ``images`` + ``texts``; ``pdf``; the chat configs of
:mod:`docgen.shard.chat`), with the optional metadata and per-turn rating columns, read lazily a
row group of pages at a time (:mod:`docgen.shard.stage` cuts them into shards).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from itertools import accumulate

import pyarrow as pa
import pyarrow.compute as pc

from docgen.core.config import ShardConfig
from docgen.core.settings import RATINGS
from docgen.core.workdir import PAGES, WorkDir, parquet_file
from docgen.filter.passes import joined
from docgen.shard.boxes import BOX_FIELDS, PAGE_COLUMNS, turn_boxes
from docgen.shard.schema import (
    META_FIELDS,
    RATING_FIELDS,
    REASONING_FIELDS,
    ROW_SCHEMA,
    row_schema,
)
from docgen.verify import answer_type


def document_rows(pages: list[dict], pairs: list[dict], max_pages: int):
    """Rows of one document: its pages in chunks, each with the pairs whose pages it holds
    (a pair goes with the chunk of its first page). A pair citing pages of several chunks (a
    multi-page question) gets a row holding just the pages it cites, shared by the pairs that
    cite the same pages; citing more than ``max_pages`` pages, or pages not at hand (past the
    row group of a long document), it gets none: yielded with ``None`` for its pages. Pages
    carry ``index``, their position in the partition's pages table, where their image stays."""
    pages = sorted(pages, key=lambda p: p["page"])
    by_number = {p["page"]: p for p in pages}
    spanning: dict[tuple, list[dict]] = {}
    for start in range(0, len(pages), max_pages):
        chunk = pages[start : start + max_pages]
        numbers = {p["page"] for p in chunk}
        row = []
        for q in pairs:
            if q["pages"] and q["pages"][0] in numbers:
                if numbers.issuperset(q["pages"]):
                    row.append(q)
                else:
                    spanning.setdefault(tuple(sorted(set(q["pages"]))), []).append(q)
        yield row, chunk
    for cited, group in spanning.items():
        fits = len(cited) <= max_pages and all(n in by_number for n in cited)
        yield group, [by_number[n] for n in cited] if fits else None


def kept_by_doc(wd: WorkDir, part: str) -> dict[str, list[dict]]:
    """The kept pairs of a partition after every pass (:func:`docgen.filter.passes.joined`), per
    document, in their order."""
    columns = [
        "doc_id",
        "source",
        "question",
        "answer",
        "pages",
        "keep",
        "backend",
        "model",
        "kind",
        "lang",
    ]
    columns += ["translated_from", "reasoning", *(f"rating_{s}" for s in RATINGS)]  # when there
    by_doc: dict[str, list] = {}
    for q in joined(wd, part, columns=columns).to_pylist():
        if q["keep"]:
            by_doc.setdefault(q["doc_id"], []).append(q)
    return by_doc


def turn(q: dict) -> dict:
    """One pair as a ``texts`` entry; ``source`` names the file and the pages it is about (and
    the question's original language when it was translated)."""
    return {
        "user": q["question"],
        "assistant": q["answer"],
        "source": f"{q['source']} p{','.join(map(str, q['pages']))}"
        + (f" translated-from:{q['translated_from']}" if q.get("translated_from") else ""),
    }


def answer_types(pairs: list[dict]) -> list[str]:
    """Each pair's answer as :func:`docgen.verify.answer_type` types it, in the answer's
    language (a translated question's answer stays in its page's)."""
    return [answer_type(q["answer"], q.get("translated_from") or q["lang"]) for q in pairs]


def turn_ratings(pairs: list[list[dict]]) -> dict[str, list]:
    """The rating columns of rows whose turns are ``pairs`` (one list of pairs per row)."""
    return {f"{scale}_ratings": [[q.get(f"rating_{scale}") for q in row] for row in pairs]
            for scale in RATINGS}  # fmt: skip


def page_reader(table: pa.Table):
    """``page(index)``: the PAGE_COLUMNS of the table's page at ``index``, read when first asked
    (a page's words are many; only pages with pairs are read)."""
    pages = table.select(PAGE_COLUMNS)
    read: dict[int, dict] = {}

    def page(index: int) -> dict:
        if index not in read:
            read[index] = pages.slice(index, 1).to_pylist()[0]
        return read[index]

    return page


def partition_rows(wd: WorkDir, part: str, cfg: ShardConfig, with_bytes: bool = True):
    """One partition's rows as chunks read lazily, one row group of pages at a time (an Arrow
    table, each row's size in bytes and its split), and its counts, filled as the chunks are read.
    Without ``with_bytes`` the images are not read and the chunks carry no table: what planning
    the shards needs.

    A document's pages are contiguous and in order in its pages file (extract writes them so), so
    only the last document's pages that do not yet make a full row wait for the next row group:
    a 1,600-page manual is never in memory whole. Only the small things (texts, image paths,
    which page goes where) pass through Python; the image bytes go from the pages table to the
    output with Arrow ``take``, never copied per row.
    """
    stats: Counter = Counter()
    by_doc = kept_by_doc(wd, part)
    pages_file = parquet_file(wd.part_path(PAGES, part))
    # Pages extracted before they carried their image's size: the images give it.
    size_column = "image_bytes" if "image_bytes" in pages_file.schema_arrow.names else "image"
    columns = ["doc_id", "page", "image_format", "lang", "image" if with_bytes else size_column]
    columns += PAGE_COLUMNS if cfg.answer_boxes and with_bytes else []

    def chunks():
        waiting = None  # pages of the last document read that do not yet fill a row
        for i in range(pages_file.num_row_groups):
            table = pages_file.read_row_group(i, columns=columns)
            if waiting is not None:
                table = pa.concat_tables([waiting, table])
            last = i == pages_file.num_row_groups - 1
            chunk, waiting = rows_of_pages(table, by_doc, cfg, stats, not last, with_bytes)
            if chunk is not None:
                yield chunk

    return chunks(), stats


def rows_of_pages(
    table: pa.Table, by_doc: dict, cfg: ShardConfig, stats: Counter, keep_tail: bool,
    with_bytes: bool = True,
):  # fmt: skip
    """Rows of the documents in ``table`` (pages in file order) and the pages held back: with
    ``keep_tail``, the last document's pages past its last full row (it may go on in the next
    row group). Without ``with_bytes``, only the rows' sizes and splits (no table)."""
    meta = table.select(["doc_id", "page", "image_format", "lang"]).to_pylist()
    pages_by_doc: dict[str, list] = {}
    for i, p in enumerate(meta):
        pages_by_doc.setdefault(p["doc_id"], []).append({**p, "index": i})
    held = []
    if keep_tail and meta:
        pages = pages_by_doc[meta[-1]["doc_id"]]
        whole = len(pages) - len(pages) % cfg.max_pages_per_row
        held = [p["index"] for p in pages[whole:]]
        del pages[whole:]
    waiting = table.take(pa.array(held, pa.int64())) if held else None
    texts, indices, counts, paths, splits, meta_rows, pairs = [], [], [], [], [], [], []
    located, boxes = [], []
    page = page_reader(table) if cfg.answer_boxes and with_bytes else None
    for doc_id, doc_pages in pages_by_doc.items():
        for row_pairs, chunk in document_rows(
            doc_pages, by_doc.get(doc_id, []), cfg.max_pages_per_row
        ):
            if chunk is None:
                stats["pairs_pages_apart"] += len(row_pairs)
                continue
            if not row_pairs:
                stats["rows_without_pairs"] += 1
                continue
            row_texts = [turn(q) for q in row_pairs]
            texts.append(row_texts)
            pairs.append(row_pairs)
            splits.append(split_of(doc_id, cfg))
            first_pair = by_doc[doc_id][0]
            meta_rows.append(
                {
                    "doc_id": doc_id,
                    "languages": sorted({p["lang"] for p in chunk}),
                    "page_numbers": [p["page"] for p in chunk],
                    "generator": f"{first_pair['backend']}:{first_pair['model']}",
                    "kinds": [q["kind"] for q in row_pairs],
                    "answer_types": answer_types(row_pairs),
                }
            )
            if page is not None:
                row_located, row_boxes = turn_boxes(row_pairs, chunk, page)
                located.append(row_located)
                boxes.append(row_boxes)
                stats.update(f"answers_{how}" for how in row_located)
            stats[f"rows:{splits[-1]}"] += 1
            counts.append(len(chunk))
            indices += [p["index"] for p in chunk]
            paths += [f"{p['doc_id']}-p{p['page']:04d}.{p['image_format']}" for p in chunk]
            stats["rows"] += 1
            stats["pairs"] += len(row_texts)
            stats["images"] += len(chunk)
            stats.update(f"lang:{p['lang']}" for p in chunk)
    if not counts:
        return None, waiting
    if "image_bytes" in table.column_names:
        lengths = table.column("image_bytes").to_pylist()
    else:
        lengths = pc.binary_length(table.column("image")).to_pylist()
    image_sizes = iter(lengths[i] for i in indices)
    sizes = [
        sum(next(image_sizes) for _ in range(n))
        + sum(len(t["user"]) + len(t["assistant"]) + len(t["source"]) for t in row_texts)
        for n, row_texts in zip(counts, texts)
    ]
    if not with_bytes:
        return (None, sizes, splits), waiting
    images = table.column("image").combine_chunks()
    if indices != list(range(len(images))):  # usually every page, in order: no copy needed
        images = images.take(pa.array(indices, pa.int64()))
    image_type = ROW_SCHEMA.field("images").type
    structs = pa.StructArray.from_arrays(
        [images, pa.array(paths, pa.string())], fields=list(image_type.value_type)
    )
    offsets = pa.array(list(accumulate(counts, initial=0)), pa.int32())
    arrays = [
        pa.ListArray.from_arrays(offsets, structs, type=image_type),
        pa.array(texts, ROW_SCHEMA.field("texts").type),
    ]
    if cfg.metadata_columns:
        arrays += [pa.array([m[n] for m in meta_rows], t) for n, t in META_FIELDS]
    if cfg.rating_columns:
        ratings = turn_ratings(pairs)
        arrays += [pa.array(ratings[n], t) for n, t in RATING_FIELDS]
    if cfg.answer_boxes:
        arrays += [pa.array(v, t) for v, (_, t) in zip((located, boxes), BOX_FIELDS)]
    if cfg.reasoning_column:
        traces = [[q.get("reasoning") for q in row] for row in pairs]
        arrays.append(pa.array(traces, REASONING_FIELDS[0][1]))
    schema = row_schema(cfg.metadata_columns, ratings=bool(cfg.rating_columns),
                        boxes=cfg.answer_boxes, reasoning=cfg.reasoning_column)  # fmt: skip
    rows = pa.Table.from_arrays(arrays, schema=schema)
    return (rows, sizes, splits), waiting


def split_of(doc_id: str, cfg: ShardConfig) -> str:
    """``test`` for a seeded ``test_fraction`` of documents, by a hash of their id; else train."""
    if cfg.test_fraction <= 0:
        return "train"
    h = int(hashlib.sha256(f"{cfg.split_seed}:{doc_id}".encode()).hexdigest()[:12], 16)
    return "test" if h / 16**12 < cfg.test_fraction else "train"
