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


def test_every_command_takes_a_config_both_ways_and_a_config_among_inputs_is_one(
    few_samples, tmp_path
):
    def run(*args):
        return docgen("run", *args, "--work", str(tmp_path / "w"), "--out", str(tmp_path / "o"),
                      "--scheduler", "sync", "-q")  # fmt: skip

    for args in (["default", str(few_samples)], ["--config", "default", "--input",
                 str(few_samples)], ["--input", str(few_samples), "default"]):  # fmt: skip
        r = run(*args)
        assert r.returncode == 0, r.stderr
        assert "3 ok, 0 failed" in r.stdout and r.stderr == ""  # -q: no bars, no warnings
    r = run("openai", "--config", "default", str(few_samples))
    assert r.returncode == 2 and "two run configs given (default and openai)" in r.stderr
    r = docgen("filter", "--work", str(tmp_path / "w"), "--scheduler", "sync", "default")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == ""


def test_a_rerun_with_nothing_left_says_so_and_limit_takes_a_trial(few_samples, tmp_path):
    args = ["run", "--input", str(few_samples), "--work", str(tmp_path / "w"),
            "--out", str(tmp_path / "o"), "--scheduler", "sync", "--limit", "2"]  # fmt: skip
    first = docgen(*args)
    assert first.returncode == 0 and "2 ok, 0 failed" in first.stdout
    again = docgen(*args)
    assert again.returncode == 0
    for stage in ("extract", "generate", "filter"):
        assert f"{stage}: nothing to do (1 partition(s) done before)" in again.stderr
    assert "|" not in again.stderr  # no progress bar for work already done


def test_config_show_effective_prints_the_merged_checked_config():
    import yaml

    r = docgen("config", "show", "openai", "--effective", "--set", "extract.dpi=100")
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load(r.stdout)
    assert cfg["extract"]["dpi"] == 100 and cfg["generate"]["backend"] == "openai"
    assert "run" in cfg and "retry_failed" in cfg["run"]
    r = docgen("config", "show", "--effective", "--set", "extract.dpi=0")
    assert r.returncode == 2 and "extract.dpi: 0 is out of range" in r.stderr


def test_help_comes_from_the_config_and_numbers_are_checked():
    from docgen.core.config import builtin_configs

    help_text = " ".join(docgen("run", "--help").stdout.split())
    assert all(name in help_text for name in builtin_configs())
    assert "``" not in docgen("--help").stdout  # no markup in what people read
    assert "kinds" in " ".join(docgen("shard", "--help").stdout.split())
    r = docgen("samples", "--out", "x", "--n", "-3")
    assert r.returncode == 2 and "-3 is not a positive whole number" in r.stderr


def test_a_stage_prints_its_counts_rounded(few_samples, tmp_path):
    r = docgen("extract", "--input", str(few_samples), "--work", str(tmp_path / "w"),
               "--scheduler", "sync", "-q")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("extract: documents 3, failed documents 0, pages 4")
    seconds = r.stdout.split("seconds ")[1].split(",")[0]
    assert len(seconds.split(".")[1]) == 1  # 6.7, not 6.686999999999999


def test_a_test_split_left_empty_is_said(few_samples, tmp_path):
    r = docgen("run", str(few_samples), "--work", str(tmp_path / "w"), "--out",
               str(tmp_path / "o"), "--scheduler", "sync", "-q",
               "--set", "shard.test_fraction=0.01")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "no document fell in the test split (test_fraction 0.01 of 3 documents)" in r.stdout
