"""The dataset card, read with huggingface_hub's own card tools as the Hub reads it."""

import subprocess
import sys
from pathlib import Path

from huggingface_hub import DatasetCard
from test_push import hub  # noqa: F401 - the Hub, intercepted at HfApi

from docgen import __version__
from docgen.cli import main

DOCGEN = str(Path(sys.executable).with_name("docgen"))
SECTIONS = ("## Statistics", "## How it was made", "## Source documents", "## Loading",
            "## Licence", "## Limitations and biases", "## Citation")  # fmt: skip


def run(few_samples, out: Path, *extra: str) -> DatasetCard:
    argv = ["run", str(few_samples), "--work", str(out.parent / "work"), "--out", str(out),
            "--scheduler", "sync", "-q", *extra]  # fmt: skip
    assert main(argv) == 0
    return DatasetCard.load(out / "README.md")


def test_a_card_for_your_own_pdfs(few_samples, tmp_path):
    card = run(few_samples, tmp_path / "invoices-2026")
    data = card.data
    assert data.pretty_name == "invoices-2026"  # OUT's folder, not a built-in config's name
    assert data.license == "unknown" and "**Licence not set**" in card.text
    assert {"visual-question-answering", "document-question-answering"} <= set(data.task_categories)
    assert "document-question-answering" in data.task_ids
    assert data.size_categories == ["n<1K"]
    assert set(data.language) == {"en", "ar", "ko"}
    assert all(section in card.text for section in SECTIONS)
    assert f"Made with docgen {__version__}." in card.text
    assert "3 PDF documents (4 pages)" in card.text
    assert str(few_samples) not in card.content  # where the files were is nobody's business
    assert 'load_dataset("parquet", data_files="data/train-*.parquet"' in card.text


def test_a_licence_and_a_name_from_the_config(few_samples, tmp_path):
    card = run(few_samples, tmp_path / "out", "--set", "shard.name=Acme invoices",
               "--set", "shard.license=other", "--set", "shard.license_name=acme-data-1.0",
               "--set", "shard.license_link=https://example.org/licence")  # fmt: skip
    assert card.data.pretty_name == "Acme invoices"
    assert card.data.license == "other"
    assert card.data.license_name == "acme-data-1.0"
    assert card.data.license_link == "https://example.org/licence"
    assert "Licence not set" not in card.text and "`acme-data-1.0`" in card.text
    assert "@misc{acme_invoices," in card.text


def test_a_stage_command_writes_the_same_card(few_samples, tmp_path):
    run(few_samples, tmp_path / "first")
    r = subprocess.run([DOCGEN, "shard", "--work", str(tmp_path / "work"), "--out",
                        str(tmp_path / "again"), "--scheduler", "sync", "-q"],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    card = DatasetCard.load(tmp_path / "again" / "README.md")
    assert f"Made with docgen {__version__}." in card.text and "unknown." not in card.text
    assert card.data.pretty_name == "again"


def test_after_a_push_the_card_loads_from_the_hub(few_samples, tmp_path, hub):  # noqa: F811
    out = tmp_path / "out"
    run(few_samples, out, "--set", "shard.license=cc-by-4.0")
    assert main(["push", str(out), "--repo", "me/invoices"]) == 0
    card = DatasetCard(hub.files["README.md"].decode())
    assert 'ds = load_dataset("me/invoices", split="train")' in card.text
    assert "howpublished = {https://huggingface.co/datasets/me/invoices}" in card.text
    assert "data/train-*.parquet" not in card.text
    assert (out / "README.md").read_bytes() == hub.files["README.md"]  # the same card here
