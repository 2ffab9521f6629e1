"""docgen installed as a package: the wheel carries its prompts and run configs, and the pipeline
run from another directory with the built-in default gives the shards a run from the clone
gives, byte for byte."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from docgen.config import load_config
from docgen.pipeline import run_pipeline

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from this tree, unpacked as pip installs it (``--target``), without its
    dependencies (this environment has them)."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(folder), str(ROOT)],
                   check=True, capture_output=True)  # fmt: skip
    (wheel,) = folder.glob("docgen-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "docgen/prompts/llm/user.j2" in names and "docgen/pipelines/default.yaml" in names
    site = folder / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(site), str(wheel)], check=True, capture_output=True)  # fmt: skip
    return site


def test_the_installed_package_runs_the_built_in_default_anywhere(installed, few_samples,
                                                                   tmp_path):  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(installed)}
    where = subprocess.run(
        [sys.executable, "-c", "import docgen; print(docgen.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(installed))  # not the clone
    # The common case in flags, no config named: the built-in default.
    run = [sys.executable, "-m", "docgen.cli", "run", "--input", str(few_samples),
           "--work", "work", "--out", "out", "--set", "run.progress=false",
           "--scheduler", "sync"]  # fmt: skip
    subprocess.run(run, cwd=elsewhere, env=env, check=True, capture_output=True)
    version = subprocess.run([sys.executable, "-m", "docgen.cli", "--version"], cwd=elsewhere,
                             env=env, capture_output=True, text=True, check=True)  # fmt: skip
    assert version.stdout.startswith("docgen ")
    number = version.stdout.split()[1]  # recorded in the manifest and the card
    assert f"Made with docgen {number}." in (elsewhere / "out" / "README.md").read_text("utf-8")

    cfg = load_config("default", [f"input={few_samples}", f"work={tmp_path / 'work'}",
                                  f"out={tmp_path / 'out'}", "run.progress=false",
                                  "run.scheduler=sync"])  # fmt: skip
    run_pipeline(cfg)
    ours = sorted((tmp_path / "out" / "data").glob("*.parquet"))
    theirs = sorted((elsewhere / "out" / "data").glob("*.parquet"))
    assert [p.name for p in ours] == [p.name for p in theirs]
    assert [p.read_bytes() for p in ours] == [p.read_bytes() for p in theirs]


def test_configs_by_name_by_old_path_and_unknown():
    assert load_config("openai").generate.backend == "openai"
    assert load_config("pipelines/vllm.yaml").generate.backend == "vllm"  # the old path
    with pytest.raises(ValueError, match="built-in config \\(default, openai, train, vllm\\)"):
        load_config("nope")


def test_a_prompt_set_of_ones_own_by_path(tmp_path):
    import shutil

    from docgen.prompting import load_prompts

    mine = tmp_path / "mine"
    shutil.copytree(ROOT / "docgen" / "prompts" / "llm", mine)
    (mine / "system.j2").write_text("You write pairs about documents, briefly.", "utf-8")
    assert load_prompts(str(mine)).system == "You write pairs about documents, briefly."
