"""Real vLLM (its CPU build, from .venv-vllm) with a tiny random model the tests build: the
``openai`` backend over ``vllm serve``, the ``vllm`` backend's offline engine on a LocalCluster
and on an existing scheduler, the judge and the translator on the same engine. The model's
replies are grammar-valid noise: every one must end as pairs or as a counted error row."""

import json
import shutil

import pyarrow.parquet as pq
import pymupdf
import pytest
from conftest import VLLM_ENGINE_ARGS, engine_processes
from test_llm_server import cache_lines, outcome

from docgen.core.config import load_config
from docgen.core.errors import DocgenError
from docgen.core.workdir import WorkDir
from docgen.generate.chats import load_prompts
from docgen.run.pipeline import run_pipeline

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

# Causes a random model's replies may have; anything else (a crash, a traceback) is a defect.
REPLY_CAUSES = {"truncated", "schema", "malformed", "pages"}
# Noise is neither grounded nor in the page's language: let schema-valid pairs through.
LENIENT = ["filter.require_grounded=false", "filter.check_language=false",
           "filter.check_question=false",
           "filter.min_question_chars=1", "run.progress=false"]  # fmt: skip


def schema_valid(work) -> list[dict]:
    """Every generated pair, checked field by field against the answer schema and its pages."""
    kinds = set(load_prompts("llm").kinds)
    wd = WorkDir(work)
    pages = {}
    for part in wd.parts("pages"):
        for row in wd.read("pages", part, columns=["doc_id", "page"]).to_pylist():
            pages.setdefault(row["doc_id"], set()).add(row["page"])
    rows = [r for part in wd.parts("qa") for r in wd.read("qa", part).to_pylist()]
    for r in rows:
        assert r["question"].strip() and r["answer"].strip() and r["kind"] in kinds
        assert r["pages"] and set(r["pages"]) <= pages[r["doc_id"]]
        assert not any(ord(c) < 32 and c not in "\t\n" for c in r["question"] + r["answer"])
    return rows


def error_causes(work) -> set[str]:
    return {e.split(":")[0].split(", ")[-1] for e in outcome(work)[1].values()}


def shard_pairs(out) -> int:
    files = sorted((out / "data").glob("*.parquet"))
    return sum(len(t) for f in files for t in pq.read_table(f).column("texts").to_pylist())


def test_openai_backend_over_vllm_serve(vllm_server, samples, tmp_path):
    url, _ = vllm_server
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for pdf in sorted(samples.glob("*.pdf"))[:12]:
        shutil.copy(pdf, folder / pdf.name)

    def run():
        cfg = load_config("openai", [
            f"input={folder}", f"work={tmp_path / 'work'}", f"out={tmp_path / 'out'}",
            f"generate.base_urls={json.dumps([url])}", "generate.model=tiny",
            "generate.max_tokens=400", "generate.concurrency=16", "run.workers=2", *LENIENT,
        ])  # fmt: skip
        return run_pipeline(cfg)["stages"]

    stages = run()
    gen = stages["generate"]
    assert gen["documents"] == 12 and gen["requests"] >= 12
    pairs = schema_valid(tmp_path / "work")
    assert len(pairs) == gen["pairs"] > 0
    assert error_causes(tmp_path / "work") <= REPLY_CAUSES
    assert set(gen.get("failures", {})) <= REPLY_CAUSES
    assert shard_pairs(tmp_path / "out") == stages["filter"]["kept"] > 0
    answered = cache_lines(tmp_path / "work")

    shutil.rmtree(tmp_path / "work" / "qa")  # generate again: every answer from the cache
    again = run()["generate"]
    assert again["requests"] == 0 and again["cached_requests"] == answered
    assert again["pairs"] == gen["pairs"]
    assert not engine_processes()


def test_plan_counts_the_tokens_vllm_counts_and_measures_its_throughput(
    vllm_server, tiny_llm, samples, tmp_path
):
    from docgen.run.plan import make_plan

    url, _ = vllm_server
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name in ("0000-invoice-en.pdf", "0003-report-en.pdf", "0040-letter-ja.pdf"):
        shutil.copy(samples / name, folder / name)
    cfg = load_config("openai", [
        f"input={folder}", f"generate.base_urls={json.dumps([url])}", "generate.model=tiny",
        "generate.max_tokens=200", "run.scheduler=sync", *LENIENT,
    ])  # fmt: skip
    # Every document (nothing projected): the prompt tokens counted with the model's tokenizer
    # and chat template are the tokens vLLM says it was sent.
    plan = make_plan(cfg, 1.0, 0, measure=True, tokenizer=str(tiny_llm))
    measured = plan["measured"]
    assert measured["requests"] == plan["projected"]["chats"]["total"] == 3
    assert plan["projected"]["prompt_tokens"]["total"] == measured["prompt_tokens"]
    assert measured["tokens_per_second"] > 0 and plan["hours"]["gpu_generate"] > 0
    assert not engine_processes()


def vllm_config(inputs, root, tiny_llm, vllm_python, *extra):
    return load_config("vllm", [
        f"input={inputs}", f"work={root / 'work'}", f"out={root / 'out'}",
        f"generate.model={tiny_llm}", f"generate.engine_python={vllm_python}",
        f"generate.engine_args={json.dumps(VLLM_ENGINE_ARGS)}", "generate.max_tokens=400",
        *LENIENT, *extra,
    ])  # fmt: skip


def test_vllm_engine_on_a_local_cluster_with_judge_and_translator(
    few_samples, tmp_path, tiny_llm, vllm_python
):
    # A prompt longer than the engine's context fails alone, not its batch, and is asked again
    # in pieces that fit.
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(page.rect + (36, 36, -36, -36), "lorem ipsum dolor " * 900, fontsize=3)
    doc.save(few_samples / "too-long.pdf")
    cfg = vllm_config(few_samples, tmp_path, tiny_llm, vllm_python, "run.workers=1",
                      "generate.max_prompt_tokens=100000", "filter.judge=true",
                      "filter.translate_to=[en]")  # fmt: skip
    stages = run_pipeline(cfg)["stages"]
    gen, fi = stages["generate"], stages["filter"]
    assert gen["documents"] == 4 and gen["requests"] == 5 and gen["resplit_chats"] == 1
    errors = outcome(cfg.work)[1]
    assert not [e for e in errors.values() if e.startswith(("context", "engine"))], errors
    assert len(schema_valid(cfg.work)) == gen["pairs"]
    # One engine, built in the GPU worker, served the generate stage, the judge and the translator.
    (engine,) = gen["engines"]
    assert set(fi["judge"]["engines"]) == set(fi["translate"]["engines"]) == {engine}
    judge = fi["judge"]
    if stages["filter"]["pairs"]:
        assert judge.get("judged_chats", 0) + judge.get("judge_failed", 0) >= 1
    assert not engine_processes()  # shut down when the LLM stages ended

    # A rerun answers from the cache; only the chat the engine refused is sent again (and
    # refused again: its pieces come from the cache).
    shutil.rmtree(tmp_path / "work" / "qa")
    again = run_pipeline(cfg)["stages"]["generate"]
    # Cached replies read as they did (a reply cut short is cut short again).
    assert again["requests"] == 1 and again["failures"] == gen["failures"]
    assert again["pairs"] == gen["pairs"]
    assert not engine_processes()


def test_vllm_engine_on_an_existing_scheduler(few_samples, tmp_path, tiny_llm, vllm_python):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None,
                      resources={"GPU": 1}) as lc:  # fmt: skip
        cfg = vllm_config(few_samples, tmp_path, tiny_llm, vllm_python,
                          f"run.scheduler={lc.scheduler_address}")  # fmt: skip
        stages = run_pipeline(cfg)["stages"]
        assert stages["generate"]["requests"] == 3 and len(stages["generate"]["engines"]) == 1
        assert not engine_processes()  # the workers live on; their engines do not


def test_an_engine_that_cannot_start_stops_the_run_in_one_line(few_samples, tmp_path, vllm_python):
    cfg = vllm_config(few_samples, tmp_path, tmp_path / "no-such-model", vllm_python,
                      "run.scheduler=sync")  # fmt: skip
    with pytest.raises(DocgenError) as stop:
        run_pipeline(cfg)
    message = str(stop.value)
    assert message.startswith("generate failed for every document (3") and "engine" in message
    assert "\n" not in message and not engine_processes()


def test_a_python_without_vllm_is_named_with_the_way_to_get_one(few_samples, tmp_path):
    import sys

    cfg = vllm_config(few_samples, tmp_path, "some/model", sys.executable, "run.scheduler=sync")
    with pytest.raises(DocgenError) as stop:
        run_pipeline(cfg)
    assert "No module named 'vllm'" in str(stop.value) and "make vllm" in str(stop.value)
    assert not engine_processes()


def test_a_cluster_without_gpu_workers_is_refused_clearly(few_samples, tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as lc:
        cfg = load_config("vllm", [
            f"input={few_samples}", f"work={tmp_path / 'work'}", f"out={tmp_path / 'out'}",
            "generate.model=some/model", f"run.scheduler={lc.scheduler_address}",
        ])  # fmt: skip
        with pytest.raises(DocgenError, match="--resources GPU=1"):
            run_pipeline(cfg)
