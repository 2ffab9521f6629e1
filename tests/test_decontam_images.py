"""Benchmark pages kept out by their images: a benchmark's page re-rendered, JPEG-compressed,
scaled and cropped by 5% is caught; another page of the same layout is not."""

import io
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pymupdf
import pytest
from PIL import Image

from docgen.cli import main
from docgen.core.workdir import WorkDir
from docgen.filter.decontam_images import REASON, page_hash
from docgen.filter.passes import joined

BITS = 40  # filter.image_match_bits' default


def png(pdf, dpi=150) -> bytes:
    return pymupdf.open(pdf)[0].get_pixmap(dpi=dpi).tobytes("png")


def benchmark_copy(pdf) -> bytes:
    """The page as a benchmark might hold it: rendered at another resolution, cropped by 5% on
    two sides, scaled to another shape, JPEG-compressed."""
    im = Image.open(io.BytesIO(png(pdf, 110))).convert("RGB")
    w, h = im.size
    im = im.crop((int(w * 0.05), 0, w, int(h * 0.95))).resize((700, 900))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=60)
    return out.getvalue()


@pytest.mark.parametrize("name", ["0000-invoice-en", "0003-report-en", "0027-report-ar",
                                  "0040-letter-ja"])  # fmt: skip
def test_a_page_and_its_benchmark_copy_match_and_no_other_page_does(samples, name):
    mine = page_hash(png(samples / f"{name}.pdf"))
    copy = page_hash(benchmark_copy(samples / f"{name}.pdf"))
    assert (mine != copy).sum() <= BITS // 2
    others = [(int((page_hash(png(p)) != copy).sum()), p.name)
              for p in sorted(samples.glob("*.pdf")) if p.stem != name]  # fmt: skip
    assert min(others)[0] > BITS + 10, min(others)  # invoices of one template included


def test_pairs_citing_a_benchmark_page_are_dropped(pipeline_run, samples, tmp_path_factory):
    folder = tmp_path_factory.mktemp("benchmark")
    (folder / "page.jpg").write_bytes(benchmark_copy(samples / "0003-report-en.pdf"))
    # and a Parquet shard of images (a downloaded Hub dataset) holding another page, small
    images = pa.array([{"bytes": png(samples / "0027-report-ar.pdf", 60), "path": "x.png"}])
    pq.write_table(pa.table({"image": images}), folder / "other.parquet")
    run = pipeline_run(f"filter.decontaminate_images={folder}")
    wd = WorkDir(run.work)
    rows = [r for p in wd.parts("kept") for r in joined(wd, p).to_pylist()]
    dropped = {(r["source"].rsplit("/", 1)[-1], tuple(r["pages"]))
               for r in rows if r["reason"] == "contaminated_image"}  # fmt: skip
    # The two pages, with every pair citing them; no other page of the 64.
    assert dropped == {("0003-report-en.pdf", (1,)), ("0027-report-ar.pdf", (1,))}
    assert not any(r["keep"] and r["source"].endswith(("0003-report-en.pdf", "0027-report-ar.pdf"))
                   and 1 in r["pages"] for r in rows)  # fmt: skip
    counts = run.manifest["stages"]["filter"]["decontaminate_images"]
    assert counts["contaminated_pages"] == 2 and counts["contaminated_image"] == len(
        [r for r in rows if r["reason"] == "contaminated_image"])  # fmt: skip


def test_a_benchmark_that_is_not_there_is_one_line_before_any_work(few_samples, tmp_path, capsys):
    missing = f"filter.decontaminate_images={tmp_path / 'none'}"
    argv = ["run", "--input", str(few_samples), "--work", str(tmp_path / "w"), "--out",
            str(tmp_path / "o"), "--set", missing]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "filter.decontaminate_images" in err[0] and "not found" in err[0]
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("name,data,said", [
    ("scan.jpg", b"not an image at all", "is not an image"),
    ("bench.parquet", b"PAR1 but not Parquet", "does not read as Parquet"),
])  # fmt: skip
def test_a_benchmark_file_that_does_not_read_is_one_line(few_samples, tmp_path, capsys, name,
                                                          data, said):  # fmt: skip
    folder = tmp_path / "benchmark"
    folder.mkdir()
    (folder / name).write_bytes(data)
    argv = ["run", "--input", str(few_samples), "--work", str(tmp_path / "w"), "--out",
            str(tmp_path / "o"), "--set", f"filter.decontaminate_images={folder}",
            "--set", "run.progress=false"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and said in err[0] and "Traceback" not in err[0], err


def test_a_hub_dataset_is_downloaded_once_and_its_images_compared(
    pipeline_run, samples, few_samples, tmp_path, monkeypatch, capsys
):
    import huggingface_hub
    from test_push import not_found  # the error huggingface_hub raises for a missing repo

    hub = tmp_path / "hub"  # what the Hub holds for bench/pages: a Parquet shard of images
    hub.mkdir()
    images = pa.array([{"bytes": benchmark_copy(samples / "0003-report-en.pdf"), "path": "a.jpg"}])
    pq.write_table(pa.table({"image": images}), hub / "test-00000-of-00001.parquet")
    asked = []

    def snapshot_download(repo_id, *, repo_type, local_dir, allow_patterns, **kw):
        # The Hub's boundary: the real client is not reachable here.
        asked.append((repo_id, repo_type, tuple(allow_patterns)))
        if repo_id != "bench/pages":
            raise not_found()
        shutil.copytree(hub, local_dir, dirs_exist_ok=True)
        return str(local_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    run = pipeline_run("filter.decontaminate_images=hf://datasets/bench/pages")
    assert asked == [("bench/pages", "dataset", asked[0][2])] and "*.parquet" in asked[0][2]
    counts = run.manifest["stages"]["filter"]["decontaminate_images"]
    assert counts["contaminated_pages"] == 1
    wd = WorkDir(run.work)
    rows = [r for p in wd.parts("kept") for r in joined(wd, p).to_pylist()]
    dropped = {r["source"].rsplit("/", 1)[-1] for r in rows if r["reason"] == REASON}
    assert dropped == {"0003-report-en.pdf"}
    # Downloaded once: a rerun of the pass asks the Hub nothing (it may be offline).
    from docgen.filter.decontam_images import prepare

    prepare(str(run.work), run.cfg.filter)
    assert len(asked) == 1
    # A dataset the Hub does not have, and a name that is not OWNER/NAME: one line each.
    for value, said in [
        ("hf://datasets/no/such", "the Hub has no dataset no/such"),
        ("hf://datasets/just-a-name", "is not hf://datasets/OWNER/NAME"),
    ]:
        argv = ["run", "--input", str(few_samples), "--work", str(tmp_path / value[-4:]),
                "--out", str(tmp_path / "o"), "--set", f"filter.decontaminate_images={value}",
                "--set", "run.scheduler=sync", "--set", "run.progress=false"]  # fmt: skip
        capsys.readouterr()
        assert main(argv) == 2, value
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and said in err[0], err
