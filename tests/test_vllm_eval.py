# ruff: noqa: F811 - the fixtures come from test_train
"""``docgen eval`` through real vLLM (its CPU build) against transformers: a tiny random Idefics3
(heads of 64, which vLLM's CPU attention takes; tokenizer trained on the sample shards) answers
the same held-out questions greedily in float32 through both engines, with the same
predictions, ANLS and exact match."""

import json
import sys
from pathlib import Path

import pytest
from conftest import engine_processes
from test_train import shards, small  # noqa: F401

from docgen.core.train_config import EvalConfig, TinyModelConfig
from docgen.train import loop
from docgen.train.data import split_files
from docgen.train.evaluate import evaluate
from docgen.train.model import load_base

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

POSITIONS = 4096
# vLLM's CPU build here: no chunked prefill (see conftest), a length within the model's positions.
ENGINE_ARGS = {"enable_chunked_prefill": False, "max_num_batched_tokens": POSITIONS,
               "max_model_len": POSITIONS, "enforce_eager": True}  # fmt: skip


def predictions(report: dict) -> list[dict]:
    return [json.loads(x) for x in Path(report["predictions"]).read_text("utf-8").splitlines()]


def test_vllm_and_transformers_give_the_same_answers_and_scores(shards, vllm_python, tmp_path):
    # Untrained: its answers run to max_new_tokens, so every one of 24 greedy tokens must agree.
    tiny = TinyModelConfig(hidden_size=128, heads=2, vision_hidden_size=128, vision_heads=2,
                           max_positions=POSITIONS)  # fmt: skip
    load_base("tiny", split_files(shards, "train"), tmp_path, small(tiny=tiny))
    model = tmp_path / "base"
    asked = {"limit": 30, "max_new_tokens": 24}
    by_hf = evaluate(str(shards), str(model), EvalConfig(engine="transformers", **asked),
                     out=str(tmp_path / "hf.jsonl"), progress=False)  # fmt: skip
    vllm = EvalConfig(engine="vllm", engine_python=vllm_python, engine_args=ENGINE_ARGS, **asked)
    by_vllm = evaluate(str(shards), str(model), vllm, out=str(tmp_path / "vllm.jsonl"),
                       progress=False)  # fmt: skip
    hf, vl = predictions(by_hf), predictions(by_vllm)
    assert len(hf) == len(vl) == 30
    assert [r["question"] for r in hf] == [r["question"] for r in vl]
    assert sum(len(r["prediction"]) > 10 for r in hf) > 20
    assert [r["prediction"] for r in vl] == [r["prediction"] for r in hf]
    for key in ("anls", "exact_match", "per_language"):
        assert by_vllm[key] == by_hf[key]
    assert not engine_processes()


def test_eval_without_vllm_says_so_in_one_line(shards, tmp_path):
    cfg = EvalConfig(engine="vllm", engine_python=sys.executable, limit=1)  # docgen, no vLLM
    model = tmp_path / "model"
    loop.train(str(shards), "tiny", str(model), small(steps=1), progress=False)
    with pytest.raises(ValueError, match="has no vLLM: `make vllm`"):
        evaluate(str(shards), str(model), cfg, progress=False)
