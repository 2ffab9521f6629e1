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
from pathlib import Path

import pyarrow as pa
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
    """Rows of one document: its pages in chunks, each with the pairs about those pages."""
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
        images = [
            {"bytes": p["image"], "path": f"{p['doc_id']}-p{p['page']:04d}.{p['image_format']}"}
            for p in chunk
        ]
        yield {"images": images, "texts": texts}, chunk


def iter_rows(wd: WorkDir, cfg: ShardConfig, stats: Counter):
    """All output rows in a stable order: partitions, then documents, then page chunks."""
    for part in wd.run_parts("kept"):
        kept = [q for q in wd.read("kept", part).to_pylist() if q["keep"]]
        by_doc: dict[str, list] = {}
        for q in kept:
            by_doc.setdefault(q["doc_id"], []).append(q)
        pages = wd.read("pages", part, columns=["doc_id", "page", "image", "image_format", "lang"])
        pages_by_doc: dict[str, list] = {}
        for p in pages.to_pylist():
            pages_by_doc.setdefault(p["doc_id"], []).append(p)
        for doc_id in sorted(pages_by_doc):
            for row, chunk in document_rows(
                pages_by_doc[doc_id], by_doc.get(doc_id, []), cfg.max_pages_per_row
            ):
                if not row["texts"]:
                    stats["rows_without_pairs"] += 1
                    continue
                stats["rows"] += 1
                stats["pairs"] += len(row["texts"])
                stats["images"] += len(row["images"])
                stats.update(f"lang:{p['lang']}" for p in chunk)
                yield row


def row_bytes(row: dict) -> int:
    return sum(len(i["bytes"]) for i in row["images"]) + sum(
        len(t["user"]) + len(t["assistant"]) + len(t["source"]) for t in row["texts"]
    )


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
        nonlocal group, group_size
        if group:
            writer.write_table(pa.Table.from_pylist(group, ROW_SCHEMA))
            group, group_size = [], 0

    bar = tqdm(desc="shard", unit="row", disable=not progress)
    for row in iter_rows(wd, cfg, stats):
        size = row_bytes(row)
        if shard_size and shard_size + size > shard_limit:
            # Cut before the row that would pass the limit, so shards stay under it.
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
        group.append(row)
        group_size += size
        shard_size += size
        if group_size >= group_limit:
            flush()
        bar.update()
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
