"""``docgen validate``: a good output passes; each kind of damage is reported by name."""

import re
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from docgen.cli import main
from docgen.shard.validate import validate


@pytest.fixture(scope="module")
def good_out(samples, tmp_path_factory, pipeline_run):
    root = tmp_path_factory.mktemp("validate")
    folder = root / "pdfs"
    folder.mkdir()
    for name in ("0000-invoice-en.pdf", "0027-report-ar.pdf", "0044-form-ko.pdf"):
        shutil.copy(samples / name, folder / name)
    return pipeline_run("shard.max_shard_mb=0.1", input=folder).out


@pytest.fixture
def out(good_out, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(good_out, copy)
    return copy


def shards(out):
    return sorted((out / "data").glob("*.parquet"))


def rewrite(path, fn, keep_metadata=True):
    table = pq.read_table(path)
    rows = table.to_pylist()
    fn(rows)
    schema = table.schema if keep_metadata else table.schema.remove_metadata()
    pq.write_table(pa.Table.from_pylist(rows, schema), path)


def kinds(out):
    problems, _ = validate(out)
    return set(problems.counts), problems.lines()


def test_a_good_output_is_valid(good_out, capsys):
    problems, counts = validate(good_out)
    assert not problems, problems.lines()
    assert counts["train"]["shards"] == len(shards(good_out)) >= 2
    assert counts["train"]["rows"] >= 3 and counts["train"]["pairs"] > 0
    assert main(["validate", str(good_out), "--quiet"]) == 0
    assert "valid (train:" in capsys.readouterr().out


def test_a_missing_shard_breaks_names_and_counts(out):
    shards(out)[0].unlink()
    found, lines = kinds(out)
    assert found == {"names", "card"}
    assert any(re.search(r"indices \[1.*\] are not 0..N-1", line) for line in lines)


def test_an_image_that_does_not_decode(out):
    def damage(rows):
        rows[0]["images"][0]["bytes"] = rows[0]["images"][0]["bytes"][:200]

    rewrite(shards(out)[0], damage)
    found, lines = kinds(out)
    assert found == {"images"}
    assert "row 0: image 0 does not decode" in lines[0]


def test_an_empty_answer_and_a_wrong_card(out):
    def damage(rows):
        rows[-1]["texts"][0]["assistant"] = " "

    rewrite(shards(out)[-1], damage)
    card = out / "README.md"
    card.write_text(re.sub(r"\| pairs kept \| (\d+) \|", "| pairs kept | 1 |", card.read_text()))
    found, lines = kinds(out)
    assert found == {"texts", "card"}
    assert any("has an empty assistant" in line for line in lines)
    assert any("card says 1 pairs" in line for line in lines)


def test_missing_features_metadata_and_exit_code(out, capsys):
    rewrite(shards(out)[0], lambda rows: None, keep_metadata=False)
    assert kinds(out)[0] == {"schema"}
    assert main(["validate", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "1 problem(s)" in err and "no usable `huggingface` features metadata" in err


def test_a_pdf_gone_since_extract_is_left_out_of_the_pdf_config(good_out, tmp_path):
    from docgen.core.config import ShardConfig
    from docgen.core.workdir import WorkDir
    from docgen.extract.document import DOCUMENT_SCHEMA
    from docgen.shard.stage import write_shards

    work = tmp_path / "work"
    shutil.copytree(good_out.parent / "work", work)
    wd = WorkDir(work)
    (part,) = wd.parts("documents")
    rows = wd.read("documents", part).to_pylist()
    rows[0]["path"] = str(tmp_path / "moved-away.pdf")
    fp = wd.info(wd.part_path("documents", part))["fingerprint"]
    wd.write(wd.part_path("documents", part), pa.Table.from_pylist(rows, DOCUMENT_SCHEMA), fp, {})
    result = write_shards(str(work), str(tmp_path / "out"), ShardConfig(pdf_config=True))
    assert result["pdf"] == {"rows": 2, "missing": 1, "splits": result["pdf"]["splits"]}
    problems, counts = validate(tmp_path / "out")
    assert not problems, problems.lines()
    assert counts["pdf:train"]["rows"] == 2 and counts["train"]["rows"] == 3


def test_a_config_the_card_declares_must_have_its_files(good_out, tmp_path):
    from docgen.core.config import ShardConfig
    from docgen.shard.stage import write_shards

    out = tmp_path / "out"
    write_shards(str(good_out.parent / "work"), str(out), ShardConfig(pdf_config=True))
    assert not validate(out)[0]
    shutil.rmtree(out / "pdf")  # the card still declares the pdf config
    problems, _ = validate(out)
    assert problems.lines() == ["card: the card declares config pdf but OUT holds no shards of it"]


def test_a_folder_that_is_not_there_is_one_line(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "none"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no dataset folder" in err[0] and "problem" not in err[0]
