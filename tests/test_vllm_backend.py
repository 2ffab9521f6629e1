"""The ``vllm`` backend through a stand-in engine (tests/stand_in), and for real where a GPU is."""

import importlib.util
import json
import os
import sys
from pathlib import Path

import pymupdf
import pytest
from test_llm_server import outcome

from docgen import generate
from docgen.config import load_config
from docgen.pipeline import run_pipeline
from docgen.prompting import load_prompts

STAND_IN = Path(__file__).parent / "stand_in"


@pytest.fixture
def stand_in(monkeypatch, tmp_path):
    """Make ``import vllm`` find the stand-in, here and in Dask worker processes; yield its log."""
    if importlib.util.find_spec("vllm") is not None and "stand_in" not in str(
        importlib.util.find_spec("vllm").origin
    ):
        pytest.skip("the real vllm is installed; the stand-in would be shadowed")
    log = tmp_path / "vllm-log.jsonl"
    monkeypatch.setenv("VLLM_STAND_IN_LOG", str(log))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(STAND_IN), os.environ.get("PYTHONPATH", "")])
    )
    monkeypatch.syspath_prepend(str(STAND_IN))
    for name in [m for m in sys.modules if m == "vllm" or m.startswith("vllm.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(generate, "_backends", {})

    def events(kind):
        lines = log.read_text("utf-8").splitlines() if log.exists() else []
        return [e for e in map(json.loads, lines) if e["event"] == kind]

    return events


def vllm_config(inputs, root, *extra):
    return load_config(
        "pipelines/vllm.yaml",
        [f"input={inputs}", f"work={root / 'work'}", f"out={root / 'out'}",
         "generate.model=stand-in/docqa-7b", "generate.tensor_parallel_size=2",
         "generate.gpu_memory_utilization=0.8", "run.progress=false", *extra],
    )  # fmt: skip


def test_one_engine_takes_whole_partitions_with_schema_constraints(stand_in, few_samples, tmp_path):
    cfg = vllm_config(few_samples, tmp_path, "run.scheduler=sync")
    manifest = run_pipeline(cfg)
    pairs, errors = outcome(cfg.work)
    assert len(pairs) == 3 and not errors
    (init,) = stand_in("init")
    assert init["model"] == "stand-in/docqa-7b" and init["enable_prefix_caching"] is True
    assert init["tensor_parallel_size"] == 2 and init["gpu_memory_utilization"] == 0.8
    chats = stand_in("chat")
    assert [c["batch"] for c in chats] == [3]  # every document of the run in one call
    assert chats[0]["schema"] == load_prompts("llm").schema
    gen = manifest["stages"]["generate"]
    assert gen["requests"] == 3 and gen["model"] == "stand-in/docqa-7b"
    # Another stage run in the same process reuses the engine.
    cfg.generate.seed = 1
    run_pipeline(cfg)
    assert len(stand_in("init")) == 1 and len(stand_in("chat")) == 2


def test_a_chat_that_breaks_its_batch_fails_alone(stand_in, few_samples, tmp_path):
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Memo\nSubject: TOO LONG for the model")
    doc.save(few_samples / "too-long.pdf")
    cfg = vllm_config(few_samples, tmp_path, "run.scheduler=sync")
    run_pipeline(cfg)
    pairs, errors = outcome(cfg.work)
    assert len(pairs) == 3 and len(errors) == 1
    assert next(iter(errors.values())).startswith("engine: ValueError: prompt is longer")


def test_on_dask_generation_goes_to_one_gpu_worker(stand_in, few_samples, tmp_path):
    cfg = vllm_config(few_samples, tmp_path, "run.workers=2")
    run_pipeline(cfg)
    pairs, errors = outcome(cfg.work)
    assert len(pairs) == 3 and not errors
    (init,) = stand_in("init")  # one engine, built in a worker process, not here
    assert init["pid"] != os.getpid()
    assert {c["pid"] for c in stand_in("chat")} == {init["pid"]}


def test_a_cluster_without_gpu_workers_is_refused_clearly(stand_in, few_samples, tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as lc:
        cfg = vllm_config(few_samples, tmp_path, f"run.scheduler={lc.scheduler_address}")
        with pytest.raises(SystemExit, match="--resources GPU=1"):
            run_pipeline(cfg)


def gpu_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


@pytest.mark.gpu
@pytest.mark.skipif(
    importlib.util.find_spec("vllm") is None or not gpu_available()
    or not os.environ.get("DOCGEN_VLLM_TEST_MODEL"),
    reason="needs vllm, a GPU and DOCGEN_VLLM_TEST_MODEL (a local model folder or Hub name)",
)  # fmt: skip
def test_real_engine_writes_schema_valid_pairs(few_samples, tmp_path):
    cfg = vllm_config(
        few_samples, tmp_path, "run.scheduler=sync", "generate.tensor_parallel_size=1"
    )
    cfg.generate.model = os.environ["DOCGEN_VLLM_TEST_MODEL"]
    manifest = run_pipeline(cfg)
    gen = manifest["stages"]["generate"]
    assert gen["documents"] == 3 and gen["pairs"] > 0
    assert gen.get("failures", {}).get("schema", 0) == 0
