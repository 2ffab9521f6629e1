"""A document read by several isolation children at once (docgen.extract.lanes) gives what one
child gives: the same messages in the same order, the same pages and counts from the stage, and
the same end when a child dies on a page."""

import pdfs
import pyarrow.parquet as pq
import pymupdf
import pytest

from docgen.core.config import ExtractConfig
from docgen.core.workdir import WorkDir
from docgen.extract import isolate, ocr
from docgen.extract.document import run_document
from docgen.extract.lanes import RUN_PAGES, busy_cores, in_lane
from docgen.extract.sources import Source
from docgen.extract.stage import extract_documents, extract_partition, lanes_for


def joined(paths, out, insert: bytes | None = None, at: int = 0):
    """One PDF of the pages of ``paths`` (with the one page of ``insert`` at page ``at``)."""
    doc = pymupdf.open()
    for path in paths:
        doc.insert_pdf(pymupdf.open(path))
    if insert is not None:
        doc.insert_pdf(pymupdf.open(stream=insert), start_at=at)
    doc.save(out)
    return Source(out.name, str(out), size=out.stat().st_size)


def messages(src, cfg, lanes):
    return list(run_document(src, "d", cfg, lanes))


@pytest.fixture(scope="module")
def long_doc(samples, tmp_path_factory):
    """Half the samples' pages in one PDF: text in eight languages, tables, pictures; and a
    scan on page 6 (lane 1's of two), which OCR reads."""
    out = tmp_path_factory.mktemp("lanes") / "long.pdf"
    return joined(sorted(samples.glob("*.pdf"))[:24], out, insert=pdfs.image_only(), at=5)


def test_lanes_deal_runs_of_pages_and_cover_every_page_once():
    for count in (1, 2, 3):
        owners = [[i for i in range(count) if in_lane(n, (i, count))] for n in range(50)]
        assert all(len(o) == 1 for o in owners)
        assert [o[0] for o in owners[: 2 * RUN_PAGES]] == (
            [0] * RUN_PAGES + [1 % count] * RUN_PAGES
        )
    # A task's seconds count the children that were busy, not those that waited.
    assert busy_cores([40, 40]) == 2 and busy_cores([40, 20, 20]) == 2
    assert busy_cores([3, 0]) == 1 and busy_cores([0, 0]) == busy_cores([]) == 1
    assert lanes_for(1, 2) == 2 and lanes_for(3, 2) == 1 and lanes_for(2, 5) == 2
    assert lanes_for(3, 4) == 1 and lanes_for(1, 64) == 8  # never more children than workers


def test_the_same_messages_in_the_same_order_as_one_child(long_doc, tmp_path):
    cfg = ExtractConfig()
    one = messages(long_doc, cfg, 1)
    assert sum(k == "page" for k, _ in one) > 3 * RUN_PAGES
    if ocr.available_languages():  # the scan, read by OCR (`make test` installs Tesseract)
        assert [p[0]["ocr"] for k, p in one if k == "page"][5]
    for lanes in (2, 3):
        assert messages(long_doc, cfg, lanes) == one  # every page's Arrow bytes included
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"<html>not a pdf</html>")
    src = Source(bad.name, str(bad), size=bad.stat().st_size)
    children = [isolate._children[i].proc.pid for i in range(3)]
    assert messages(src, cfg, 3) == messages(src, cfg, 1)
    # A document that no lane can open ends without killing a child: each stays for the next.
    assert [isolate._children[i].proc.pid for i in range(3)] == children
    isolate.stop_child()


def test_a_reader_that_stops_mid_document_leaves_no_page_behind(long_doc):
    """The stage stops listening (an error while writing): the lanes' children are stopped, and
    the next document is read whole, none of the first one's pages in its stream."""
    cfg = ExtractConfig()
    stream = run_document(long_doc, "d", cfg, 2)
    kinds = [next(stream)[0] for _ in range(5)]
    assert kinds[:2] == ["notes", "n_pages"] and kinds[2:] == ["page"] * 3
    stream.close()
    again = messages(long_doc, cfg, 2)
    assert again == messages(long_doc, cfg, 1)
    isolate.stop_child()


def test_a_child_dying_on_a_page_ends_the_document_there_as_with_one_child(samples, tmp_path):
    """Page 6 is lane 1's (pages 5-8) and renders for minutes: it times out, the pages before it
    are kept, and nothing after it is sent, as with one child."""
    cfg = ExtractConfig(page_timeout_s=3)
    paths = sorted(samples.glob("*.pdf"))[:12]
    src = joined(paths, tmp_path / "slow.pdf", insert=pdfs.slow_page(), at=5)
    one, two = messages(src, cfg, 1), messages(src, cfg, 2)
    pages = [p[0]["page"] for k, p in one if k == "page"]
    assert pages == [1, 2, 3, 4, 5]
    assert [m for m in two if m[0] != "failed"] == [m for m in one if m[0] != "failed"]
    assert one[-1][0] == two[-1][0] == "failed"
    # Both children are usable for the next document.
    good = Source(paths[0].name, str(paths[0]), size=paths[0].stat().st_size)
    assert messages(good, cfg, 2)[-1] == ("end", None)
    isolate.stop_child()


def test_the_stage_writes_the_same_partition_with_lanes(samples, tmp_path):
    paths = sorted(samples.glob("*.pdf"))
    docs = [(f"d{i}", Source(p.name, str(p), size=p.stat().st_size)) for i, p in enumerate(paths)]
    docs.insert(3, ("bad", Source("bad.pdf", str(tmp_path / "bad.pdf"), size=10)))
    (tmp_path / "bad.pdf").write_bytes(b"not a pdf!")
    cfg = ExtractConfig()
    counts = {}
    for lanes in (1, 2):
        counts[lanes] = extract_partition(str(tmp_path / f"w{lanes}"), "p", docs, cfg, False, lanes)
    isolate.stop_child()
    one, two = (WorkDir(str(tmp_path / f"w{n}")) for n in (1, 2))
    for folder in ("pages", "documents", "errors"):
        a = pq.ParquetFile(next((one.root / folder).glob("*.parquet")))
        b = pq.ParquetFile(next((two.root / folder).glob("*.parquet")))
        assert a.read().equals(b.read())
        assert a.metadata.num_row_groups == b.metadata.num_row_groups
    # A core's seconds: the task's time times its children, stored so a rerun says the same.
    again = extract_partition(str(tmp_path / "w2"), "p", docs, cfg, False, 2)
    assert again["skipped"] == 1 and again["seconds"] == counts[2]["seconds"] > 0
    seconds = counts[1].pop("seconds"), counts[2].pop("seconds")
    assert counts[1] == counts[2] and counts[1]["failed_documents"] == 1
    assert all(s > 0 for s in seconds)


def test_a_task_counts_the_children_that_were_busy(samples, long_doc):
    """Short documents keep lane 0 alone busy (pages 1-4 are its): the task's seconds are not
    doubled for a second child that only opened them; a long document keeps both busy."""

    class Tables(list):
        write = list.append

    cfg = ExtractConfig()
    short = [(p.name, Source(p.name, str(p), size=p.stat().st_size))
             for p in sorted(samples.glob("*.pdf"))[:6]]  # fmt: skip
    assert all(pymupdf.open(s.path).page_count <= RUN_PAGES for _, s in short)
    assert extract_documents(short, cfg, Tables(), 2).cores == 1
    assert extract_documents([("long", long_doc)], cfg, Tables(), 2).cores > 1.7
    isolate.stop_child()
