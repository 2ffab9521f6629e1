"""Extraction: sources of every kind, reading order, images, OCR."""

import io
import json
import tarfile

import numpy as np
import pdfs
import pyarrow as pa
import pyarrow.parquet as pq
import pymupdf
import pytest
from PIL import Image

from docgen.core.config import ExtractConfig, load_config
from docgen.core.executor import Executor
from docgen.core.workdir import WorkDir
from docgen.extract import document, images, layout, ocr, tables
from docgen.extract.document import extract_page
from docgen.extract.sources import doc_id_of, iter_sources, read_bytes
from docgen.extract.stage import plan
from docgen.run.pipeline import run_extract


def lines_of(data: bytes) -> list[str]:
    page = pymupdf.open(stream=data)[0]
    return [line["text"] for line in layout.visual_lines(layout.text_dict(page))]


# -- sources ------------------------------------------------------------------------------------


def make_tar(path, members: dict[str, bytes]):
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_every_kind_of_source_is_read_back_and_same_bytes_are_one_document(few_samples, tmp_path):
    pdf_files = sorted(few_samples.glob("*.pdf"))
    a, b, c = (p.read_bytes() for p in pdf_files)
    make_tar(tmp_path / "shard-0000.tar", {"k1.json": b'{"url": "http://x/1"}', "k1.pdf": b,
                                           "k2.pdf": c, "k2.txt": b"ignored"})  # fmt: skip
    pa_table = pa.table(
        {"id": ["r0", "r1"], "pdf": pa.array([{"bytes": a, "path": "x.pdf"}, {"bytes": c,
                                                                               "path": None}])}
    )  # fmt: skip
    pq.write_table(pa_table, tmp_path / "docs.parquet")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# my corpus\n{pdf_files[0]}\n{few_samples}/*-ar.pdf\n", "utf-8")
    found = list(
        iter_sources([str(tmp_path / "shard-0000.tar"), str(tmp_path / "docs.parquet"),
                      str(listing), str(few_samples / "**" / "*-ko.pdf")])
    )  # fmt: skip
    names = [s.name for s, _ in found]
    assert "shard-0000.tar/k1.pdf" in names and "docs.parquet#1" in names
    assert len(found) == 7  # 2 tar members + 2 rows + 2 from the list + 1 glob
    for src, digest in found:  # a worker reads each back from its location alone
        assert doc_id_of(read_bytes(src)) == digest == src.digest
    tar_meta = {s.name: s.meta for s, _ in found}
    assert json.loads(tar_meta["shard-0000.tar/k1.pdf"]) == {"url": "http://x/1"}
    assert json.loads(tar_meta["docs.parquet#0"]) == {"id": "r0"}

    parts, counts = plan([str(tmp_path), str(few_samples)], docs_per_partition=16)
    assert sum(len(docs) for _, docs in parts) == 3  # three distinct PDFs, reached 9 times
    assert counts["duplicate_inputs"] == counts["inputs"] - 3


def test_partitions_close_at_a_number_of_documents_or_of_bytes(samples):
    from docgen.extract.stage import plan

    by_docs, _ = plan([str(samples)], docs_per_partition=16)
    sizes = [sum(src.size for _, src in docs) for _, docs in by_docs]
    assert [len(docs) for _, docs in by_docs] == [16, 16, 16]
    # Up to 1,000 documents, closed at a third of the corpus's bytes: three or four partitions,
    # each past the size but for the last, in the same order of documents.
    mb = sum(sizes) / 3 / 2**20
    by_bytes, _ = plan([str(samples)], docs_per_partition=1000, partition_mb=mb)
    assert [d for _, docs in by_bytes for d, _ in docs] == [
        d for _, docs in by_docs for d, _ in docs
    ]
    assert len(by_bytes) in (3, 4)
    for _, docs in by_bytes[:-1]:
        assert sum(src.size for _, src in docs) >= mb * 2**20
        assert sum(src.size for _, src in docs[:-1]) < mb * 2**20
    assert plan([str(samples)], 1000, partition_mb=mb)[0] == by_bytes  # the same every time


def test_a_damaged_tar_keeps_its_readable_members_and_says_why(few_samples, tmp_path):
    data = sorted(few_samples.glob("*.pdf"))[0].read_bytes()
    make_tar(tmp_path / "s.tar", {"a.pdf": data, "b.pdf": data + b" ", "c.pdf": data + b"  "})
    blob = (tmp_path / "s.tar").read_bytes()
    (tmp_path / "s.tar").write_bytes(blob[: len(blob) * 2 // 3])
    found = list(iter_sources([str(tmp_path / "s.tar")]))
    good = [s for s, _ in found if not s.error]
    bad = [s for s, _ in found if s.error]
    assert [s.name for s in good][:1] == ["s.tar/a.pdf"] and bad
    assert any("damaged" in s.error for s in bad)


def test_extract_over_a_tar_and_a_parquet_column_and_pdf_config(few_samples, tmp_path):
    pdf_files = sorted(few_samples.glob("*.pdf"))
    (tmp_path / "in").mkdir()
    make_tar(tmp_path / "in" / "s.tar", {"k.pdf": pdf_files[0].read_bytes()})
    pq.write_table(pa.table({"pdf": [pdf_files[1].read_bytes()]}), tmp_path / "in" / "d.parquet")
    cfg = load_config(None, [f"input={tmp_path / 'in'}", f"work={tmp_path / 'w'}",
                             f"out={tmp_path / 'o'}", "run.scheduler=sync", "run.progress=false",
                             "shard.pdf_config=true"])  # fmt: skip
    from docgen.run.pipeline import run_pipeline

    manifest = run_pipeline(cfg)
    assert manifest["stages"]["extract"]["documents"] == 2
    pdf_rows = pq.read_table(sorted((tmp_path / "o" / "pdf").glob("*.parquet"))).to_pylist()
    assert sorted(r["pdf"] for r in pdf_rows) == sorted(p.read_bytes() for p in pdf_files[:2])


# -- reading order ------------------------------------------------------------------------------


def test_two_columns_read_header_left_column_right_column_footer():
    text = "\n".join(lines_of(pdfs.two_columns()))
    order = [text.index(s) for s in ("Quarterly", "Alpha one", "Alpha two", "Beta one",
                                     "Beta two", "Page 1 footer")]  # fmt: skip
    assert order == sorted(order), text


@pytest.mark.skipif(pdfs.arabic_font_dir() is None, reason="needs Noto Sans Arabic")
def test_right_to_left_columns_read_right_column_first():
    text = "\n".join(lines_of(pdfs.two_columns(rtl=True)))
    expected = ["تقرير", "العمود الأيمن يبدأ", "نهاية العمود الأيمن"]
    expected += ["العمود الأيسر يبدأ", "نهاية العمود الأيسر", "صفحة"]
    order = [text.index(s) for s in expected]
    assert order == sorted(order), text


def test_tables_and_key_value_lines_are_not_taken_for_columns(samples):
    page = pymupdf.open(samples / "0000-invoice-en.pdf")[0]
    frags = layout.fragments(layout.text_dict(page))
    assert layout.find_gutter(frags) is None


# -- images -------------------------------------------------------------------------------------


def test_grey_pages_get_one_channel_colour_pages_three_and_png_is_lossless(samples):
    page = pymupdf.open(samples / "0003-report-en.pdf")[0]  # grey table header
    grey = images.render(page, 100, 2940)
    assert grey.ndim == 2
    rgb = page.get_pixmap(dpi=100, alpha=False)
    full = np.frombuffer(rgb.samples, np.uint8).reshape(rgb.height, rgb.width, 3)
    assert np.array_equal(full[:, :, 0], grey)
    decoded = np.asarray(Image.open(io.BytesIO(images.encode(grey, "png"))))
    assert np.array_equal(decoded, grey)

    doc = pymupdf.open()
    coloured = doc.new_page(width=200, height=100)
    coloured.draw_rect(pymupdf.Rect(10, 10, 50, 50), color=(1, 0, 0), fill=(0, 0, 1))
    pixels = images.render(coloured, 72, 2940)
    assert pixels.shape == (100, 200, 3)
    decoded = np.asarray(Image.open(io.BytesIO(images.encode(pixels, "png"))))
    assert np.array_equal(decoded, pixels)
    for fmt in ("jpeg", "webp"):
        assert Image.open(io.BytesIO(images.encode(pixels, fmt))).format == fmt.upper()
    assert images.render(coloured, 72, 2940, colour="gray").ndim == 2
    assert images.render(coloured, 720, 300).shape[1] == 300  # longest side capped


def test_one_coloured_byte_anywhere_keeps_a_page_in_colour():
    """The grey check compares neighbouring bytes: a pixel off grey by one step in any channel,
    first, last or between, must be seen; a grey page's one channel is its red one."""
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(0, 256, (7, 5, 1), dtype=np.uint8), 3, axis=2)
    assert images.is_grey(grey) and images.is_grey(grey[:1, :1])
    for at in range(grey.size):
        off = grey.copy()
        off.reshape(-1)[at] ^= 1
        assert not images.is_grey(off), at
    for fmt in ("png", "jpeg", "webp"):  # a grey page's channel is a strided view of the render
        assert Image.open(io.BytesIO(images.encode(grey[:, :, 0], fmt))).size == (5, 7)
    # A page larger than the pieces the check works through: bytes at a piece's edges.
    big = np.repeat(rng.integers(0, 256, (401, 517, 1), dtype=np.uint8), 3, axis=2)
    piece = images._GREY_PIECE
    assert big.size > 2 * piece and images.is_grey(big)
    for at in (0, piece - 2, piece - 1, piece, piece + 1, 2 * piece, big.size - 2, big.size - 1):
        off = big.copy()
        off.reshape(-1)[at] ^= 1
        assert not images.is_grey(off), at


def test_ascii_text_is_counted_and_folded_as_the_patterns_would():
    """ASCII text skips the script patterns and the folding: the same counts and text."""
    from docgen.core import text

    for s in [
        "",
        "Hello, World! 123 _x\tq",
        "".join(map(chr, range(128))) * 2,
        "caf\u00e9 \ufb01n",
    ]:
        assert text.script_counts(s) == {n: len(p.findall(s)) for n, p in text.SCRIPTS}
    assert text.fold("plain words") == "plain words" and text.fold("\ufb01n") == "fin"


def test_ruling_lines_through_the_display_list_are_the_page_s_own():
    """A page that draws no path has no ruling edges without reading its content again; one
    that draws paths (its own or an annotation's) has the edges ``get_cdrawings`` gives."""
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Only text here")
    ruled = doc.new_page()
    for y in (100, 130, 160):
        ruled.draw_line((72, y), (300, y))
    for x in (72, 180, 300):
        ruled.draw_line((x, 100), (x, 160))
    ruled.insert_text((80, 120), "cell")
    doc.new_page().add_rect_annot(pymupdf.Rect(72, 72, 200, 150))
    text_only, ruled, annotated = pymupdf.open("pdf", doc.tobytes())
    for page in (text_only, ruled, annotated):
        shown = page.get_displaylist()
        assert tables.draws_paths(shown) == bool(page.get_cdrawings())
        assert tables.ruling_edges(page, shown) == tables.ruling_edges(page)
    assert not tables.draws_paths(text_only.get_displaylist())
    assert tables.grid_possible(tables.ruling_edges(ruled, ruled.get_displaylist()))
    assert tables.ruling_edges(annotated, annotated.get_displaylist())
    # A line its clip hides entirely is not in the display list: no ruling line (the page
    # itself still reports it).
    doc = pymupdf.open()
    hidden = doc.new_page()
    hidden.insert_text((72, 72), "A hidden rule below")
    xref = doc.get_new_xref()
    doc.update_object(xref, "<<>>")
    doc.update_stream(xref, b"q 0 0 10 10 re W n 100 100 m 200 100 l S Q")
    doc.xref_set_key(hidden.xref, "Contents", f"[{hidden.get_contents()[0]} 0 R {xref} 0 R]")
    hidden = pymupdf.open("pdf", doc.tobytes())[0]
    assert hidden.get_cdrawings() and not tables.ruling_edges(hidden, hidden.get_displaylist())


def test_text_and_image_read_through_one_display_list_are_the_page_s_own(tmp_path):
    """Annotations, form fields, a crop box: the display list gives the text and the pixels
    that the page itself gives. A rotated page is read as before (text unrotated)."""
    doc = pymupdf.open()
    page = doc.new_page(width=600, height=800)
    page.insert_text((150, 150), "Body text in the crop box")
    page.insert_text((20, 20), "Outside the crop box")
    page.add_freetext_annot(pymupdf.Rect(150, 200, 400, 230), "An annotation")
    field = pymupdf.Widget()
    field.field_type, field.field_name = pymupdf.PDF_WIDGET_TYPE_TEXT, "name"
    field.field_value, field.rect = "A form value", pymupdf.Rect(150, 260, 400, 280)
    page.add_widget(field)
    page.set_cropbox(pymupdf.Rect(100, 100, 500, 700))
    doc.new_page().insert_text((72, 72), "Turned a quarter")
    doc[1].set_rotation(90)
    doc.save(tmp_path / "a.pdf")
    cfg = ExtractConfig()
    page = pymupdf.open(tmp_path / "a.pdf")[0]
    shown = page.get_displaylist()
    for ruled in (False, True):
        assert document.page_text(page, cfg, ruled, shown) == document.page_text(page, cfg, ruled)
    with_list = images.page_image(page, 100, 4000, "auto", shown, lambda px: px.copy())
    assert np.array_equal(with_list, images.render(page, 100, 4000))
    row = extract_page(page, "d", "a.pdf", 2, cfg)
    assert "An annotation" in row["text"] and "A form value" in row["text"]
    assert "Outside" not in row["text"]
    turned_page = pymupdf.open(tmp_path / "a.pdf")[1]
    turned = extract_page(turned_page, "d", "a.pdf", 2, cfg)
    assert turned["text"] == "Turned a quarter"
    # Boxes in the page's unrotated space, as Page.get_textpage gives them.
    assert turned["words"] == document.page_text(turned_page, cfg, False)[1]
    assert turned["words"][0]["x0"] == pytest.approx(72)
    assert turned["image_width"] > turned["image_height"]  # shown as it is turned


# -- OCR ----------------------------------------------------------------------------------------


@pytest.mark.skipif(not ocr.available_languages(), reason="Tesseract is not installed")
def test_image_only_page_is_read_by_ocr_and_marked():
    page = pymupdf.open(stream=pdfs.image_only())[0]
    cfg = ExtractConfig(ocr_languages=["eng"])
    row = extract_page(page, "d", "scan.pdf", 1, cfg)
    assert row["ocr"] and not row["needs_ocr"]
    assert "4711" in row["text"] and "Invoice" in row["text"]
    assert any(w["text"] == "4711" for w in row["words"])


def test_without_tesseract_pages_are_marked_and_the_run_says_so_once(tmp_path, monkeypatch,
                                                                    capsys):  # fmt: skip
    monkeypatch.setattr(ocr, "available_languages", lambda: set())
    for i in range(3):
        (tmp_path / f"scan{i}.pdf").write_bytes(pdfs.image_only(f"Scan number {i}"))
    cfg = load_config(None, [f"input={tmp_path}", f"work={tmp_path / 'w'}",
                             "run.scheduler=sync", "run.progress=false",
                             "extract.isolate=false"])  # fmt: skip
    stats = run_extract(Executor(), cfg)
    assert capsys.readouterr().out.count("Tesseract is not installed") == 1
    assert stats["needs_ocr_pages"] == 3 and stats["ocr_pages"] == 0
    rows = pq.read_table(WorkDir(cfg.work).root / "pages").to_pylist()
    assert all(r["needs_ocr"] and not r["ocr"] for r in rows)
