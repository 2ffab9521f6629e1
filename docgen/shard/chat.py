"""The same rows as chats, in the layouts trainers read (``shard.chat_configs``).

- ``messages``: TRL's conversational vision layout, what ``SFTTrainer`` and a processor's chat
  template take: ``images`` and ``messages``, each message a ``role`` and typed ``content`` parts,
  one ``{"type": "image"}`` part per page at the head of the first user turn.
- ``sharegpt``: LLaMA-Factory's ShareGPT layout: ``images`` and ``conversations`` of
  ``{from: human|gpt, value}``, as many ``<image>`` tags in the first human turn as the row has
  images, and an entry per split in ``OUT/dataset_info.json`` (its ``dataset_dir``).

- ``grounded``: the ``messages`` layout with each answer followed by where it is on the page, as
  Qwen2-VL writes a box: ``<|box_start|>(x0,y0),(x1,y1)<|box_end|>`` in 0–1000 of the image (a
  box on another image than the row's first is named first:
  ``<|object_ref_start|>image 2<|object_ref_end|>``); an answer not found on its page is left as
  it is. It needs ``shard.answer_boxes``.

All are built from the ``default`` rows chunk by chunk, with the same sizes, so their shards and
row groups are cut where the default config's are and hold the same rows in the same order.
"""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

IMAGE_TAG = "<image>"  # LLaMA-Factory's image placeholder
SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                 "assistant_tag": "gpt"}  # fmt: skip

_VALUE = {"dtype": "string", "_type": "Value"}
PART = pa.struct([("type", pa.string()), ("text", pa.string())])
MESSAGE = pa.struct([("role", pa.string()), ("content", pa.list_(PART))])
TURN = pa.struct([("from", pa.string()), ("value", pa.string())])
# config -> (the column that replaces `texts`, its Arrow type, its features, its card YAML)
LAYOUTS = {
    "messages": (
        "messages",
        pa.list_(MESSAGE),
        [{"role": _VALUE, "content": [{"type": _VALUE, "text": _VALUE}]}],
        {"name": "messages", "list": [
            {"name": "role", "dtype": "string"},
            {"name": "content", "list": [{"name": "type", "dtype": "string"},
                                         {"name": "text", "dtype": "string"}]},
        ]},
    ),
    "sharegpt": (
        "conversations",
        pa.list_(TURN),
        [{"from": _VALUE, "value": _VALUE}],
        {"name": "conversations", "list": [{"name": "from", "dtype": "string"},
                                           {"name": "value", "dtype": "string"}]},
    ),
}  # fmt: skip
LAYOUTS["grounded"] = LAYOUTS["messages"]  # the same layout; its answers carry their boxes
CHAT_CONFIGS = tuple(LAYOUTS)


def messages_of(texts: list[dict], images: int) -> list[dict]:
    chat = []
    for i, turn in enumerate(texts):
        parts = [{"type": "image", "text": None}] * (images if i == 0 else 0)
        chat.append({"role": "user", "content": [*parts, {"type": "text", "text": turn["user"]}]})
        chat.append({"role": "assistant", "content": [{"type": "text", "text": turn["assistant"]}]})
    return chat


def with_boxes(answer: str, boxes: list[dict]) -> str:
    """The answer and its boxes in Qwen2-VL's grounding tokens (0–1000 of the image)."""
    marks = []
    for b in boxes or []:
        x0, y0, x1, y1 = b["box_1000"]
        named = (
            f"<|object_ref_start|>image {b['image'] + 1}<|object_ref_end|>" if b["image"] else ""
        )
        marks.append(f"{named}<|box_start|>({x0},{y0}),({x1},{y1})<|box_end|>")
    return answer + "".join(marks)


def grounded_of(texts: list[dict], images: int, boxes: list[list[dict]]) -> list[dict]:
    answered = [{**t, "assistant": with_boxes(t["assistant"], b)} for t, b in zip(texts, boxes)]
    return messages_of(answered, images)


def conversations_of(texts: list[dict], images: int) -> list[dict]:
    chat = []
    for i, turn in enumerate(texts):
        # A page may hold the tag's text; left as is it would count as one more image.
        question = turn["user"].replace(IMAGE_TAG, "<image >")
        chat.append({"from": "human", "value": IMAGE_TAG * (images if i == 0 else 0) + question})
        chat.append({"from": "gpt", "value": turn["assistant"]})
    return chat


def chat_table(rows: pa.Table, config: str, schema: pa.Schema) -> pa.Table:
    """The ``default`` rows ``rows`` in a chat config's layout (``schema``)."""
    column, kind, _, _ = LAYOUTS[config]
    counts = pc.list_value_length(rows.column("images")).to_pylist()
    texts = rows.column("texts").to_pylist()
    if config == "grounded":
        boxes = rows.column("answer_boxes").to_pylist()
        chats = [grounded_of(t, n, b) for t, n, b in zip(texts, counts, boxes)]
    else:
        build = messages_of if config == "messages" else conversations_of
        chats = [build(t, n) for t, n in zip(texts, counts)]
    at = rows.schema.get_field_index("texts")
    table = rows.remove_column(at).add_column(at, pa.field(column, kind), pa.array(chats, kind))
    return table.replace_schema_metadata(schema.metadata)


def chat_problems(config: str, row: dict) -> list[str]:
    """What a trainer would refuse in one row of a chat config: the rules TRL's chat templates
    and LLaMA-Factory's ShareGPT reader apply (turns alternate user/assistant from the user, in
    pairs; as many image parts or ``<image>`` tags as images; no empty turn)."""
    images = len(row.get("images") or [])
    if config in ("messages", "grounded"):
        turns = [(m["role"], m["content"] or []) for m in row.get("messages") or []]
        roles = [role for role, _ in turns]
        tags = sum(p["type"] == "image" for _, parts in turns for p in parts)
        empty = any(not any((p["text"] or "").strip() for p in parts if p["type"] == "text")
                    for _, parts in turns)  # fmt: skip
        user, assistant = "user", "assistant"
    else:
        turns = [(t["from"], t["value"] or "") for t in row.get("conversations") or []]
        roles = [role for role, _ in turns]
        tags = sum(value.count(IMAGE_TAG) for _, value in turns)
        empty = any(not value.replace(IMAGE_TAG, "").strip() for _, value in turns)
        user, assistant = "human", "gpt"
    problems = []
    if not turns or len(turns) % 2 or roles != [user, assistant] * (len(turns) // 2):
        problems.append(f"turns are not {user}/{assistant} pairs: {roles}")
    if tags != images:
        problems.append(f"{tags} image tags for {images} images")
    if empty:
        problems.append("an empty turn")
    return problems


def pairs_of(config: str, row: dict) -> int:
    return len(row.get(LAYOUTS[config][0]) or []) // 2


def count_rows(config: str, splits: list[str]) -> Counter:
    return Counter(f"{config}_rows:{s}" for s in splits)


def write_dataset_info(out, splits: list[str]) -> None:
    """``OUT/dataset_info.json``: the ShareGPT config's splits as LLaMA-Factory datasets, with
    OUT as its ``dataset_dir`` (``dataset: docgen_train``)."""
    entries = {
        f"docgen_{split}": {
            "file_name": f"sharegpt/{split}",
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "images": "images"},
            "tags": SHAREGPT_TAGS,
        }
        for split in splits
    }
    (out / "dataset_info.json").write_text(json.dumps(entries, indent=2) + "\n", "utf-8")
