"""End to end on the sample corpus, through a real Dask LocalCluster of processes."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from truth import score

from docgen.config import load_config
from docgen.pipeline import run_pipeline
from docgen.workdir import WorkDir


@pytest.fixture(scope="module")
def run(samples, tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    cfg = load_config(
        "pipelines/default.yaml",
        [
            f"input={samples}",
            f"work={root / 'work'}",
            f"out={root / 'out'}",
            "run.workers=2",
            "run.progress=false",
            "extract.docs_per_partition=8",
        ],
    )
    return cfg, run_pipeline(cfg)


def shard_files(cfg):
    return sorted((Path(cfg.out) / "data").glob("*.parquet"))


def test_rows_load_with_datasets(run):
    from datasets import load_dataset
    from PIL import Image

    cfg, manifest = run
    files = [str(p) for p in shard_files(cfg)]
    assert files and files[0].endswith("train-00000-of-00001.parquet")
    ds = load_dataset("parquet", data_files=files, split="train")
    assert len(ds) == manifest["stages"]["shard"]["rows"] == 48
    row = ds[0]
    assert all(isinstance(im, Image.Image) for im in row["images"])
    assert max(row["images"][0].size) <= 2940
    assert set(row["texts"][0]) == {"user", "assistant", "source"}
    assert sum(len(r) for r in ds["texts"]) == manifest["stages"]["filter"]["kept"]


def test_kept_answers_match_ground_truth_in_every_language(run, samples):
    cfg, _ = run
    wd = WorkDir(cfg.work)
    kept = [r for p in wd.parts("kept") for r in wd.read("kept", p).to_pylist() if r["keep"]]
    per_lang = score(kept, samples)
    assert set(per_lang) == {"en", "fr", "de", "es", "ar", "zh", "ja", "ko"}
    for lang, (right, total) in per_lang.items():
        assert total >= 20, lang
        assert right / total >= 0.95, f"{lang}: {right}/{total}"


def test_manifest_and_card(run):
    cfg, manifest = run
    ex = manifest["stages"]["extract"]
    assert ex["documents"] == 48 and ex["pages"] == 64 and ex["failed_documents"] == 0
    assert manifest["stages"]["generate"]["pairs"] >= manifest["stages"]["filter"]["kept"] > 200
    card = (Path(cfg.out) / "README.md").read_text("utf-8")
    assert card.startswith("---\n") and "visual-question-answering" in card
    assert "- ar" in card and "data/train-*" in card
    meta = pq.read_schema(shard_files(cfg)[0]).metadata[b"huggingface"]
    assert json.loads(meta)["info"]["features"]["images"]["feature"]["_type"] == "Image"


def test_rerun_is_byte_identical_and_skips_all_work(run):
    cfg, first = run
    before = {p: p.read_bytes() for p in shard_files(cfg)}
    pages = WorkDir(cfg.work).root / "pages"
    mtimes = {p: p.stat().st_mtime_ns for p in pages.glob("*.parquet")}
    cfg.run.scheduler = "sync"
    again = run_pipeline(cfg)
    for stage in ("extract", "generate", "filter"):
        assert again["stages"][stage]["skipped"] == again["stages"][stage]["partitions"]
    assert again["stages"]["extract"]["pages"] == first["stages"]["extract"]["pages"]
    assert {p: p.stat().st_mtime_ns for p in pages.glob("*.parquet")} == mtimes
    assert {p: p.read_bytes() for p in shard_files(cfg)} == before
