"""Thinking models (generate.reasoning): the reasoning kept apart from the answer, from a server's
reasoning parser or from <think>...</think>, counted, kept per turn for reasoning fine-tuning; a
reply that runs out of tokens while still reasoning is an error row with that cause."""

import pyarrow.parquet as pq
import pytest
from test_llm_server import llm_config, outcome

from docgen.core.config import load_config
from docgen.core.errors import RunFailed
from docgen.core.workdir import WorkDir
from docgen.run.pipeline import run_pipeline
from docgen.shard.validate import validate

THINKING = ("generate.reasoning=true", "shard.reasoning_column=true")


def qa_rows(work) -> list[dict]:
    wd = WorkDir(work)
    return [r for p in wd.parts("qa") for r in wd.read("qa", p).to_pylist()]


@pytest.mark.parametrize("mode,stream", [("parser", "true"), ("parser", "false"),
                                         ("tags", "true"), ("tags", "false")])  # fmt: skip
def test_reasoning_is_kept_apart_from_the_answer(few_samples, tmp_path, server_factory, mode,
                                                 stream):  # fmt: skip
    server = server_factory("--reasoning", mode)
    cfg = llm_config(few_samples, tmp_path, [server.url], *THINKING, f"generate.stream={stream}")
    stages = run_pipeline(cfg)["stages"]
    rows = qa_rows(cfg.work)
    # The answers parse as they would without thinking; each pair knows the reasoning before it.
    assert rows and all(r["reasoning"].startswith("The user asks about the page") for r in rows)
    assert not any("<think>" in r["raw"] or "<think>" in r["answer"] for r in rows)
    assert stages["generate"]["reasoning_tokens"] > 0
    assert stages["generate"]["reasoning_tokens"] < stages["generate"]["completion_tokens"]
    shards = [pq.read_table(f) for f in (tmp_path / "out" / "data").glob("*.parquet")]
    traces = [t for s in shards for row in s["reasoning"].to_pylist() for t in row]
    assert traces and all(t.startswith("The user asks") for t in traces)
    assert [len(t) for s in shards for t in s["texts"].to_pylist()] == [
        len(t) for s in shards for t in s["reasoning"].to_pylist()]  # fmt: skip
    assert not validate(tmp_path / "out")[0]


def test_a_reply_that_never_stops_reasoning_is_an_error_row(few_samples, tmp_path, server_factory):
    server = server_factory("--reasoning", "parser", "--unfinished", "1")
    cfg = llm_config(few_samples, tmp_path, [server.url], *THINKING)
    # No pair at all: the run stops, in one line naming the cause.
    with pytest.raises(RunFailed, match="failed requests by cause: reasoning_unfinished 3"):
        run_pipeline(cfg)
    _, errors = outcome(cfg.work)
    assert len(errors) == 3 == server.stats()["unfinished_reasoning"]
    assert all(e.startswith("reasoning_unfinished: the model was still reasoning")
               for e in errors.values())  # fmt: skip


def test_the_engine_backend_cannot_think():
    with pytest.raises(ValueError, match="generate.reasoning: a thinking model is served with"):
        load_config("vllm", ["generate.model=m", "generate.reasoning=true"])
