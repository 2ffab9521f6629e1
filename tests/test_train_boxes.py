"""Answers located on the page, in training and in evaluation: `docgen train --answer-boxes`
trains on answers followed by their boxes in Qwen2-VL's grounding tokens, and `docgen eval`
scores a prediction's boxes by IoU with the answer's own (shards made with shard.answer_boxes)."""

import json
import shutil
from pathlib import Path

import pytest

from docgen.cli import main
from docgen.core.train_config import EvalConfig
from docgen.train.data import Encoder, batches, boxed, rated, split_files
from docgen.verify import boxes_iou, grounding

GOLD = [(0, (100.0, 200.0, 300.0, 240.0))]


def test_the_grounding_tokens_are_read_back_and_scored():
    text = (
        "INV-2019-5410<|box_start|>(100,200),(300,240)<|box_end|>"
        "<|object_ref_start|>image 2<|object_ref_end|><|box_start|>(0,0),(10,10)<|box_end|>"
    )
    assert grounding(text) == ("INV-2019-5410", [GOLD[0], (1, (0.0, 0.0, 10.0, 10.0))])
    assert grounding("no box here") == ("no box here", [])
    assert boxes_iou(GOLD, GOLD) == 1.0
    assert boxes_iou([], GOLD) == 0.0  # an answer without its box
    assert boxes_iou([(1, GOLD[0][1])], GOLD) == 0.0  # the right box on the wrong image
    half = [(0, (100.0, 200.0, 200.0, 240.0))]
    assert boxes_iou(half, GOLD) == pytest.approx(0.5)
    assert boxes_iou(GOLD + [(0, (0.0, 0.0, 5.0, 5.0))], GOLD) == pytest.approx(0.5)  # scattered


def test_what_the_grounded_config_writes_is_what_eval_reads():
    from docgen.shard.chat import with_boxes

    boxes = [{"image": 0, "box_1000": [100, 200, 300, 240]},
             {"image": 1, "box_1000": [0, 0, 10, 10]}]  # fmt: skip
    assert grounding(with_boxes("INV-7", boxes)) == (
        "INV-7",
        [(0, (100.0, 200.0, 300.0, 240.0)), (1, (0.0, 0.0, 10.0, 10.0))],
    )


def test_a_turn_left_out_by_its_rating_takes_its_boxes_with_it():
    row = {
        "texts": [{"user": "q1", "assistant": "a1"}, {"user": "q2", "assistant": "a2"}],
        "relevance_ratings": [1, 5],
        "answer_boxes": [[{"image": 0, "box_1000": [1, 2, 3, 4]}], []],
    }
    kept = boxed(rated(row, {"relevance": 3}))
    assert kept["texts"] == [{"user": "q2", "assistant": "a2"}]  # the second answer: no box
    both = boxed(row)["texts"]
    assert both[0]["assistant"] == "a1<|box_start|>(1,2),(3,4)<|box_end|>"


@pytest.fixture(scope="module")
def box_shards(pipeline_run) -> Path:
    return pipeline_run("shard.test_fraction=0.25", "shard.answer_boxes=true", config="train").out


def test_training_targets_carry_the_boxes(box_shards, tiny_base):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_base)
    encoder = Encoder(processor, 2048)
    files = split_files(box_shards, "train")
    (_, batch) = next(batches(files, encoder, "pad", 4, 4, 0, answer_boxes=True))
    labels = [t for row in batch["labels"].tolist() for t in row if t >= 0]
    assert "<|box_start|>" in processor.tokenizer.decode(labels).replace(" ", "")
    (_, plain) = next(batches(files, encoder, "pad", 4, 4, 0))
    labels = [t for row in plain["labels"].tolist() for t in row if t >= 0]
    assert "box_start" not in processor.tokenizer.decode(labels)


def test_eval_scores_the_boxes_of_located_answers(box_shards, train_shards, tiny_base, tmp_path):
    from docgen.train.evaluate import evaluate

    model = tmp_path / "m"
    shutil.copytree(tiny_base, model)
    report = evaluate(str(box_shards), str(model), EvalConfig(limit=8), progress=False)
    assert report["located"] > 0 and 0.0 <= report["box_iou"] <= 1.0
    lines = [json.loads(x) for x in Path(report["predictions"]).read_text("utf-8").splitlines()]
    scored = [r for r in lines if "box_iou" in r]
    assert len(scored) == report["located"]
    assert report["box_iou"] == pytest.approx(sum(r["box_iou"] for r in scored) / len(scored),
                                              abs=1e-4)  # fmt: skip
    # Shards made without boxes: no box score.
    plain = evaluate(str(train_shards), str(model), EvalConfig(limit=2),
                     out=str(tmp_path / "plain.jsonl"), progress=False)  # fmt: skip
    assert "box_iou" not in plain and "located" not in plain


def test_train_with_answer_boxes_needs_shards_that_have_them(train_shards, tmp_path, capsys):
    args = ["train", "--data", str(train_shards), "--out", str(tmp_path / "m"), "--model", "tiny"]
    assert main([*args, "--answer-boxes", "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "shard.answer_boxes=true" in err[0]
