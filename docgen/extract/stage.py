"""Extract stage: PDFs to page records (text, lines, words, tables, language, OCR, image).

Inputs (files, folders, globs, list files, tar shards, Parquet columns; see
``docgen.extract.sources``) are planned into partitions by content: ``doc_id`` is a hash of the PDF
bytes, documents are sorted by it and cut into groups, and a group's id is a hash of its doc ids.
Workers get locations, read the bytes themselves, and write ``pages/part-<id>.parquet`` (in row
groups, as pages are made), ``errors/extract-part-<id>.parquet`` and
``documents/part-<id>.parquet`` (where each document's bytes are, for the shards' `pdf` config, and
what was noticed about it).

Each document runs in a child process with a memory ceiling and time limits
(``docgen.extract.isolate``): a hostile file costs an error row, never the run. A bad document or
page becomes an error row with its reason; the rest of the partition goes on, and pages already
made are kept.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict

import pyarrow as pa

from docgen.core.config import ExtractConfig
from docgen.core.progress import tell
from docgen.core.step import Output, Step, run_step
from docgen.core.workdir import DOCUMENTS, PAGES, WorkDir, fingerprint, release_memory
from docgen.extract.document import (
    DOCUMENT_SCHEMA,
    PAGE_SCHEMA,
    error_row,
    page_batch,
    run_document,
)
from docgen.extract.lanes import busy_cores, lane_of
from docgen.extract.sources import Source, iter_sources

# Pages buffered before a row group is written (whichever comes first): memory stays flat even
# when the pages are large colour images.
PAGES_PER_WRITE = 32
BYTES_PER_WRITE = 16 * 2**20
# Most children one partition's task reads with (see lanes_for).
MAX_LANES = 8


def plan(inputs: list[str], docs_per_partition: int, max_file_mb: float = math.inf,
         skip: tuple = (), partition_mb: float | None = None,
         limit: int | None = None) -> tuple[list, dict]:  # fmt: skip
    """Partitions ``(part_id, [(doc_id, Source), ...])`` and the counts of the inputs: how many
    PDFs were found, how many were the same bytes as another, and the error rows of inputs that
    could not be read at all (a broken tar shard, a file over ``max_file_mb``, a FIFO). Files
    under the folders ``skip`` (WORK and OUT) are not inputs. A partition closes at
    ``docs_per_partition`` documents or, when given, ``partition_mb`` MB of input, whichever
    comes first (documents in the order of their ids, so the same inputs make the same
    partitions). ``limit``: only the first N documents found (in the inputs' order)."""
    docs: dict[str, Source] = {}
    found, unreadable = 0, []
    for src, doc_id in iter_sources(inputs, max_file_mb * 2**20, skip):
        if src.error:
            unreadable.append(error_row(None, src.name, None, src.error))
            continue
        found += 1
        docs.setdefault(doc_id, src)
        if limit and len(docs) >= limit:
            break
    ids = sorted(docs)
    parts, group, size = [], [], 0
    most = math.inf if partition_mb is None else partition_mb * 2**20
    for i, doc_id in enumerate(ids):
        group.append(doc_id)
        size += docs[doc_id].size
        if len(group) >= docs_per_partition or size >= most or i == len(ids) - 1:
            parts.append((fingerprint(group)[:12], [(d, docs[d]) for d in group]))
            group, size = [], 0
    counts = {"inputs": found, "duplicate_inputs": found - len(docs), "unreadable": unreadable}
    return parts, counts


def may_pass(reason: str) -> bool:
    """A failure a rerun may not meet again: the document's process killed from outside (the
    kernel's out-of-memory killer, an interrupt) or out of time on a busy machine. Not a PDF,
    encrypted, the memory ceiling: the same every time."""
    return reason.startswith(("timed out", "worker process killed by"))


EXTRACT = Step("extract", PAGES, schema=PAGE_SCHEMA)


def lanes_for(partitions: int, workers: int) -> int:
    """Children a partition's task reads its documents with: more than one when the stage has
    fewer partitions than workers (a few long PDFs), so that the idle workers' cores are used
    (:mod:`docgen.extract.lanes`; the output is the same). Never more children at once than
    workers: their memory is what the workers' would have been."""
    return max(1, min(MAX_LANES, workers // max(1, partitions)))


def extract_partition(
    work: str, part: str, docs: list, cfg: ExtractConfig, retry_failed: bool = False,
    lanes: int = 1,
) -> dict:  # fmt: skip
    """Extract one partition unless it is already done with the same config (``retry_failed``:
    and none of its documents failed); return its counts. Its pages are written as they come;
    its documents (``WORK/documents/``) and error rows with them. ``lanes``: children reading
    at once (:func:`lanes_for`; at most this machine's cores)."""
    wd = WorkDir(work)
    lanes = max(1, min(lanes, len(os.sched_getaffinity(0))))
    fp = fingerprint({"docs": [(d, asdict(s)) for d, s in docs], "cfg": asdict(cfg)})
    counts = run_step(wd, EXTRACT, part, fp, lambda out: extract_documents(docs, cfg, out, lanes),
                      retry_failed)  # fmt: skip
    if not counts["skipped"]:
        release_memory()
    return counts


def extract_documents(docs: list, cfg: ExtractConfig, writer, lanes: int = 1) -> Output:
    """Each document's pages, written to ``writer`` in batches; its row; the error rows."""
    stats = {"documents": 0, "failed_documents": 0, "pages": 0, "failed_pages": 0}
    stats.update(ocr_pages=0, needs_ocr_pages=0, killed=0, javascript=0, embedded_files=0)
    errors, documents, batch, batch_bytes = [], [], [], 0
    by_lane = [0] * lanes  # pages each lane read: how many children were busy (Output.cores)
    for doc_id, src in docs:
        notes, pages, last, n_pages = [], 0, 0, None
        for kind, payload in run_document(src, doc_id, cfg, lanes):
            if kind == "page":
                payload, ipc = payload
                batch.append(page_batch(ipc))
                pages += 1
                stats["ocr_pages"] += payload["ocr"]
                stats["needs_ocr_pages"] += payload["needs_ocr"]
                batch_bytes += payload["image_bytes"]
                if len(batch) >= PAGES_PER_WRITE or batch_bytes >= BYTES_PER_WRITE:
                    writer.write(pa.Table.from_batches(batch, PAGE_SCHEMA))
                    batch, batch_bytes = [], 0
            elif kind == "error":
                errors.append(payload)
            elif kind == "notes":
                notes = payload
            elif kind == "n_pages":
                n_pages = payload
            elif kind == "failed":  # the child was killed: time limit, memory, crash
                stats["killed"] += 1
                if row := failure_row(doc_id, src.name, last, n_pages, payload):
                    errors.append(row)
            if kind in ("page", "error") and payload["page"] is not None:
                last = payload["page"]
                by_lane[lane_of(last - 1, lanes)] += 1
        stats["pages"] += pages
        stats["documents" if pages else "failed_documents"] += 1
        tell(documents=1)
        stats["javascript"] += any("JavaScript" in n for n in notes)
        stats["embedded_files"] += any("embedded file" in n for n in notes)
        documents.append(document_row(doc_id, src, notes))
    if batch:
        writer.write(pa.Table.from_batches(batch, PAGE_SCHEMA))
    stats["failed_pages"] = sum(e["page"] is not None for e in errors)
    retryable = len({e["doc_id"] for e in errors if may_pass(e["error"])})
    stats.update(retryable_documents=retryable, skipped=0)
    documents = pa.Table.from_pylist(documents, DOCUMENT_SCHEMA)
    # The documents and the errors are written first, the pages last: they mark it done.
    return Output(None, stats, errors, retryable > 0, beside={DOCUMENTS: documents},
                  cores=busy_cores(by_lane))  # fmt: skip


def failure_row(doc_id, source, last: int, n_pages: int | None, reason: str) -> dict | None:
    """The error row of a document whose process was killed: for the whole document when no
    page came back, else for the page it was on (pages before it are kept)."""
    if not last:
        return error_row(doc_id, source, None, reason)
    if n_pages and last >= n_pages:  # every page came back: nothing was lost
        return None
    rest = f"; pages {last + 1}-{n_pages} not extracted" if n_pages and n_pages > last + 1 else ""
    return error_row(doc_id, source, last + 1, f"{reason}{rest}")


def document_row(doc_id: str, src: Source, notes: list[str]) -> dict:
    return {
        "doc_id": doc_id,
        "source": src.name,
        "path": src.path,
        "member": src.member,
        "offset": src.offset,
        "bytes": src.size,
        "meta": src.meta,
        "notes": notes,
    }


def source_of(document: dict) -> Source:
    """The :class:`Source` of a row of ``documents/part-<id>.parquet``."""
    return Source(
        document["source"],
        document["path"],
        document.get("member"),
        document.get("offset") or 0,
        document.get("bytes") or 0,
        document.get("meta"),
    )
