"""Shard stage: kept pairs and page images to Docmatix-style Parquet shards and a dataset card.

One row per document (split into rows of at most ``max_pages_per_row`` pages): ``images`` is a list
of ``{bytes, path}`` structs, ``texts`` a list of ``{user, assistant, source}``. Partitions are
streamed in order, rows are written in row groups of about ``row_group_mb`` and shards are cut at
about ``max_shard_mb``, so no shard has to fit in memory. Output is deterministic: the same kept
pairs give byte-identical shards.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from itertools import accumulate
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from docgen.card import write_card
from docgen.config import ShardConfig
from docgen.workdir import WorkDir

# The features in the legacy form (Sequence / list), which every `datasets` release reads.
FEATURES = {
    "images": {"feature": {"_type": "Image"}, "_type": "Sequence"},
    "texts": [
        {
            "user": {"dtype": "string", "_type": "Value"},
            "assistant": {"dtype": "string", "_type": "Value"},
            "source": {"dtype": "string", "_type": "Value"},
        }
    ],
}
ROW_SCHEMA = pa.schema(
    [
        ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
        (
            "texts",
            pa.list_(
                pa.struct(
                    [("user", pa.string()), ("assistant", pa.string()), ("source", pa.string())]
                )
            ),
        ),
    ],
    metadata={"huggingface": json.dumps({"info": {"features": FEATURES}})},
)
# Images are already compressed (PNG/JPEG): compressing them again costs time and saves nothing.
COMPRESSION = {
    "images.list.element.bytes": "NONE",
    "images.list.element.path": "ZSTD",
    "texts.list.element.user": "ZSTD",
    "texts.list.element.assistant": "ZSTD",
    "texts.list.element.source": "ZSTD",
}


def document_rows(pages: list[dict], pairs: list[dict], max_pages: int):
    """Rows of one document: its pages in chunks, each with the pairs about those pages. Pages
    carry ``index``, their position in the partition's pages table, where their image stays."""
    pages = sorted(pages, key=lambda p: p["page"])
    for start in range(0, len(pages), max_pages):
        chunk = pages[start : start + max_pages]
        numbers = {p["page"] for p in chunk}
        texts = [
            {
                "user": q["question"],
                "assistant": q["answer"],
                "source": f"{q['source']} p{','.join(map(str, q['pages']))}",
            }
            for q in pairs
            if q["pages"] and q["pages"][0] in numbers
        ]
        yield texts, chunk


def partition_rows(wd: WorkDir, part: str, cfg: ShardConfig, stats: Counter):
    """One partition's rows as an Arrow table, and each row's size in bytes.

    Only the small things (texts, image paths, which page goes where) pass through Python; the
    image bytes go from the pages table to the output with Arrow ``take``, never copied per row.
    """
    kept = wd.read("kept", part, columns=["doc_id", "source", "question", "answer", "pages",
                                         "keep"]).to_pylist()  # fmt: skip
    by_doc: dict[str, list] = {}
    for q in kept:
        if q["keep"]:
            by_doc.setdefault(q["doc_id"], []).append(q)
    table = wd.read("pages", part, columns=["doc_id", "page", "image", "image_format", "lang"])
    pages_by_doc: dict[str, list] = {}
    meta = table.select(["doc_id", "page", "image_format", "lang"]).to_pylist()
    for i, p in enumerate(meta):
        pages_by_doc.setdefault(p["doc_id"], []).append({**p, "index": i})
    texts, indices, counts, paths = [], [], [], []
    for doc_id in sorted(pages_by_doc):
        for row_texts, chunk in document_rows(
            pages_by_doc[doc_id], by_doc.get(doc_id, []), cfg.max_pages_per_row
        ):
            if not row_texts:
                stats["rows_without_pairs"] += 1
                continue
            texts.append(row_texts)
            counts.append(len(chunk))
            indices += [p["index"] for p in chunk]
            paths += [f"{p['doc_id']}-p{p['page']:04d}.{p['image_format']}" for p in chunk]
            stats["rows"] += 1
            stats["pairs"] += len(row_texts)
            stats["images"] += len(chunk)
            stats.update(f"lang:{p['lang']}" for p in chunk)
    images = table.column("image").take(pa.array(indices, pa.int64())).combine_chunks()
    image_type = ROW_SCHEMA.field("images").type
    structs = pa.StructArray.from_arrays(
        [images, pa.array(paths, pa.string())], fields=list(image_type.value_type)
    )
    offsets = pa.array(list(accumulate(counts, initial=0)), pa.int32())
    rows = pa.Table.from_arrays(
        [
            pa.ListArray.from_arrays(offsets, structs, type=image_type),
            pa.array(texts, ROW_SCHEMA.field("texts").type),
        ],
        schema=ROW_SCHEMA,
    )
    image_sizes = iter(pc.binary_length(images).to_pylist())
    sizes = [
        sum(next(image_sizes) for _ in range(n))
        + sum(len(t["user"]) + len(t["assistant"]) + len(t["source"]) for t in row_texts)
        for n, row_texts in zip(counts, texts)
    ]
    return rows, sizes


def write_shards(work: str, out: str, cfg: ShardConfig, progress: bool = True) -> dict:
    """Write ``OUT/data/train-XXXXX-of-YYYYY.parquet`` and ``OUT/README.md``; return stats."""
    from tqdm import tqdm

    wd, out = WorkDir(work), Path(out)
    start = time.perf_counter()
    staging = out / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    stats: Counter = Counter()
    shard_limit, group_limit = cfg.max_shard_mb * 2**20, cfg.row_group_mb * 2**20
    shards, writer, group, group_size, shard_size = [], None, [], 0, 0

    def flush():
        """Write the rows gathered so far as one row group."""
        nonlocal group, group_size
        if group:
            table = pa.concat_tables(group)
            writer.write_table(table, row_group_size=max(1, table.num_rows))
            group, group_size = [], 0

    def gather(rows: pa.Table, a: int, b: int) -> None:
        if b > a:
            group.append(rows.slice(a, b - a))

    bar = tqdm(desc="shard", unit="row", disable=not progress)
    for part in wd.run_parts("kept"):
        rows, sizes = partition_rows(wd, part, cfg, stats)
        first = 0  # rows[first:i] are gathered for the current group but not yet in `group`
        for i, size in enumerate(sizes):
            if shard_size and shard_size + size > shard_limit:
                # Cut before the row that would pass the limit, so shards stay under it.
                gather(rows, first, i)
                first = i
                flush()
                writer.close()
                writer, shard_size = None, 0
            if writer is None:
                shards.append(staging / f"{len(shards):05d}.parquet")
                writer = pq.ParquetWriter(
                    shards[-1],
                    ROW_SCHEMA,
                    compression=COMPRESSION,
                    use_dictionary=["texts.list.element.source"],
                )
            group_size += size
            shard_size += size
            if group_size >= group_limit:
                gather(rows, first, i + 1)
                first = i + 1
                flush()
        gather(rows, first, rows.num_rows)
        bar.update(len(sizes))
    bar.close()
    if writer is not None:
        flush()
        writer.close()
    # Names need the shard count, known only now: rename staged files into place.
    data = out / "data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    names = []
    for i, path in enumerate(shards):
        name = f"train-{i:05d}-of-{len(shards):05d}.parquet"
        path.replace(data / name)
        names.append(name)
    shutil.rmtree(staging, ignore_errors=True)
    langs = {k[5:]: v for k, v in sorted(stats.items()) if k.startswith("lang:")}
    result = {
        "rows": stats["rows"],
        "pairs": stats["pairs"],
        "images": stats["images"],
        "rows_without_pairs": stats["rows_without_pairs"],
        "shards": names,
        "bytes": sum((data / n).stat().st_size for n in names),
        "languages": langs,
        "seconds": round(time.perf_counter() - start, 3),
    }
    write_card(out, result, wd.manifest(), cfg, example=first_example(data, names))
    return result


def first_example(data: Path, names: list[str]) -> dict | None:
    if not names:
        return None
    table = pq.ParquetFile(data / names[0]).read_row_group(0, columns=["texts"])
    texts = table.column("texts")[0].as_py()
    return texts[0] if texts else None
