"""The shards' columns, config by config: the default config's (Docmatix's ``images`` + ``texts``),
the ``pdf`` config's, the optional metadata and per-turn rating columns, as Arrow schemas and as
the ``datasets`` features the card declares; where each config's shards go and how they are
named."""

from __future__ import annotations

import json

import pyarrow as pa

from docgen.core.settings import RATINGS
from docgen.shard.boxes import BOX_FIELDS
from docgen.shard.chat import LAYOUTS

# The features in the legacy form (Sequence / list), which every `datasets` release reads.
FEATURES = {
    "images": {"feature": {"_type": "Image"}, "_type": "Sequence"},
    "texts": [
        {
            "user": {"dtype": "string", "_type": "Value"},
            "assistant": {"dtype": "string", "_type": "Value"},
            "source": {"dtype": "string", "_type": "Value"},
        }
    ],
}


ROW_SCHEMA = pa.schema(
    [
        ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
        (
            "texts",
            pa.list_(
                pa.struct(
                    [("user", pa.string()), ("assistant", pa.string()), ("source", pa.string())]
                )
            ),
        ),
    ],
    metadata={"huggingface": json.dumps({"info": {"features": FEATURES}})},
)


# Optional per-row metadata (``shard.metadata_columns``), after the two Docmatix columns.
META_FIELDS = [
    ("doc_id", pa.string()),
    ("languages", pa.list_(pa.string())),
    ("page_numbers", pa.list_(pa.int32())),
    ("generator", pa.string()),
    ("kinds", pa.list_(pa.string())),
    ("answer_types", pa.list_(pa.string())),
]


META_FEATURES = {
    "doc_id": {"dtype": "string", "_type": "Value"},
    "languages": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"},
    "page_numbers": {"feature": {"dtype": "int32", "_type": "Value"}, "_type": "Sequence"},
    "generator": {"dtype": "string", "_type": "Value"},
    "kinds": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"},
    "answer_types": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"},
}


# Optional per-turn ratings (``filter.rate``), as FineVision gives them: one list per scale,
# parallel to ``texts`` (null where the rater gave none).
RATING_FIELDS = [(f"{scale}_ratings", pa.list_(pa.int8())) for scale in RATINGS]


RATING_FEATURES = {
    name: {"feature": {"dtype": "int8", "_type": "Value"}, "_type": "Sequence"}
    for name, _ in RATING_FIELDS
}


# The optional `pdf` config, as Docmatix offers it: one row per document, its PDF file and all its
# pairs (the metadata columns follow when asked).
PDF_FEATURES = {"pdf": {"dtype": "binary", "_type": "Value"}, "texts": FEATURES["texts"]}


PDF_FIELDS = [pa.field("pdf", pa.binary()), ROW_SCHEMA.field("texts")]


# config name -> folder of its shards; LLaMA-Factory reads a folder whole, so each ShareGPT
# split has a folder of its own.
CONFIG_DIRS = {"default": "data", "pdf": "pdf", "messages": "messages", "grounded": "grounded",
               "sharegpt": "sharegpt"}  # fmt: skip


SPLIT_FOLDERS = {"sharegpt"}


def shard_name(config: str, split: str, index: int | None = None, count: int = 0) -> str:
    """A shard's path under its config's folder (without ``index``: the pattern of a split's)."""
    name = f"{split}-*" if index is None else f"{split}-{index:05d}-of-{count:05d}.parquet"
    return f"{split}/{name}" if config in SPLIT_FOLDERS else name


# Optional per-turn answer places (``shard.answer_boxes``; every config with page images).
INT32 = {"dtype": "int32", "_type": "Value"}
INT32S = {"feature": INT32, "_type": "Sequence"}
BOX_FEATURE = {"image": INT32, "page": INT32, "box": INT32S, "box_1000": INT32S}
BOX_FEATURES = {
    "answer_located": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"},
    "answer_boxes": [[BOX_FEATURE]],  # a list of lists of structs, in the legacy form
}


# Optional per-turn reasoning traces (``shard.reasoning_column``), null where a turn has none.
REASONING_FIELDS = [("reasoning", pa.list_(pa.string()))]
REASONING_FEATURES = {"reasoning": {"feature": {"dtype": "string", "_type": "Value"},
                                    "_type": "Sequence"}}  # fmt: skip


def row_schema(
    metadata_columns: bool = False, config: str = "default", ratings: bool = False,
    boxes: bool = False, reasoning: bool = False,
) -> pa.Schema:  # fmt: skip
    """The output row layout of a config, with the optional metadata, rating and (but in the
    `pdf` config) answer box columns."""
    if config in LAYOUTS:
        column, kind, chat_features, _ = LAYOUTS[config]
        fields = [ROW_SCHEMA.field("images"), pa.field(column, kind)]
        features = {"images": FEATURES["images"], column: chat_features}
    else:
        fields = list(ROW_SCHEMA) if config == "default" else list(PDF_FIELDS)
        features = dict(FEATURES if config == "default" else PDF_FEATURES)
    if metadata_columns:
        fields += [pa.field(n, t) for n, t in META_FIELDS]
        features |= META_FEATURES
    if ratings:
        fields += [pa.field(n, t) for n, t in RATING_FIELDS]
        features |= RATING_FEATURES
    if boxes and config != "pdf":  # the boxes are on the rows' images: the pdf config has none
        fields += [pa.field(n, t) for n, t in BOX_FIELDS]
        features |= BOX_FEATURES
    if reasoning and config != "pdf":
        fields += [pa.field(n, t) for n, t in REASONING_FIELDS]
        features |= REASONING_FEATURES
    return pa.schema(fields, metadata={"huggingface": json.dumps({"info": {"features": features}})})
