import subprocess
import sys


def docgen(*args):
    return subprocess.run(
        [sys.executable, "-m", "docgen.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_every_stage():
    out = docgen("--help").stdout
    for cmd in ("samples", "extract", "generate", "filter", "shard", "run"):
        assert cmd in out


def test_stage_commands_one_by_one(few_samples, tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    r = docgen("extract", str(few_samples), "--work", str(work), "--scheduler", "sync")
    assert r.returncode == 0, r.stderr
    assert "pages 4" in r.stdout
    for stage in ("generate", "filter"):
        r = docgen(stage, "--work", str(work), "--scheduler", "sync")
        assert r.returncode == 0, r.stderr
    r = docgen("shard", "--work", str(work), "--out", str(out), "--scheduler", "sync")
    assert r.returncode == 0, r.stderr
    assert (out / "data" / "train-00000-of-00001.parquet").exists()


def test_missing_input_is_a_clear_error(tmp_path):
    r = docgen(
        "extract", str(tmp_path / "nope"), "--work", str(tmp_path / "w"), "--scheduler", "sync"
    )
    assert r.returncode == 2 and "input not found" in r.stderr
