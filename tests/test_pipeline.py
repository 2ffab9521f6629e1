"""End to end on the sample corpus, through a real Dask LocalCluster of processes."""

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from truth import score

from docgen.core.config import load_config
from docgen.core.workdir import WorkDir
from docgen.filter.passes import joined
from docgen.run.pipeline import run_pipeline

SYNC = ["--scheduler", "sync"]  # shard in this process: no cluster to start


def config(samples, work, out):
    return load_config(
        "default",
        [
            f"input={samples}",
            f"work={work}",
            f"out={out}",
            "run.workers=2",
            "run.progress=false",
            "extract.docs_per_partition=8",
        ],
    )


@pytest.fixture(scope="module")
def run(pipeline_run):
    """The samples through a real LocalCluster of two workers."""
    made = pipeline_run("run.scheduler=null", "run.workers=2", "extract.docs_per_partition=8")
    return made.cfg, made.manifest


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
    kept = [
        r
        for p in wd.parts("kept")
        for r in joined(wd, p).to_pylist()
        if r["keep"] and r["kind"] != "unanswerable"
    ]  # those have no answer on their page
    per_lang = score(kept, samples)
    assert set(per_lang) == {"en", "fr", "de", "es", "ar", "zh", "ja", "ko"}
    for lang, (right, total) in per_lang.items():
        assert total >= 20, lang
        assert right / total >= 0.95, f"{lang}: {right}/{total}"


def test_the_dataset_pass_decides_as_one_pass_in_order(run):
    from dataset_reference import reference_verdicts

    # The samples hold no near-duplicates across documents (tests/test_dataset_pass.py's set
    # does): this checks that every other verdict goes through the pass unchanged.
    cfg, _ = run
    wd = WorkDir(cfg.work)
    parts = wd.run_parts("kept")
    # (the view up to the unanswerable pairs, which add rows after every verdict)
    decided = {p: joined(wd, p, upto="unanswerable")["reason"].to_pylist() for p in parts}
    assert reference_verdicts(cfg.work, parts, cfg.filter) == decided


def test_manifest_and_card(run):
    cfg, manifest = run
    ex = manifest["stages"]["extract"]
    assert ex["documents"] == 48 and ex["pages"] == 64 and ex["failed_documents"] == 0
    filtered = manifest["stages"]["filter"]
    made = filtered["unanswerable"]["unanswerable"]  # questions asked of another page, added
    assert manifest["stages"]["generate"]["pairs"] >= filtered["kept"] - made > 200
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


def test_work_and_out_as_s3_urls_make_the_same_shards(run, samples, s3_bucket):
    """WORK and OUT on an object store (a real S3 server on 127.0.0.1): the Dask workers read
    and write it themselves; the shards are the local run's byte for byte; a rerun skips."""
    import fsspec

    from docgen.shard.validate import validate
    from docgen.train.data import row_stream, split_files

    local_cfg, local = run
    work, out = f"{s3_bucket}/run/work", f"{s3_bucket}/run/out"
    cfg = config(samples, work, out)
    manifest = run_pipeline(cfg)
    assert manifest["stages"]["filter"]["kept"] == local["stages"]["filter"]["kept"]
    fs = fsspec.filesystem("s3")
    shards = sorted(fs.glob(f"{out}/data/*.parquet"))
    assert [p.rsplit("/", 1)[1] for p in shards] == [p.name for p in shard_files(local_cfg)]
    for remote, here in zip(shards, shard_files(local_cfg)):
        assert fs.cat_file(remote) == here.read_bytes()
    assert "data/train-*" in fs.cat_file(f"{out}/README.md").decode("utf-8")
    assert json.loads(fs.cat_file(f"{work}/manifest.json"))["stages"]["shard"]["rows"] == 48
    assert not [p for p in fs.find(f"{s3_bucket}/run") if p.endswith(".tmp")]
    problems, counts = validate(out)
    assert not problems.counts and counts["train"]["rows"] == 48
    files = split_files(out, "train")  # what `docgen train --data s3://...` reads
    assert [f.name for f in files] == [p.name for p in shard_files(local_cfg)]
    assert next(row_stream(files, seed=0))["texts"]
    cfg.run.scheduler = "sync"
    again = run_pipeline(cfg)
    for stage in ("extract", "generate", "filter"):
        assert again["stages"][stage]["skipped"] == again["stages"][stage]["partitions"]


def test_small_shards_stay_under_the_bound_and_round_trip(run, tmp_path):
    from datasets import load_dataset

    from docgen.cli import main
    from docgen.shard.validate import validate

    cfg, _ = run
    out = tmp_path / "out"
    code = main(["shard", "--work", cfg.work, "--out", str(out), "--max-shard-size", "2MB",
                 "--set", "shard.row_group_mb=0.25"])  # fmt: skip
    assert code == 0
    files = sorted((out / "data").glob("*.parquet"))
    n = len(files)
    assert n >= 2 and [f.name for f in files] == [
        f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)
    ]
    assert all(f.stat().st_size <= 2 * 10**6 for f in files)
    problems, counts = validate(out)
    assert not problems, problems.lines()  # names contiguous, card counts equal to the data
    groups = []
    for f in files:  # row groups near 256 KiB: closed once they pass it, so one row over at most
        meta = pq.ParquetFile(f).metadata
        sizes = [meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)]
        groups += sizes
        assert max(sizes[:-1], default=0) < 3 * 2**18
    assert len(groups) >= 4
    written = pq.read_table(files).to_pylist()
    plain = load_dataset("parquet", data_files=[str(f) for f in files], split="train")
    streamed = load_dataset("parquet", data_files=[str(f) for f in files], split="train",
                            streaming=True)  # fmt: skip
    for rows in (plain, streamed):
        got = [(r["texts"], [im.size for im in r["images"]]) for r in rows]
        assert [r[0] for r in got] == [r["texts"] for r in written]
        assert len(got) == counts["train"]["rows"] and all(r[1] for r in got)


def test_a_seeded_test_split_holds_whole_documents(run, tmp_path):
    from datasets import load_dataset

    from docgen.cli import main
    from docgen.shard.validate import validate

    cfg, _ = run
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        args = ["--work", cfg.work, "--out", str(out), "--test-fraction", "0.25", *SYNC]
        assert main(["shard", *args]) == 0
    a, b = ([p.read_bytes() for p in sorted((o / "data").glob("*.parquet"))] for o in outs)
    assert a == b  # same seed, same split, same bytes
    names = sorted(p.name for p in (outs[0] / "data").glob("*.parquet"))
    assert names == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet"]
    problems, counts = validate(outs[0])
    assert not problems, problems.lines()
    assert (
        4 <= counts["test"]["rows"] <= 24 and counts["train"]["rows"] + counts["test"]["rows"] == 48
    )
    files = {s: str(outs[0] / "data" / f"{s}-*.parquet") for s in ("train", "test")}
    ds = load_dataset("parquet", data_files=files)
    docs = {s: {t[0]["source"].split(" p")[0] for t in ds[s]["texts"]} for s in ("train", "test")}
    assert docs["train"] and docs["test"] and not docs["train"] & docs["test"]
    card = (outs[0] / "README.md").read_text("utf-8")
    assert "path: data/test-*" in card and "name: test" in card


def test_optional_metadata_columns(run, tmp_path):
    from datasets import load_dataset

    from docgen.cli import main
    from docgen.shard.validate import validate

    cfg, _ = run
    out = tmp_path / "out"
    assert main(["shard", "--work", cfg.work, "--out", str(out), "--metadata-columns", *SYNC]) == 0
    problems, _ = validate(out)
    assert not problems, problems.lines()
    ds = load_dataset("parquet", data_files=str(out / "data" / "*.parquet"), split="train")
    assert ds.column_names == [
        "images",
        "texts",
        "doc_id",
        "languages",
        "page_numbers",
        "generator",
        "kinds",
        "answer_types",
    ]
    assert all(len(r["kinds"]) == len(r["texts"]) for r in ds)  # one kind per turn
    assert {"title", "field", "amount"} <= {k for r in ds for k in r["kinds"]}
    # and one answer type per turn (docgen.verify): amounts are numbers, dates dates
    assert all(len(r["answer_types"]) == len(r["texts"]) for r in ds)
    typed = {(t["assistant"], k) for r in ds for t, k in zip(r["texts"], r["answer_types"])}
    assert {"number", "date", "text"} <= {k for _, k in typed}
    assert all(k == "number" for a, k in typed if a.startswith("$") and a[1:2].isdigit())
    two_pages = [r for r in ds if len(r["images"]) == 2]  # the multi-page reports and papers
    assert two_pages and all(r["page_numbers"] == [1, 2] for r in two_pages)
    assert ["ar"] in [r["languages"] for r in two_pages]
    assert set(ds["generator"]) == {"rules:rules"} and len(set(ds["doc_id"])) == 48
    assert "name: doc_id" in (out / "README.md").read_text("utf-8")
    # validate checks the kinds: one per pair
    import pyarrow as pa

    shard = next((out / "data").glob("*.parquet"))
    table = pq.read_table(shard)
    index = table.schema.get_field_index("kinds")
    short = [kinds[:-1] for kinds in table.column("kinds").to_pylist()]
    pq.write_table(table.set_column(index, table.schema.field(index), pa.array(short)), shard)
    problems, _ = validate(out)
    assert problems.counts["kinds"] == table.num_rows


def test_pdf_config_holds_each_documents_file_and_loads_by_config_name(run, samples, tmp_path):
    import pyarrow as pa
    from datasets import load_dataset

    from docgen.cli import main
    from docgen.shard.validate import validate

    cfg, _ = run
    out = tmp_path / "out"
    args = ["--pdf-config", "--metadata-columns", "--test-fraction", "0.25"]
    assert main(["shard", "--work", cfg.work, "--out", str(out), *args, *SYNC]) == 0
    assert sorted(p.name for p in (out / "pdf").iterdir()) == [
        "test-00000-of-00001.parquet",
        "train-00000-of-00001.parquet",
    ]
    problems, counts = validate(out)
    assert not problems, problems.lines()
    assert counts["pdf:train"]["rows"] + counts["pdf:test"]["rows"] == 48
    # Through the card's configs, as the Hub would load it.
    pdf = load_dataset(str(out), "pdf")
    default = load_dataset(str(out))
    for split in ("train", "test"):
        assert set(pdf[split]["doc_id"]) == set(default[split]["doc_id"])  # same split per doc
    originals = {p.name: p.read_bytes() for p in Path(samples).glob("*.pdf")}
    pairs_per_doc = {}
    for doc_id, texts in zip(default["train"]["doc_id"], default["train"]["texts"]):
        pairs_per_doc[doc_id] = pairs_per_doc.get(doc_id, 0) + len(texts)
    for row in pdf["train"]:
        assert row["pdf"] == originals[row["texts"][0]["source"].split(" p")[0]]
        assert len(row["texts"]) == pairs_per_doc[row["doc_id"]]  # all pages' pairs in one row
    # A PDF that does not open is reported.
    path = out / "pdf" / "train-00000-of-00001.parquet"
    table = pq.read_table(path)
    broken = pa.array([b"%PDF-1.7 not really"] * table.num_rows, pa.binary())
    pq.write_table(table.set_column(0, "pdf", broken), path)
    problems, _ = validate(out)
    assert problems.counts["pdf"] == table.num_rows


def test_shards_written_by_workers_are_the_bytes_written_in_process(run, tmp_path):
    """Each shard is its own task; the layout comes from the rows' sizes alone, so two workers
    writing shards side by side give the same files as one process writing them in turn."""
    import hashlib

    from docgen.cli import main

    cfg, _ = run
    args = ["--work", cfg.work, "--max-shard-size", "1MB", "--set", "shard.row_group_mb=0.2",
            "--test-fraction", "0.25", "--pdf-config", "--metadata-columns",
            "--set", "shard.name=same-title"]  # fmt: skip
    assert main(["shard", *args, "--out", str(tmp_path / "sync"), *SYNC]) == 0
    on_workers = ["--set", "shard.on_workers=true", "--set", "run.workers=2"]
    assert main(["shard", *args, "--out", str(tmp_path / "workers"), *on_workers]) == 0

    def digests(out):
        return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(out.rglob("*")) if p.is_file()}  # fmt: skip

    files = digests(tmp_path / "sync")
    assert sum(f.startswith("data/train-") for f in files) >= 3
    assert any(f.startswith("data/test-") for f in files)
    assert any(f.startswith("pdf/") for f in files)
    assert digests(tmp_path / "workers") == files


def test_shards_go_to_the_workers_when_the_driver_would_move_every_image(monkeypatch):
    from docgen.core.config import ShardConfig
    from docgen.shard.stage import shard_on_workers

    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    auto = ShardConfig()
    assert not shard_on_workers(auto, None, "w", "o")  # a LocalCluster on this machine
    assert shard_on_workers(auto, "tcp://10.0.0.5:8786", "w", "o")
    assert shard_on_workers(auto, None, "w", "s3://bucket/out")
    assert not shard_on_workers(auto, "sync", "s3://bucket/w", "s3://bucket/out")
    assert shard_on_workers(ShardConfig(on_workers=True), None, "w", "o")
    assert not shard_on_workers(ShardConfig(on_workers=False), "tcp://10.0.0.5:8786", "w", "o")
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://10.0.0.5:8786")
    assert shard_on_workers(auto, None, "w", "o")


def test_a_shard_whose_rows_are_gone_is_not_written(run, tmp_path):
    from docgen.shard.files import write_shard

    cfg, _ = run
    part = WorkDir(cfg.work).parts("kept")[0]
    path = tmp_path / "train-00000-of-00001.parquet"
    with pytest.raises(RuntimeError, match="rows missing"):
        write_shard(cfg.work, path, cfg.shard, "default", {part: np.array([0, 10**6])}, [2])
    assert not path.exists()


def test_documents_cut_across_row_groups_make_the_same_rows(run, tmp_path):
    """The shard stage reads pages one row group at a time and holds back the pages of a
    document that goes on in the next one: rows come out as if each partition were read whole."""
    import shutil

    from docgen.cli import main

    cfg, _ = run
    work = tmp_path / "work"
    shutil.copytree(cfg.work, work)
    settings = ["--set", "shard.max_pages_per_row=2", *SYNC]
    assert main(["shard", "--work", str(work), "--out", str(tmp_path / "whole"), *settings]) == 0
    cut = 0
    for path in (work / "pages").glob("part-*.parquet"):
        table = pq.read_table(path)
        pq.write_table(table, path, row_group_size=3)  # fingerprint and stats kept in the schema
        docs = table.column("doc_id").to_pylist()
        cut += sum(docs[i - 1] == docs[i] for i in range(3, len(docs), 3))
    assert cut >= 2  # documents whose pages now lie in two row groups
    assert main(["shard", "--work", str(work), "--out", str(tmp_path / "cut"), *settings]) == 0
    for name in ("whole", "cut"):
        assert (tmp_path / name / "data").is_dir()
    whole = pq.read_table(sorted((tmp_path / "whole" / "data").glob("*.parquet")))
    rows = pq.read_table(sorted((tmp_path / "cut" / "data").glob("*.parquet")))
    assert rows.num_rows > 0 and rows.equals(whole)
