"""The chat configs (``shard.chat_configs``): the same rows as TRL's `messages` layout and
LLaMA-Factory's ShareGPT layout, loaded as the trainers load them, checked by `validate`, and
trained on with TRL's own `SFTTrainer`."""

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datasets import load_dataset

from docgen.shard.chat import IMAGE_TAG, chat_problems, conversations_of
from docgen.shard.validate import validate


@pytest.fixture(scope="module")
def out(pipeline_run) -> Path:
    return pipeline_run("shard.test_fraction=0.25", "shard.metadata_columns=true",
                        "shard.chat_configs=[messages, sharegpt]").out  # fmt: skip


def test_the_chat_configs_hold_the_default_rows_in_order(out):
    for split in ("train", "test"):
        default = load_dataset(str(out), split=split)
        messages = load_dataset(str(out), "messages", split=split)
        sharegpt = load_dataset(str(out), "sharegpt", split=split)
        assert len(default) == len(messages) == len(sharegpt) > 0
        for row, chat, share in zip(default, messages, sharegpt):
            assert row["doc_id"] == chat["doc_id"] == share["doc_id"]
            pages = len(row["images"])
            assert [im.tobytes() for im in chat["images"]] == [im.tobytes() for im in row["images"]]
            turns = chat["messages"]
            assert [m["role"] for m in turns] == ["user", "assistant"] * len(row["texts"])
            assert [p["type"] for p in turns[0]["content"]] == ["image"] * pages + ["text"]
            for i, pair in enumerate(row["texts"]):
                assert turns[2 * i]["content"][-1]["text"] == pair["user"]
                assert turns[2 * i + 1]["content"] == [{"type": "text", "text": pair["assistant"]}]
                asked = share["conversations"][2 * i]["value"]
                assert asked == IMAGE_TAG * (pages if i == 0 else 0) + pair["user"]
                assert share["conversations"][2 * i + 1] == {
                    "from": "gpt",
                    "value": pair["assistant"],
                }
    problems, counts = validate(out)
    assert not problems, problems.lines()
    assert counts["messages:train"]["pairs"] == counts["train"]["pairs"]


def test_llama_factory_reads_the_sharegpt_splits_by_its_own_rules(out):
    """What LLaMA-Factory does with ``dataset_dir: OUT`` and ``dataset: docgen_train`` (its
    dataset_info.json reader, folder loader, ShareGPT converter and image-tag check), applied
    here: installing it would replace this environment's torch and transformers."""
    info = json.loads((out / "dataset_info.json").read_text())
    assert set(info) == {"docgen_train", "docgen_test"}
    for name, entry in info.items():
        assert entry["formatting"] == "sharegpt"
        folder = out / entry["file_name"]
        files = sorted(str(folder / f) for f in (p.name for p in folder.iterdir()))
        rows = load_dataset("parquet", data_files=files, split="train")  # a folder: one split
        assert len(rows) == len(load_dataset(str(out), split=name.removeprefix("docgen_")))
        tags, columns = entry["tags"], entry["columns"]
        for row in rows:
            turns = row[columns["messages"]]
            assert len(turns) % 2 == 0
            for i, turn in enumerate(turns):  # odd turns the user's, even the assistant's
                want = tags["user_tag"] if i % 2 == 0 else tags["assistant_tag"]
                assert turn[tags["role_tag"]] == want
            images = row[columns["images"]]
            tags_in_text = sum(t[tags["content_tag"]].count(IMAGE_TAG) for t in turns)
            assert tags_in_text == len(images) > 0
            assert all(im.size[0] > 0 for im in images)  # decoded, as its plugin takes them


def test_a_page_that_shows_the_image_tag_does_not_add_an_image():
    chat = conversations_of([{"user": "What does <image> mean here?", "assistant": "a tag"}], 1)
    row = {"images": [b"x"], "conversations": chat}
    assert chat[0]["value"].count(IMAGE_TAG) == 1 and chat_problems("sharegpt", row) == []


def test_broken_chat_rows_are_found(out, tmp_path):
    good = {"images": [b"x"], "conversations": [{"from": "human", "value": "<image>Q?"},
                                                {"from": "gpt", "value": "A"}]}  # fmt: skip
    assert chat_problems("sharegpt", good) == []
    assert chat_problems("sharegpt", {**good, "images": [b"x", b"y"]}) == [
        "1 image tags for 2 images"
    ]
    assert (
        "turns are not"
        in chat_problems("sharegpt", {**good, "conversations": good["conversations"][:1]})[0]
    )
    swapped = {"images": [], "messages": [
        {"role": "assistant", "content": [{"type": "text", "text": "A"}]},
        {"role": "user", "content": [{"type": "text", "text": " "}]},
    ]}  # fmt: skip
    assert chat_problems("messages", swapped) == [
        "turns are not user/assistant pairs: ['assistant', 'user']",
        "an empty turn",
    ]
    # A shard whose first row lost a turn: `validate` names it, and the counts no longer agree.
    broken = tmp_path / "out"
    shutil.copytree(out, broken)
    path = broken / "sharegpt" / "train" / "train-00000-of-00001.parquet"
    table = pq.read_table(path)
    rows = table.to_pylist()
    rows[0]["conversations"] = rows[0]["conversations"][1:]
    pq.write_table(type(table).from_pylist(rows, table.schema), path)
    problems, _ = validate(broken)
    assert any("row 0: turns are not human/gpt pairs" in line for line in problems.lines())
    assert any("default config" in line for line in problems.lines())


def test_trl_sft_trainer_trains_a_tiny_idefics3_on_the_messages_config(out, tmp_path):
    torch = pytest.importorskip("torch")
    trl = pytest.importorskip("trl")
    from docgen.core.train_config import TinyModelConfig
    from docgen.train.tiny import build_model, build_processor

    train = load_dataset(str(out), "messages", split="train")
    texts = [p["text"] for chat in train["messages"] for m in chat for p in m["content"]
             if p["type"] == "text"]  # fmt: skip
    cfg = TinyModelConfig()
    processor = build_processor(texts, cfg)
    model = build_model(processor, cfg)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    args = trl.SFTConfig(
        output_dir=str(tmp_path / "sft"), max_steps=3, per_device_train_batch_size=2,
        learning_rate=1e-3, logging_steps=1, report_to=[], save_strategy="no", max_length=None,
        use_cpu=True, dataloader_num_workers=0, seed=0,
    )  # fmt: skip
    trainer = trl.SFTTrainer(
        model=model, args=args, train_dataset=train, processing_class=processor
    )
    # The page images reach the model: a tile's tokens for each tile of each page.
    batch = trainer.data_collator([trainer.train_dataset[0]])
    tiles = batch["pixel_values"].shape[1]
    assert tiles >= len(train[0]["images"])
    image_tokens = int((batch["input_ids"] == processor.image_token_id).sum())
    assert image_tokens == tiles * processor.image_seq_len
    result = trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert result.global_step == 3 and len(losses) == 3
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    changed = [k for k, v in model.named_parameters() if not torch.equal(before[k], v.detach())]
    assert len(changed) == len(before)
