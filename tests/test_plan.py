"""``docgen plan``: a sample of the inputs run for real and projected to all of them, compared
with the real run of all of them."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pymupdf
import pytest
from test_llm_server import llm_config

from docgen.cli import main
from docgen.core.config import load_config
from docgen.core.errors import DocgenError
from docgen.run.pipeline import run_pipeline
from docgen.run.plan import make_plan
from docgen.run.plan_inputs import draw, listing
from docgen.samples import make_corpus

FIGURES = ("pages", "pairs_kept", "shard_bytes")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    """100 generated documents and the real run of them all (its stage counts)."""
    root = tmp_path_factory.mktemp("plan")
    make_corpus(root / "pdfs", n=100, seed=7, progress=False)
    cfg = load_config("default", [f"input={root / 'pdfs'}", f"work={root / 'work'}",
                                  f"out={root / 'out'}", "run.scheduler=sync",
                                  "run.progress=false"])  # fmt: skip
    stages = run_pipeline(cfg)["stages"]
    real = {"pages": stages["extract"]["pages"], "pairs_kept": stages["filter"]["kept"],
            "shard_bytes": stages["shard"]["bytes"]}  # fmt: skip
    return root / "pdfs", real


def test_the_sample_is_drawn_from_every_size_band_and_is_seeded(corpus):
    files = listing([str(corpus[0])]).files
    assert len(files) == 100
    bands = draw(files, 0.15, seed=3)
    assert [len(b.files) for b in bands] == [20] * 5 and [len(b.drawn) for b in bands] == [3] * 5
    assert all(max(f.size for f in a.files) <= min(f.size for f in b.files)
               for a, b in zip(bands, bands[1:]))  # fmt: skip
    again = draw(files, 0.15, seed=3)
    assert [[f.name for f in b.drawn] for b in again] == [[f.name for f in b.drawn] for b in bands]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_plan_from_15_percent_is_within_15_percent_of_the_real_run(corpus, seed):
    folder, real = corpus
    cfg = load_config("default", [f"input={folder}", "run.scheduler=sync", "run.progress=false"])
    plan = make_plan(cfg, 0.15, seed)
    assert plan["sample"]["documents"] == 15
    for key in FIGURES:
        projected = plan["projected"][key]["total"]
        assert abs(projected - real[key]) <= 0.15 * real[key], (key, projected, real[key])


@pytest.mark.parametrize("model_input", ["text", "image", "image+text"])
def test_the_chats_counted_are_the_chats_a_run_sends(samples, tmp_path, server_factory,
                                                     model_input):  # fmt: skip
    folder = tmp_path / "pdfs"  # pages with charts and a stamp: a fake VLM has things to see
    folder.mkdir()
    for name in ("0003-report-en.pdf", "0027-report-ar.pdf", "0000-invoice-en.pdf"):
        shutil.copy(samples / name, folder / name)
    server = server_factory("--truth", str(samples))  # the sidecars say what the images show
    sets = [f"generate.input={model_input}"]
    cfg = llm_config(folder, tmp_path / "real", [server.url], *sets)
    if model_input == "image":  # the fake model writes pairs from text: given none, it fails
        with pytest.raises(DocgenError):  # (after every chat was sent, once)
            run_pipeline(cfg)
    else:
        run_pipeline(cfg)
    sent = server.requests
    plan = make_plan(llm_config(folder, tmp_path / "plan", [server.url], *sets), 1.0, 0)
    assert plan["projected"]["chats"]["total"] == sent
    assert plan["projected"]["chats"]["spread"] == 0  # every document run: nothing projected
    images = plan["projected"]["images"]["total"]
    assert (images == 0) == (model_input == "text") and images <= plan["projected"]["pages"][
        "total"
    ]
    assert plan["projected"]["prompt_tokens"]["total"] > 0
    asked = plan["projected"]["pairs_asked"]["total"]
    assert plan["projected"]["completion_tokens"]["total"] == asked * 60
    assert "pairs_kept" not in plan["projected"]  # a model's pairs are not known without it
    assert server.requests == sent  # the plan sent nothing


def test_the_command_prints_a_table_json_and_refuses_a_run_over_budget(few_samples, tmp_path,
                                                                       capsys):  # fmt: skip
    argv = ["plan", "--input", str(few_samples), "--sample", "1", "-q",
            "--set", "run.scheduler=sync"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "3 documents" in out and "pages" in out and "pairs kept" in out
    assert main([*argv, "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["projected"]["pages"]["total"] == 4 and plan["sample"]["documents"] == 3
    assert main([*argv, "--budget-hours", "0", "--json"]) == 1
    said = capsys.readouterr()
    assert "over budget" in said.err and json.loads(said.out)["hours"]  # stdout: the plan
    assert main([*argv, "--sample", "0"]) == 2
    assert "--sample" in capsys.readouterr().err
    assert main([*argv, "--gpu-price", "2"]) == 2  # the rules backend spends no GPU hours
    assert "--gpu-price needs GPU hours" in capsys.readouterr().err
    model = ["--set", "generate.backend=openai", "--set",
             'generate.base_urls=["http://127.0.0.1:9/v1"]']  # fmt: skip
    assert main([*argv, *model, "--throughput", "100", "--gpu-price", "3", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["gpu_cost"] == pytest.approx(plan["gpu_hours"] * 3, abs=0.01)
    assert plan["gpu_hours"] == pytest.approx(plan["hours"]["gpu_generate"], abs=1e-4)
    (tmp_path / "empty").mkdir()
    assert main(["plan", "--input", str(tmp_path / "empty"), "-q"]) == 2  # a folder, no PDF
    assert "no PDF" in capsys.readouterr().err


def test_the_command_runs_from_outside(few_samples):
    done = subprocess.run([sys.executable, "-m", "docgen.cli", "plan", "--input",
                           str(few_samples), "--sample", "0.5", "-q"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "projected" in done.stdout


def test_measure_sends_the_sample_and_measures_what_it_cost(samples, tmp_path, server_factory):
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name in ("0000-invoice-en.pdf", "0001-receipt-en.pdf", "0003-report-en.pdf"):
        shutil.copy(samples / name, folder / name)
    server = server_factory("--rubber-stamp")  # a judge too, that scores every pair 5
    cfg = llm_config(folder, tmp_path / "plan", [server.url], "filter.judge=true")
    plan = make_plan(cfg, 1.0, 0, measure=True)
    measured = plan["measured"]
    assert measured["requests"] == plan["projected"]["chats"]["total"] == 3
    assert server.requests > 3  # the judge's chats besides
    assert measured["prompt_tokens"] > 0 and measured["tokens_per_second"] > 0
    assert "measured" in plan["projected"]["completion_tokens"]  # not assumed
    assert plan["projected"]["pairs_kept"]["total"] > 0  # known: the model answered
    assert "gpu_generate" in plan["hours"]  # at the throughput measured
    assert plan["projected"]["judge_tokens"]["total"] > 0 and plan["hours"]["gpu_judge"] > 0


def test_a_tar_shard_is_listed_by_its_headers_and_its_sample_read_by_seeking(samples, tmp_path):
    import tarfile

    shard = tmp_path / "in" / "shard-000.tar"
    shard.parent.mkdir()
    with tarfile.open(shard, "w") as tar:
        for pdf in sorted(samples.glob("*-en.pdf")):
            tar.add(pdf, arcname=f"{pdf.stem}.pdf")
            tar.add(pdf.with_suffix(".json"), arcname=f"{pdf.stem}.json")
    files = listing([str(shard.parent)]).files
    assert len(files) == 6 and all(f.name.startswith("shard-000.tar/") for f in files)
    cfg = load_config("default", [f"input={shard.parent}", "run.scheduler=sync",
                                  "run.progress=false"])  # fmt: skip
    plan = make_plan(cfg, 1.0, 0)
    pages = sum(pymupdf.open(p).page_count for p in samples.glob("*-en.pdf"))
    assert plan["projected"]["pages"]["total"] == pages


def test_an_interrupted_plan_says_so_and_leaves_nothing(samples, tmp_path):
    import os
    import signal
    import time

    tmp = tmp_path / "tmp"  # where the plan's sample folder goes
    tmp.mkdir()
    argv = [sys.executable, "-m", "docgen.cli", "plan", "--input", str(samples), "--sample", "1",
            "-q", "--set", "extract.docs_per_partition=2"]  # fmt: skip
    run = subprocess.Popen(argv, env={**os.environ, "TMPDIR": str(tmp)}, start_new_session=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(tmp.glob("docgen-plan-*/work/pages/part-*.parquet")) and run.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGINT)
    out, _ = run.communicate(timeout=120)
    assert run.returncode == 130, out
    said = [line for line in out.splitlines() if line.strip()]
    assert len(said) == 1 and "interrupted (SIGINT)" in said[0] and "nothing planned" in said[0]
    assert "Traceback" not in out and not list(tmp.glob("docgen-plan-*"))


def test_past_so_many_shards_a_sample_of_them_is_listed_and_the_count_estimated(samples, tmp_path):
    import random
    import tarfile

    from docgen.run.plan_inputs import listing

    pdfs = sorted(samples.glob("*.pdf"))
    folder = tmp_path / "shards"
    folder.mkdir()
    rng, total = random.Random(5), 0
    for i in range(40):  # shards of 1 to 4 PDFs
        with tarfile.open(folder / f"shard-{i:03d}.tar", "w") as tar:
            for j, pdf in enumerate(rng.sample(pdfs, rng.randint(1, 4))):
                tar.add(pdf, arcname=f"{i}-{j}.pdf")
                total += 1
    whole = listing([str(folder)])
    assert len(whole.files) == total and whole.shards_listed == whole.shards == 40
    some = listing([str(folder)], seed=1, most=10)
    assert some.shards_listed == 10 and some.shards == 40
    assert len({f.path for f in some.files}) == 10  # only those shards were opened
    estimate = sum(f.weight for f in some.files)
    assert abs(estimate - total) <= max(some.spread, 0.15 * total), (estimate, total)
    assert some.spread > 0


@pytest.mark.parametrize("model_input", ["text", "image", "image+text"])
def test_chats_and_tokens_from_15_percent_are_within_15_percent_of_all(corpus, model_input):
    # All documents counted (the chats a real run sends: test above) against a 15% sample.
    folder, _ = corpus
    nowhere = 'generate.base_urls=["http://127.0.0.1:9/v1"]'  # never reached: nothing is sent
    sets = [f"input={folder}", "run.scheduler=sync", "run.progress=false", nowhere,
            f"generate.input={model_input}"]  # fmt: skip
    every = make_plan(load_config("openai", sets), 1.0, 0)["projected"]
    some = make_plan(load_config("openai", sets), 0.15, 0)["projected"]
    for key in ("pages", "chats", "prompt_tokens", "images"):
        if every[key]["total"]:
            assert abs(some[key]["total"] / every[key]["total"] - 1) <= 0.15, (key, some, every)
