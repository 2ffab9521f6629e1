"""Every mistake a user meets first, through the CLI as a user runs it: one line on stderr, no
traceback, the exit status the README's "When something goes wrong" table gives, and never an
empty dataset."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCGEN = str(Path(sys.executable).with_name("docgen"))


def docgen(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([DOCGEN, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def one_line(result: subprocess.CompletedProcess) -> str:
    """The single line a refused or failed command printed on stderr (progress bars aside)."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [x for x in result.stderr.splitlines() if x.strip() and "|" not in x]
    assert len(lines) == 1, result.stderr
    return lines[0]


def run(inputs, root: Path, *extra: str) -> subprocess.CompletedProcess:
    return docgen("run", "--input", str(inputs), "--work", str(root / "work"),
                  "--out", str(root / "out"), "--scheduler", "sync",
                  "--set", "run.progress=false", *extra)  # fmt: skip


def no_dataset(root: Path) -> None:
    out = root / "out"
    assert not (out / "data").exists() and not (out / "README.md").exists()


def test_an_empty_folder_is_refused(tmp_path):
    (tmp_path / "pdfs").mkdir()
    result = run(tmp_path / "pdfs", tmp_path)
    assert result.returncode == 2
    assert one_line(result).startswith("docgen run: error: no PDFs in ")
    no_dataset(tmp_path)


def test_a_folder_of_other_files_is_refused(tmp_path):
    (tmp_path / "pdfs").mkdir()
    (tmp_path / "pdfs" / "notes.txt").write_text("not a PDF")
    result = run(tmp_path / "pdfs", tmp_path)
    assert result.returncode == 2 and "no PDFs in" in one_line(result)
    no_dataset(tmp_path)


def test_inputs_that_all_fail_fail_the_run_with_their_reasons(tmp_path):
    (tmp_path / "pdfs").mkdir()
    (tmp_path / "pdfs" / "a.pdf").write_text("hello")
    (tmp_path / "pdfs" / "b.pdf").write_text("world")
    result = run(tmp_path / "pdfs", tmp_path)
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith("docgen run: error: every document failed (2): 2 × not a PDF")
    assert "(e.g. a.pdf)" in line and "/errors" in line
    no_dataset(tmp_path)


def test_a_run_that_keeps_nothing_fails_and_writes_no_dataset(few_samples, tmp_path):
    result = run(few_samples, tmp_path, "--set", "filter.min_question_chars=400")
    assert result.returncode == 1
    assert "no pair was kept: all " in one_line(result)
    assert "× question_length" in one_line(result)
    no_dataset(tmp_path)


def test_the_summary_gives_the_reasons_with_an_example(few_samples, tmp_path):
    (few_samples / "broken.pdf").write_text("not a PDF")
    result = run(few_samples, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "  failures    1, by reason:" in result.stdout
    assert "    1 × not a PDF: no %PDF header (extract; e.g. broken.pdf)" in result.stdout


@pytest.mark.parametrize(
    "args,first",
    [(["filter"], "generate"), (["generate"], "extract"), (["shard", "--out", "o"], "filter")],
)
def test_a_stage_on_a_work_dir_without_its_input_names_the_stage_to_run_first(
    tmp_path, args, first
):
    result = docgen(args[0], "--work", str(tmp_path / "nowhere"), *args[1:], cwd=tmp_path)
    assert result.returncode == 2
    assert "no work directory" in one_line(result)
    (tmp_path / "work").mkdir()
    result = docgen(args[0], "--work", str(tmp_path / "work"), *args[1:], cwd=tmp_path)
    assert result.returncode == 2
    assert f"run `docgen {first} --work" in one_line(result)


def test_report_on_a_missing_work_dir_or_into_a_file_is_refused(few_samples, tmp_path):
    result = docgen("report", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and "no work directory" in one_line(result)
    assert run(few_samples, tmp_path).returncode == 0
    (tmp_path / "file").write_text("")
    result = docgen("report", str(tmp_path / "work"), "--out", str(tmp_path / "file"))
    assert result.returncode == 2 and "is a file: give a folder" in one_line(result)


def test_out_that_is_a_file_is_refused_before_any_work(few_samples, tmp_path):
    (tmp_path / "out").write_text("")
    result = run(few_samples, tmp_path)
    assert result.returncode == 2 and "is a file: give a folder" in one_line(result)
    assert not (tmp_path / "work" / "pages").exists()


def test_an_llm_pass_without_a_model_is_refused_before_any_work(few_samples, tmp_path):
    result = run(few_samples, tmp_path, "--set", "filter.judge=true")  # the rules backend
    assert result.returncode == 2
    assert "filter's judge needs an LLM: set generate.backend to openai or vllm" in one_line(result)
    assert not (tmp_path / "work" / "pages").exists()


def test_yaml_that_does_not_parse_is_one_line(few_samples, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("extract:\n  dpi: [1,\n")
    result = docgen("run", str(bad), "--input", str(few_samples))
    assert result.returncode == 2
    assert one_line(result).startswith(f"docgen run: error: {bad}: not valid YAML (")
    result = docgen("run", "--input", str(few_samples), "--set", "extract.dpi=[1")
    assert result.returncode == 2
    assert "--set extract.dpi: not valid YAML (" in one_line(result)


def test_a_reader_that_goes_away_is_no_traceback():
    """`docgen ... | head`: the pipe closes before docgen writes."""
    proc = subprocess.Popen([DOCGEN, "config", "show", "default"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141 and err == b""


def test_missing_extras_name_how_to_install_them(tmp_path):
    """The installed wheel (no train extra) asked to train."""
    import os

    python = os.environ.get("DOCGEN_WHEEL_PYTHON")
    if not python or shutil.which(python) is None:
        pytest.skip("the wheel's venv is made by `make test` (DOCGEN_WHEEL_PYTHON)")
    wheel_docgen = str(Path(python).with_name("docgen"))
    argv = [wheel_docgen, "train", "--model", "tiny", "--data", str(tmp_path),
            "--output", str(tmp_path / "m")]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True)
    assert result.returncode == 2
    line = one_line(result)
    assert "a package it needs is missing (No module named" in line and "make train" in line


def test_a_file_name_cannot_drive_the_terminal(few_samples, tmp_path):
    """A name holding an escape sequence and a newline is shown, not obeyed."""
    (few_samples / "bad\x1b[31mred\nline.pdf").write_text("not a PDF")
    result = run(few_samples, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "e.g. bad\\x1b[31mred\\x0aline.pdf)" in result.stdout
    assert "\x1b" not in result.stdout
