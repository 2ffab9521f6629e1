"""Extract stage: PDFs to page records (text, lines, words, tables, language, rendered image).

Inputs are planned into partitions by content: ``doc_id`` is a hash of the PDF bytes, documents are
sorted by it and cut into groups, and a group's id is a hash of its doc ids. Workers get paths, read
the files themselves, and write ``pages/part-<id>.parquet`` plus
``errors/extract-part-<id>.parquet`` and ``documents/part-<id>.parquet`` (where each document's
bytes are, for the shards' optional `pdf` config).
A bad document becomes an error row with its reason; the rest of the partition goes on.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa

from docgen import layout
from docgen.config import ExtractConfig
from docgen.text import detect_language
from docgen.workdir import WorkDir, fingerprint

_BOX = [("x0", pa.float32()), ("y0", pa.float32()), ("x1", pa.float32()), ("y1", pa.float32())]
PAGE_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("source", pa.string()),
        ("page", pa.int32()),
        ("n_pages", pa.int32()),
        ("width", pa.float32()),
        ("height", pa.float32()),
        ("text", pa.string()),
        (
            "lines",
            pa.list_(
                pa.struct(
                    [("text", pa.string()), ("size", pa.float32()), ("bold", pa.bool_()), *_BOX]
                )
            ),
        ),
        ("words", pa.list_(pa.struct([("text", pa.string()), *_BOX]))),
        ("tables", pa.list_(pa.string())),
        ("lang", pa.string()),
        ("direction", pa.string()),
        ("ocr", pa.bool_()),
        ("image", pa.binary()),
        ("image_format", pa.string()),
        ("image_width", pa.int32()),
        ("image_height", pa.int32()),
    ]
)
ERROR_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("source", pa.string()),
        ("page", pa.int32()),
        ("stage", pa.string()),
        ("error", pa.string()),
    ]
)

# Where each document's bytes are, so later stages (the `pdf` config of the shards) can read them.
DOCUMENT_SCHEMA = pa.schema(
    [("doc_id", pa.string()), ("source", pa.string()), ("path", pa.string()), ("bytes", pa.int64())]
)


def discover(inputs: list[str]) -> list[Path]:
    """PDF files named by the inputs: files as given, folders searched recursively for *.pdf."""
    found = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf"]
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"input not found: {item}")
    return sorted(set(found))


def doc_id_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def plan(inputs: list[str], docs_per_partition: int) -> tuple[list[tuple[str, list]], int]:
    """Partitions ``(part_id, [(doc_id, path), ...])`` and how many inputs were duplicates."""
    docs: dict[str, str] = {}
    paths = discover(inputs)
    for path in paths:
        docs.setdefault(doc_id_of(path), str(path))
    ids = sorted(docs)
    parts = []
    for i in range(0, len(ids), docs_per_partition):
        group = ids[i : i + docs_per_partition]
        parts.append((fingerprint(group)[:12], [(d, docs[d]) for d in group]))
    return parts, len(paths) - len(docs)


def render(page, cfg: ExtractConfig) -> tuple[bytes, int, int]:
    """The page as an image: ``cfg.dpi``, longest side capped at ``cfg.max_image_side`` pixels."""
    import pymupdf

    zoom = cfg.dpi / 72
    longest = max(page.rect.width, page.rect.height) * zoom
    if longest > cfg.max_image_side:
        zoom *= cfg.max_image_side / longest
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
    fmt = {"jpg": "jpeg"}.get(cfg.image_format, cfg.image_format)
    data = pix.tobytes(fmt) if fmt in ("png", "jpeg") else pix.pil_tobytes(format=fmt.upper())
    return data, pix.width, pix.height


def extract_page(page, doc_id: str, source: str, n_pages: int, cfg: ExtractConfig) -> dict:
    lines = layout.visual_lines(page)
    text = "\n".join(line["text"] for line in lines)
    lang, direction = detect_language(text)
    image, width, height = render(page, cfg)
    return {
        "doc_id": doc_id,
        "source": source,
        "page": page.number + 1,
        "n_pages": n_pages,
        "width": page.rect.width,
        "height": page.rect.height,
        "text": text,
        "lines": lines,
        "words": layout.words(page),
        "tables": layout.tables(page, cfg.tables, direction == "rtl"),
        "lang": lang,
        "direction": direction,
        "ocr": False,
        "image": image,
        "image_format": cfg.image_format,
        "image_width": width,
        "image_height": height,
    }


def open_pdf(path: str, cfg: ExtractConfig):
    """Open a PDF or raise ValueError with a reason a person can act on."""
    import pymupdf

    size_mb = os.path.getsize(path) / 2**20
    if size_mb > cfg.max_file_mb:
        raise ValueError(f"file too large: {size_mb:.0f} MB > {cfg.max_file_mb:g} MB")
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as exc:  # MuPDF raises several types for unreadable bytes
        raise ValueError(f"not a readable PDF: {exc}") from None
    if doc.needs_pass:
        raise ValueError("encrypted PDF: a password is required")
    if doc.page_count == 0:
        raise ValueError("PDF has no pages")
    if doc.page_count > cfg.max_pages:
        raise ValueError(f"too many pages: {doc.page_count} > {cfg.max_pages}")
    return doc


def extract_document(path: str, doc_id: str, cfg: ExtractConfig) -> tuple[list[dict], list[dict]]:
    """Pages of one PDF and error rows for what could not be read (the whole file, or pages)."""
    source = Path(path).name
    try:
        doc = open_pdf(path, cfg)
    except ValueError as exc:
        return [], [
            {
                "doc_id": doc_id,
                "source": source,
                "page": None,
                "stage": "extract",
                "error": str(exc),
            }
        ]
    pages, errors = [], []
    with doc:
        for page in doc:
            try:
                pages.append(extract_page(page, doc_id, source, doc.page_count, cfg))
            except Exception as exc:  # one broken page must not cost the document's others
                errors.append(
                    {
                        "doc_id": doc_id,
                        "source": source,
                        "page": page.number + 1,
                        "stage": "extract",
                        "error": f"page failed: {exc}",
                    }
                )
    return pages, errors


def extract_partition(work: str, part: str, docs: list, cfg: ExtractConfig) -> dict:
    """Extract one partition unless it is already done with the same config; return its stats."""
    wd = WorkDir(work)
    fp = fingerprint({"docs": docs, "cfg": asdict(cfg)})
    out = wd.part_path("pages", part)
    documents = wd.part_path("documents", part)
    if wd.done(documents, fp) is None:
        rows = [
            {"doc_id": d, "source": Path(path).name, "path": str(Path(path).resolve()),
             "bytes": os.path.getsize(path)}
            for d, path in docs
        ]  # fmt: skip
        table = pa.Table.from_pylist(rows, DOCUMENT_SCHEMA)
        wd.write(documents, table, fp, {"documents": len(rows)})
    if (stats := wd.done(out, fp)) is not None:
        return {**stats, "skipped": 1}
    start = time.perf_counter()
    pages, errors = [], []
    for doc_id, path in docs:
        p, e = extract_document(path, doc_id, cfg)
        pages += p
        errors += e
    failed = {e["doc_id"] for e in errors if e["page"] is None}
    stats = {
        "documents": len(docs) - len(failed),
        "failed_documents": len(failed),
        "pages": len(pages),
        "failed_pages": sum(e["page"] is not None for e in errors),
        "seconds": round(time.perf_counter() - start, 3),
        "skipped": 0,
    }
    # Errors first, pages last: the pages file is the marker that the partition is complete.
    wd.write(wd.error_path("extract", part), pa.Table.from_pylist(errors, ERROR_SCHEMA), fp, stats)
    wd.write(out, pa.Table.from_pylist(pages, PAGE_SCHEMA), fp, stats)
    return stats
