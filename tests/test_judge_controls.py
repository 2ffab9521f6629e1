"""The judge is checked, not trusted: control pairs of known worth ride along with the pairs it
scores, and a judge that cannot tell them apart has its verdicts set aside."""

from test_llm_server import llm_config

from docgen.cli import main
from docgen.core.workdir import WorkDir
from docgen.filter.passes import joined
from docgen.run.pipeline import run_pipeline

JUDGED = ("filter.judge=true", "filter.require_grounded=false")


def judged_rows(work) -> list[dict]:
    wd = WorkDir(work)
    return [r for p in wd.parts("kept") for r in joined(wd, p).to_pylist()]


def test_a_judge_that_tells_right_from_wrong_is_used(few_samples, tmp_path, server_factory):
    server = server_factory()
    cfg = llm_config(few_samples, tmp_path, [server.url], *JUDGED)
    judge = run_pipeline(cfg)["stages"]["filter"]["judge"]
    # Each chat about pages with two fields or more carried a known-right and a known-wrong pair.
    assert judge["judge_controls_right"] == judge["judge_controls_wrong"] >= 2
    right = judge["judge_controls_right_score"] / judge["judge_controls_right"]
    wrong = judge["judge_controls_wrong_score"] / judge["judge_controls_wrong"]
    assert right - wrong >= 1.5  # the margin a judge must show
    assert judge["judge_checked"] >= 1 and not judge.get("judge_blind")
    rows = judged_rows(cfg.work)
    # The controls are asked about, never written: one verdict per pair of the dataset.
    assert rows and all(r["judge_score"] in (1, 5) for r in rows if r["reason"] in ("", None))


def test_a_rubber_stamp_judge_is_not_used_and_the_run_says_so(
    few_samples, tmp_path, server_factory, capsys
):
    server = server_factory("--rubber-stamp")
    args = ["run", "openai", "--set", f"input={few_samples}", "--set", f"work={tmp_path / 'w'}",
            "--set", f"out={tmp_path / 'o'}", "--set", f'generate.base_urls=["{server.url}"]',
            "--set", "filter.check_language=false", "--set", "run.progress=false",
            "--scheduler", "sync", *[a for s in JUDGED for a in ("--set", s)]]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "control pairs scored 5.0 known-right, 5.0 known-wrong" in out
    assert "judge verdicts NOT used in 1 of 1 partitions" in out
    manifest = WorkDir(tmp_path / "w").manifest()
    assert manifest["stages"]["filter"]["judge"]["judge_blind"] == 1
    assert "judge_low_score" not in manifest["stages"]["filter"]["dropped"]
    assert all(r["judge_score"] is None for r in judged_rows(tmp_path / "w"))
