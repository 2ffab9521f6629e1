"""The rows of every config, partition by partition (:data:`ROWS_OF`): the default config's
(:mod:`docgen.shard.rows`), the `pdf` config's (a document, its PDF and all its pairs) and the
chat configs' (the default rows in a trainer's layout, :mod:`docgen.shard.chat`)."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from docgen.core.config import ShardConfig
from docgen.core.workdir import DOCUMENTS, PAGES, WorkDir
from docgen.extract.sources import doc_id_of, read_bytes
from docgen.extract.stage import source_of
from docgen.shard.chat import LAYOUTS, chat_table, count_rows
from docgen.shard.rows import (
    answer_types,
    kept_by_doc,
    partition_rows,
    split_of,
    turn,
    turn_ratings,
)
from docgen.shard.schema import row_schema


def pdf_rows(wd: WorkDir, part: str, cfg: ShardConfig, with_bytes: bool = True):
    """The `pdf` config's rows of one partition, as chunks read lazily: each document with kept
    pairs, its PDF bytes (read from where extract found it, checked against its content hash)
    and all its pairs. PDFs are read about ``row_group_mb`` at a time when the chunks are
    written, so large files never pile up in memory. A PDF that is gone or has changed since
    extract is counted and left out of this config. Without ``with_bytes`` the chunks carry no
    table (the PDFs are still read, to check them)."""
    stats: Counter = Counter()
    by_doc = kept_by_doc(wd, part)
    langs_by_doc: dict[str, list] = {}
    for p in wd.read(PAGES, part, columns=["doc_id", "page", "lang"]).to_pylist():
        langs_by_doc.setdefault(p["doc_id"], []).append((p["page"], p["lang"]))
    documents = sorted(wd.read(DOCUMENTS, part).to_pylist(), key=lambda d: d["doc_id"])
    documents = [d for d in documents if by_doc.get(d["doc_id"])]
    schema = row_schema(cfg.metadata_columns, "pdf", bool(cfg.rating_columns))

    def chunks():
        budget = cfg.row_group_mb * 2**20
        start = 0
        while start < len(documents):
            end, size = start + 1, documents[start]["bytes"]
            while end < len(documents) and size + documents[end]["bytes"] <= budget:
                size += documents[end]["bytes"]
                end += 1
            rows = [r for d in documents[start:end] if (r := pdf_row(d)) is not None]
            start = end
            if rows:
                sizes = [len(r["pdf"]) + sum(len(t["user"]) + len(t["assistant"])
                                              for t in r["texts"]) for r in rows]  # fmt: skip
                splits = [split_of(r["doc_id"], cfg) for r in rows]
                stats.update(f"pdf_rows:{s}" for s in splits)
                yield pa.Table.from_pylist(rows, schema) if with_bytes else None, sizes, splits

    def pdf_row(doc: dict) -> dict | None:
        try:
            data = read_bytes(source_of(doc))
        except (OSError, ValueError):
            data = b""
        if doc_id_of(data) != doc["doc_id"]:
            stats["pdf_missing"] += 1
            return None
        pairs, pages = by_doc[doc["doc_id"]], sorted(langs_by_doc.get(doc["doc_id"], []))
        return {
            "pdf": data,
            "texts": [turn(q) for q in pairs],
            "doc_id": doc["doc_id"],
            "languages": sorted({lang for _, lang in pages}),
            "page_numbers": [n for n, _ in pages],
            "generator": f"{pairs[0]['backend']}:{pairs[0]['model']}",
            "kinds": [q["kind"] for q in pairs],
            "answer_types": answer_types(pairs),
        } | {name: values[0] for name, values in turn_ratings([pairs]).items()}

    return chunks(), stats


def chat_rows(config: str):
    """The rows of a chat config: the default rows, chunk by chunk, in its layout (same sizes,
    so the same cuts); counted as ``CONFIG_rows:SPLIT`` only."""

    def rows(wd: WorkDir, part: str, cfg: ShardConfig, with_bytes: bool = True):
        chunks, _ = partition_rows(wd, part, cfg, with_bytes)
        stats: Counter = Counter()
        schema = row_schema(cfg.metadata_columns, config, bool(cfg.rating_columns),
                            cfg.answer_boxes, cfg.reasoning_column)  # fmt: skip

        def converted():
            for table, sizes, splits in chunks:
                stats.update(count_rows(config, splits))
                chat = None if table is None else chat_table(table, config, schema)
                yield chat, sizes, splits

        return converted(), stats

    return rows


# config -> its rows, partition by partition
ROWS_OF = {"default": partition_rows, "pdf": pdf_rows} | {c: chat_rows(c) for c in LAYOUTS}
