"""Hostile and broken input: a corpus of mutated PDFs is fully accounted for, nothing hangs past
its limit, nothing kills the run, and the good documents in the same batch come out complete."""

import os
import time
from pathlib import Path

import pdfs
import pyarrow.parquet as pq
import pymupdf

from docgen.core.config import ExtractConfig, load_config
from docgen.core.executor import Executor
from docgen.core.workdir import WorkDir
from docgen.extract.document import page_batch, run_document
from docgen.extract.sources import doc_id_of
from docgen.run.pipeline import run_extract


def hostile_corpus(folder, good: list) -> dict[str, str]:
    """Write the corpus; returns {file name: what it is}."""
    base = good[0].read_bytes()
    files = {
        "trunc-10.pdf": base[: len(base) // 10],
        "trunc-50.pdf": base[: len(base) // 2],
        "trunc-90.pdf": base[: len(base) * 9 // 10],
        "no-xref.pdf": pdfs.cut_xref(base),
        "huge-mediabox.pdf": pdfs.huge_mediabox(base),
        "scan.pdf": pdfs.image_only(),
        "encrypted.pdf": pdfs.encrypted(base),
        "active.pdf": pdfs.with_javascript_and_attachment(base),
        "bomb.pdf": pdfs.decompression_bomb(),
        "slow.pdf": pdfs.slow_page(),
        "random.bin.pdf": os.urandom(5000),
        "empty.pdf": b"",
        "html.pdf": b"<html><body>not a pdf</body></html>",
    }
    files.update({f"flip-{seed}.pdf": pdfs.byte_flips(base, seed) for seed in range(6)})
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def test_mutated_corpus_is_accounted_for_and_nothing_hangs(few_samples, tmp_path):
    good = sorted(few_samples.glob("*.pdf"))
    good_pages = {doc_id_of(p.read_bytes()): len(pymupdf.open(p)) for p in good}
    hostile_corpus(few_samples, good)
    inputs = {doc_id_of(p.read_bytes()): p.name for p in few_samples.iterdir()}
    cfg = load_config(None, [f"input={few_samples}", f"work={tmp_path / 'w'}",
                             "run.scheduler=sync", "run.progress=false",
                             "extract.docs_per_partition=5",
                             "extract.page_timeout_s=3"])  # fmt: skip
    start = time.monotonic()
    stats = run_extract(Executor(), cfg)
    took = time.monotonic() - start

    wd = WorkDir(cfg.work)
    pages = pq.read_table(wd.root / "pages", columns=["doc_id", "page"]).to_pylist()
    errors = wd.read_errors().to_pylist()
    with_pages = {p["doc_id"] for p in pages}
    with_errors = {e["doc_id"] for e in errors}
    assert with_pages | with_errors == set(inputs)  # every input: pages or an error row
    for doc_id, n in good_pages.items():  # good documents complete, with no error
        assert sum(p["doc_id"] == doc_id for p in pages) == n and doc_id not in with_errors
    assert stats["documents"] + stats["failed_documents"] == len(inputs)
    assert took < 120  # the slow page alone renders for minutes

    by_name = {}
    for e in errors:
        by_name.setdefault(inputs[e["doc_id"]], []).append(e["error"])
    assert "password" in by_name["encrypted.pdf"][0]
    assert "not a PDF" in by_name["random.bin.pdf"][0] and "not a PDF" in by_name["html.pdf"][0]
    assert "decompression bomb" in by_name["bomb.pdf"][0]
    # The slow page is stopped by its time limit, or dies first against the memory ceiling
    # (a table finder parsing its 200,000 paths): either way the child is replaced.
    assert any(w in by_name["slow.pdf"][0] for w in ("timed out", "killed", "memory"))
    assert stats["killed"] >= 1 or "memory" in by_name["slow.pdf"][0]
    assert "scan.pdf" not in by_name and "huge-mediabox.pdf" not in by_name

    documents = {d["source"]: d for d in pq.read_table(wd.root / "documents").to_pylist()}
    notes = " ".join(documents["active.pdf"]["notes"])
    assert "JavaScript" in notes and "embedded file" in notes
    huge = pq.read_table(wd.root / "pages", columns=["source", "image_width", "image_height"])
    sizes = [r for r in huge.to_pylist() if r["source"] == "huge-mediabox.pdf"]
    assert sizes and all(max(r["image_width"], r["image_height"]) <= 2940 for r in sizes)


def test_a_document_over_the_memory_ceiling_costs_an_error_row_only(few_samples):
    from docgen.extract.sources import Source

    path = few_samples / "bomb.pdf"
    path.write_bytes(pdfs.memory_bomb())  # 30 KB of PDF, gigabytes of text page
    cfg = ExtractConfig(memory_mb=1000)
    src = Source(path.name, str(path), size=path.stat().st_size)
    messages = list(run_document(src, "bomb", cfg))
    reasons = [p if k == "failed" else p["error"] for k, p in messages if k in ("failed", "error")]
    assert reasons and "memory" in reasons[0]  # MuPDF's allocation fails, or the process dies
    assert not [k for k, _ in messages if k == "page"]

    good = sorted(few_samples.glob("0*.pdf"))[0]
    src = Source(good.name, str(good), size=good.stat().st_size)
    kinds = [k for k, _ in run_document(src, "good", cfg)]  # a process is there for the next
    assert kinds[-1] == "end" and "page" in kinds


def test_a_killed_worker_process_is_replaced(few_samples):
    import signal

    from docgen.extract import isolate
    from docgen.extract.sources import Source

    slow = few_samples / "slow.pdf"
    slow.write_bytes(pdfs.slow_page())
    cfg = ExtractConfig()
    messages = run_document(Source(slow.name, str(slow), size=slow.stat().st_size), "s", cfg)
    assert next(messages)[0] == "notes"  # the child is now rendering the slow page
    os.kill(isolate._children[0].proc.pid, signal.SIGKILL)
    rest = list(messages)
    assert rest[-1][0] == "failed" and "SIGKILL" in rest[-1][1]
    good = sorted(few_samples.glob("0*.pdf"))[0]
    src = Source(good.name, str(good), size=good.stat().st_size)
    assert [k for k, _ in run_document(src, "d", cfg)][-1] == "end"


def test_the_child_loads_no_module_it_does_not_use(few_samples):
    """pandas (which pyarrow imports to inspect a list) and PyMuPDF's layout model and LLM
    helpers (onnxruntime) cost every child time and memory; a child that extracted a page with
    a table has none of their libraries mapped."""
    from docgen.extract import isolate
    from docgen.extract.sources import Source

    pdf = few_samples / "0000-invoice-en.pdf"
    src = Source(pdf.name, str(pdf), size=pdf.stat().st_size)
    messages = list(run_document(src, "d", ExtractConfig()))
    assert messages[-1][0] == "end"
    pages = [page_batch(payload[1]) for kind, payload in messages if kind == "page"]
    assert pages and pages[0]["tables"][0].as_py()  # pdfplumber's grid ran, without pandas
    maps = Path(f"/proc/{isolate._children[0].proc.pid}/maps").read_text()
    assert "pyarrow" in maps and "pymupdf" in maps  # what it does use
    assert "/pandas/" not in maps and "onnxruntime" not in maps


def test_a_caller_that_stops_listening_does_not_leave_pages_for_the_next(few_samples):
    from docgen.extract.sources import Source

    first, second = sorted(few_samples.glob("*.pdf"))[:2]
    cfg = ExtractConfig()
    messages = run_document(Source(first.name, str(first), size=first.stat().st_size), "a", cfg)
    next(messages)
    messages.close()  # e.g. the disk filled while writing the first page
    rows = [p for k, p in run_document(Source(second.name, str(second),
                                              size=second.stat().st_size), "b", cfg)
            if k == "page"]  # fmt: skip
    assert rows and {page_batch(ipc)["doc_id"][0].as_py() for _, ipc in rows} == {"b"}


def test_the_child_keeps_its_page_buffers_under_a_dask_worker(few_samples, monkeypatch):
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536; a child that inherited it
    would fault every page image into memory afresh (thousands of page faults a page, a third of
    its CPU in the kernel)."""
    from docgen.extract import isolate
    from docgen.extract.sources import Source

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    isolate.stop_child()
    book = pymupdf.open()
    for _ in range(6):
        book.insert_pdf(pymupdf.open(few_samples / "0027-report-ar.pdf"))
    path = few_samples / "book.pdf"
    book.save(path)
    src = Source(path.name, str(path), size=path.stat().st_size)

    def faults() -> int:  # minor page faults of the child so far (/proc/PID/stat, field 10)
        stat = open(f"/proc/{isolate._children[0].proc.pid}/stat").read()
        return int(stat.rsplit(")", 1)[1].split()[7])

    counts = [faults() for kind, _ in run_document(src, "b", ExtractConfig(dpi=200))
              if kind == "page"]  # fmt: skip
    isolate.stop_child()
    # From the second page on, the buffers of the page before are reused.
    per_page = (counts[-1] - counts[0]) / (len(counts) - 1)
    assert len(counts) == 12 and per_page < 1000, per_page


def test_a_long_document_does_not_grow_the_process(tmp_path):
    """MuPDF keeps every object it parsed (pages, their link annotations) until the document is
    closed; a long, link-dense document grew the process page after page (+54 MB over this one)
    until the cache was cleared every few pages."""
    import psutil

    from docgen.extract.document import document_messages
    from docgen.extract.sources import Source

    book = tmp_path / "index.pdf"
    book.write_bytes(pdfs.many_links(pages=200, links=400))
    cfg = ExtractConfig(dpi=36, tables="off", ocr="off")
    me = psutil.Process()
    src = Source(book.name, str(book), size=book.stat().st_size)
    rss = [me.memory_info().rss for kind, _ in document_messages(src, "i", cfg) if kind == "page"]
    assert len(rss) == 200
    assert (max(rss[32:]) - rss[32]) / 2**20 < 12
