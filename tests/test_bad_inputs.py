"""A folder mixing good PDFs with broken ones completes, and every input is accounted for."""

import os

import pyarrow.parquet as pq
import pymupdf

from docgen.core.config import load_config
from docgen.core.workdir import WorkDir
from docgen.run.pipeline import run_pipeline

ZERO_PAGES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def make_bad_files(folder, good_pdf):
    data = good_pdf.read_bytes()
    (folder / "truncated.pdf").write_bytes(data[: len(data) // 3])
    (folder / "random.pdf").write_bytes(os.urandom(4096))
    (folder / "zero-pages.pdf").write_bytes(ZERO_PAGES)
    doc = pymupdf.open(good_pdf)
    doc.save(
        folder / "encrypted.pdf",
        encryption=pymupdf.PDF_ENCRYPT_AES_256,
        user_pw="secret",
        owner_pw="owner",
    )
    (folder / "empty.pdf").write_bytes(b"")


def test_broken_inputs_become_error_rows_and_good_pages_survive(few_samples, tmp_path):
    good = sorted(few_samples.glob("*.pdf"))
    good_pages = sum(len(pymupdf.open(p)) for p in good)
    make_bad_files(few_samples, good[0])
    cfg = load_config(
        "default",
        [
            f"input={few_samples}",
            f"work={tmp_path / 'work'}",
            f"out={tmp_path / 'out'}",
            "run.scheduler=sync",
            "run.progress=false",
            "extract.docs_per_partition=3",
        ],
    )
    manifest = run_pipeline(cfg)

    errors = WorkDir(cfg.work).read_errors().to_pylist()
    by_file = {e["source"]: e["error"] for e in errors}
    assert set(by_file) == {
        "truncated.pdf",
        "random.pdf",
        "zero-pages.pdf",
        "encrypted.pdf",
        "empty.pdf",
    }
    assert "password" in by_file["encrypted.pdf"] and "no pages" in by_file["zero-pages.pdf"]
    ex = manifest["stages"]["extract"]
    assert ex["documents"] + ex["failed_documents"] == len(good) + 5
    assert ex["pages"] == good_pages

    rows = pq.read_table(sorted((tmp_path / "out" / "data").glob("*.parquet"))[0]).to_pylist()
    assert sum(len(r["images"]) for r in rows) == good_pages


def test_identical_pdfs_are_one_document(few_samples, tmp_path):
    first = sorted(few_samples.glob("*.pdf"))[0]
    (few_samples / "copy-of-first.pdf").write_bytes(first.read_bytes())
    cfg = load_config(
        None,
        [
            f"input={few_samples}",
            f"work={tmp_path / 'w'}",
            f"out={tmp_path / 'o'}",
            "run.scheduler=sync",
            "run.progress=false",
        ],
    )
    manifest = run_pipeline(cfg)
    assert manifest["stages"]["extract"]["documents"] == 3
    assert manifest["stages"]["extract"]["duplicate_inputs"] == 1
