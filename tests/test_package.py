"""docgen installed as users install it: the sdist and the wheel built from it carry the prompts
and run configs, and the wheel, installed with its dependencies into a venv of its own (`make
package` builds it: .venv-wheel), runs the whole pipeline with the built-in default from a folder
that is not the repo — on a LocalCluster, and on a `dask scheduler` + `dask worker` started from
that venv in other folders — giving the shards a run from the clone gives, byte for byte."""

import os
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from dask_procs import DaskProcesses

import docgen
from docgen.core.config import load_config
from docgen.run.pipeline import run_pipeline

ROOT = Path(__file__).resolve().parents[1]
WHEEL_PYTHON = os.environ.get("DOCGEN_WHEEL_PYTHON") or str(ROOT / ".venv-wheel" / "bin" / "python")
VERSION = docgen.__version__
SHIPPED = ("prompts/llm/user.j2", "prompts/rules/questions.yaml", "pipelines/default.yaml")


@pytest.fixture(scope="module")
def venv_bin() -> Path:
    """The bin folder of the venv the wheel went into; the environment for its commands."""
    if not Path(WHEEL_PYTHON).exists():
        pytest.skip("no venv with the wheel: `make package` builds .venv-wheel")
    return Path(os.path.abspath(WHEEL_PYTHON)).parent  # not resolved: the venv python is a link


def installed_env() -> dict:
    """This environment less what would point the venv's Python at the clone or this venv."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}


def test_sdist_and_wheel_carry_the_prompts_and_configs():
    dist = ROOT / "dist"
    if not any(dist.glob("docgen-*.whl")):
        pytest.skip("nothing built: `make package` builds dist/")
    (sdist,) = dist.glob("docgen-*.tar.gz")
    (wheel,) = dist.glob("docgen-*.whl")
    in_sdist = tarfile.open(sdist).getnames()
    in_wheel = zipfile.ZipFile(wheel).namelist()
    for name in SHIPPED:
        assert any(n.endswith(f"-{VERSION}/{name}") for n in in_sdist), name  # at the top
        assert f"docgen/{name}" in in_wheel, name  # inside the package


def test_the_package_list_names_every_package():
    """pyproject.toml names docgen's packages one by one (prompts/ and pipelines/ are mapped
    into the package from the top): a new folder of modules must be added there."""
    import tomllib

    named = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    folders = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in ROOT.glob("docgen/**/__init__.py")
    }
    assert set(named) == folders | {"docgen.prompts", "docgen.pipelines"}


def test_the_installed_package_runs_anywhere_on_any_cluster(venv_bin, few_samples, tmp_path):
    env = installed_env()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [str(venv_bin / "python"), "-c", "import docgen; print(docgen.__file__)"],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(venv_bin.parent))  # the venv's copy, not the clone
    version = subprocess.run([str(venv_bin / "docgen"), "--version"], cwd=elsewhere, env=env,
                             capture_output=True, text=True, check=True)  # fmt: skip
    number = version.stdout.split()[1]

    def run(name: str, *more: str) -> Path:
        # The common case in flags, no config named: the built-in default. Relative WORK/OUT.
        argv = [str(venv_bin / "docgen"), "run", "--input", str(few_samples),
                "--work", f"{name}-work", "--out", f"{name}-out",
                "--set", "run.progress=false", *more]  # fmt: skip
        done = subprocess.run(argv, cwd=elsewhere, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        return elsewhere / f"{name}-out"

    local = run("local", "--set", "run.workers=2")  # a LocalCluster
    with DaskProcesses(str(venv_bin / "dask"), tmp_path / "dask", env=env):
        remote = run("remote", "--scheduler", str(tmp_path / "dask" / "scheduler.json"))
    assert f"Made with docgen {number}." in (local / "README.md").read_text("utf-8")

    cfg = load_config("default", [f"input={few_samples}", f"work={tmp_path / 'work'}",
                                  f"out={tmp_path / 'out'}", "run.progress=false",
                                  "run.scheduler=sync"])  # fmt: skip
    run_pipeline(cfg)
    ours = shards(tmp_path / "out")
    assert ours and shards(local) == ours and shards(remote) == ours


def shards(out: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted((out / "data").glob("*.parquet"))}


def test_configs_by_name_by_old_path_and_unknown():
    assert load_config("openai").generate.backend == "openai"
    assert load_config("pipelines/vllm.yaml").generate.backend == "vllm"  # the old path
    builtins = "default, openai, train, train-fsdp, train-gpu, train-lora, vllm"
    with pytest.raises(ValueError, match=f"built-in config \\({builtins}\\)"):
        load_config("nope")
    assert load_config("train-fsdp").train.sharding == "fsdp"  # shipped in the package


def test_a_prompt_set_of_ones_own_by_path(tmp_path):
    import shutil

    from docgen.generate.chats import load_prompts

    mine = tmp_path / "mine"
    shutil.copytree(ROOT / "prompts" / "llm", mine)
    (mine / "system.j2").write_text("You write pairs about documents, briefly.", "utf-8")
    assert load_prompts(str(mine)).system == "You write pairs about documents, briefly."
