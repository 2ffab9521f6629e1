"""One document, as its child process reads it (:mod:`docgen.extract.isolate` runs
:func:`run_document` there): the PDF opened under caps (size, pages, embedded image pixels), each
page's record — text in reading order, lines and words with boxes, tables, language, OCR where
there is no text layer, the page image — as PAGE_SCHEMA says, and what was noticed about the file
(JavaScript, embedded files). The stage (:mod:`docgen.extract.stage`) writes what comes back."""

from __future__ import annotations

import weakref

import pyarrow as pa

from docgen.core.config import ExtractConfig
from docgen.core.text import detect_language, dominant_script, script_counts
from docgen.core.workdir import release_memory
from docgen.extract import images, layout, ocr, tables
from docgen.extract.lanes import in_lane, read_in_lanes
from docgen.extract.sources import Source, doc_id_of, looks_like_pdf, read_bytes

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
                    [
                        ("text", pa.string()),
                        ("size", pa.float32()),
                        ("bold", pa.bool_()),
                        ("mono", pa.bool_()),
                        *_BOX,
                    ]  # fmt: skip
                )
            ),
        ),
        ("words", pa.list_(pa.struct([("text", pa.string()), *_BOX]))),
        ("tables", pa.list_(pa.string())),
        ("lang", pa.string()),
        ("direction", pa.string()),
        ("script", pa.string()),
        ("ocr", pa.bool_()),
        ("needs_ocr", pa.bool_()),
        ("figures", pa.int16()),  # embedded images drawn on the page: charts, photos, scans
        ("image", pa.binary()),
        ("image_format", pa.string()),
        ("image_width", pa.int32()),
        ("image_height", pa.int32()),
        # The image's size, so the shard stage can plan shards without reading the images.
        ("image_bytes", pa.int32()),
    ]
)


# Where each document's bytes are (a file, or a member of a tar / a row of a Parquet file), so later
# stages (the `pdf` config of the shards) can read them; and what was noticed about the file.
DOCUMENT_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("source", pa.string()),
        ("path", pa.string()),
        ("member", pa.string()),
        ("offset", pa.int64()),
        ("bytes", pa.int64()),
        ("meta", pa.string()),
        ("notes", pa.list_(pa.string())),
    ]
)


# Pages between two clearings of the document's cache of parsed objects (see forget_objects).
CLEAR_OBJECTS_EVERY = 32


def open_pdf(src: Source, cfg: ExtractConfig):
    """Open a PDF or raise ValueError with a reason a person can act on. Bytes that are no
    longer the ones planned (the file changed since: ``src.digest``) are refused."""
    import pymupdf

    size_mb = src.size / 2**20
    if size_mb > cfg.max_file_mb:
        raise ValueError(f"file too large: {size_mb:.0f} MB > {cfg.max_file_mb:g} MB")
    try:
        data = read_bytes(src)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the file: {exc}") from None
    if src.digest is not None and doc_id_of(data) != src.digest:
        raise ValueError("the file changed after the run was planned: run again to read it anew")
    if not looks_like_pdf(data):
        raise ValueError("not a PDF: no %PDF header")
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as exc:  # MuPDF raises several types for unreadable bytes
        raise ValueError(f"not a readable PDF: {exc}") from None
    if doc.needs_pass:
        raise ValueError("encrypted PDF: a password is required")
    if doc.page_count == 0:
        raise ValueError("PDF has no pages (broken beyond repair, or empty)")
    if doc.page_count > cfg.max_pages:
        raise ValueError(f"too many pages: {doc.page_count} > {cfg.max_pages}")
    return doc


def notes_of(doc) -> list[str]:
    """What a person should know about a file we still extract: active content is never run,
    attachments never opened."""
    notes = []
    if doc.is_repaired:
        notes.append("damaged file repaired by MuPDF (broken xref or truncated)")
    if n := doc.embfile_count():
        notes.append(f"{n} embedded file(s), not extracted")
    catalog = doc.pdf_catalog()
    keys = ("Names/JavaScript", "OpenAction", "AA")
    actions = [doc.xref_get_key(catalog, k) for k in keys]
    scripts = [v for t, v in actions if t != "null"]
    text = " ".join(doc.xref_object(int(v.split()[0])) if v.endswith(" R") else v for v in scripts)
    if actions[0][0] != "null" or "/JS" in text or "/JavaScript" in text:
        notes.append("JavaScript, not run")
    return notes


def check_images(page, cfg: ExtractConfig) -> int:
    """The number of the page's embedded images; refuses a page whose images would decode to
    more than ``max_image_pixels`` (decompression bombs: a few KB of flate that inflate to
    gigabytes)."""
    found = page.get_images(full=False)
    for img in found:
        width, height = img[2], img[3]
        if width * height > cfg.max_image_pixels:
            raise ValueError(
                f"embedded image too large: {width}x{height} px > {cfg.max_image_pixels} "
                "(decompression bomb guard, extract.max_image_pixels)"
            )
    return min(len(found), 32767)


def page_text(
    page, cfg: ExtractConfig, ruled: bool, shown=None
) -> tuple[dict, list[dict], bool, bool]:
    """The page's text dict and words, whether OCR made them, and whether OCR was needed but
    could not run. Vector paths are collected only on pages that can hold a ruled table (they
    keep table cells apart, at a cost). ``shown``: the page's display list, when it has one
    (the page's content read once for its text and its image)."""
    import pymupdf

    flags = layout.TEXT_FLAGS
    if ruled:
        flags |= pymupdf.TEXT_COLLECT_VECTORS
    if shown is not None:
        textpage = pymupdf.TextPage(shown.get_textpage(flags=flags))
        textpage.parent = weakref.proxy(page)  # as Page.get_textpage sets it
    else:
        textpage = page.get_textpage(flags=flags)
    text = layout.text_dict(page, textpage)
    if cfg.ocr == "off" or (cfg.ocr == "auto" and not ocr.needs_ocr(page, text)):
        return text, layout.words(page, textpage), False, False
    if not ocr.available_languages():
        return text, layout.words(page, textpage), False, True
    text, words = ocr.read_page(page, cfg.ocr_languages, cfg.ocr_dpi, cfg.page_timeout_s)
    return text, words, True, False


def extract_page(page, doc_id: str, source: str, n_pages: int, cfg: ExtractConfig) -> dict:
    figures = check_images(page, cfg)
    # The content read once for the text, the image and the search for ruling lines (a display
    # list); not on a rotated page, whose text MuPDF reads unrotated (Page.get_textpage turns it
    # back for the time).
    shown = page.get_displaylist() if page.rotation == 0 else None
    edges = tables.ruling_edges(page, shown) if cfg.tables != "off" else []
    text_dict, words, used_ocr, needs = page_text(page, cfg, tables.grid_possible(edges), shown)
    lines = layout.visual_lines(text_dict)
    text = "\n".join(line["text"] for line in lines)
    scripts = script_counts(text)
    lang, direction = detect_language(text, scripts)
    rtl = direction == "rtl"
    fmt = {"jpg": "jpeg"}.get(cfg.image_format, cfg.image_format)
    image, width, height = images.page_image(
        page, cfg.dpi, cfg.max_image_side, cfg.colour, shown,
        lambda px: (images.encode(px, fmt, cfg.image_quality, cfg.png_level), px.shape[1],
                    px.shape[0]),
    )  # fmt: skip
    return {
        "doc_id": doc_id,
        "source": source,
        "page": page.number + 1,
        "n_pages": n_pages,
        "width": page.rect.width,
        "height": page.rect.height,
        "text": text,
        "lines": lines,
        "words": words,
        "tables": [] if used_ocr else tables.tables(page, text_dict, cfg.tables, rtl, edges),
        "lang": lang,
        "direction": direction,
        "script": dominant_script(text, scripts),
        "ocr": used_ocr,
        "needs_ocr": needs,
        "figures": figures,
        "image": image,
        "image_format": fmt,
        "image_width": width,
        "image_height": height,
    }


def document_messages(src: Source, doc_id: str, cfg: ExtractConfig, lane=(0, 1)):
    """One document as messages: ``("notes", [..])`` and ``("n_pages", n)`` once, then
    ``("page", row)`` or ``("error", row)`` per page of ``lane`` (:func:`in_lane`; every page
    by default); a file that cannot be opened gives one ``("error", row)`` for the document
    (page None)."""
    import pymupdf

    try:
        doc = open_pdf(src, cfg)
    except ValueError as exc:
        yield "error", error_row(doc_id, src.name, None, str(exc))
        return
    with doc:
        yield "notes", notes_of(doc)
        yield "n_pages", doc.page_count
        done = 0
        for number in range(doc.page_count):
            if not in_lane(number, lane):
                continue
            try:
                page = doc.load_page(number)
                if doc.is_repaired and not page.read_contents().strip():
                    raise ValueError("content lost: the file is damaged (repaired, page empty)")
                row = extract_page(page, doc_id, src.name, doc.page_count, cfg)
            except Exception as exc:  # one broken page must not cost the document's others
                reason = f"page failed: {exc}"
                if isinstance(exc, MemoryError) or "alloc" in str(exc):
                    reason = f"out of memory (ceiling extract.memory_mb={cfg.memory_mb}): {exc}"
                yield "error", error_row(doc_id, src.name, number + 1, reason)
            else:
                yield "page", row
            done += 1
            if done % CLEAR_OBJECTS_EVERY == 0:
                forget_objects(doc)
    # MuPDF keeps decoded fonts and images in a store of up to 256 MB; a new document rarely
    # reuses them, and emptying it keeps a long-lived process's memory flat.
    pymupdf.TOOLS.store_shrink(100)
    release_memory()


def forget_objects(doc) -> None:
    """Drop the PDF objects MuPDF parsed and keeps cached for the rest of the document (page
    dictionaries, annotations, links), and give the memory back. Without it a long document's
    process grows page after page: +55 MB over the 200 link-dense index pages of a 1,600-page
    manual."""
    import pymupdf

    pymupdf.mupdf.pdf_clear_xref(pymupdf.mupdf.pdf_document_from_fz_document(doc.this))
    release_memory()


def document_tables(src: Source, doc_id: str, cfg: ExtractConfig, lane=(0, 1)):
    """:func:`document_messages` with each page as ``("page", (facts, batch))``: a one-row record
    batch in Arrow's IPC format and the few facts the partition's stats need. The child builds
    the Arrow columns, so the worker receives compact buffers instead of thousands of little
    dicts (a dense page has 1,000 words), holds a row group's worth of them in a fraction of the
    memory, and reads them without a copy (unpickling a table cost more than writing it)."""
    for kind, payload in document_messages(src, doc_id, cfg, lane):
        if kind == "page":
            facts = {k: payload[k] for k in ("page", "ocr", "needs_ocr")}
            batch = pages_table([payload]).to_batches()[0].serialize().to_pybytes()
            payload = ({**facts, "image_bytes": len(payload["image"])}, batch)
        yield kind, payload


def page_batch(ipc: bytes) -> pa.RecordBatch:
    """A page row sent by :func:`document_tables`, read in place."""
    return pa.ipc.read_record_batch(pa.py_buffer(ipc), PAGE_SCHEMA)


def run_document(src: Source, doc_id: str, cfg: ExtractConfig, lanes: int = 1):
    """:func:`document_tables`, in the child process with its limits when ``cfg.isolate``;
    ends with ``("end", None)`` or ``("failed", reason)``. ``lanes`` > 1: its pages read by as
    many children at once, the same messages in the same order (:mod:`docgen.extract.lanes`)."""
    if not cfg.isolate:
        yield from document_tables(src, doc_id, cfg)
        yield "end", None
        return
    from docgen.extract.isolate import run_isolated

    if lanes > 1:
        yield from read_in_lanes(src, doc_id, cfg, lanes)
        return

    task = ("docgen.extract.document.document_tables", (src, doc_id, cfg))
    yield from run_isolated(task, cfg.memory_mb, cfg.page_timeout_s, cfg.doc_timeout_s)


def error_row(doc_id: str | None, source: str, page: int | None, error: str) -> dict:
    return {"doc_id": doc_id, "source": source, "page": page, "stage": "extract", "error": error}


def pages_table(rows: list[dict]) -> pa.Table:
    """Page rows as a table, built column by column: ``Table.from_pylist`` spent ~3 ms a page on
    the nested words and lines (300 words on a page of a manual); Arrow converts a column of
    lists of dicts itself in a fifth of that."""
    columns = []
    for field in PAGE_SCHEMA:
        if field.name == "image_bytes":
            values = [len(r["image"]) for r in rows]
        else:
            values = [r[field.name] for r in rows]
        columns.append(pa.array(values, field.type))
    return pa.Table.from_arrays(columns, schema=PAGE_SCHEMA)
