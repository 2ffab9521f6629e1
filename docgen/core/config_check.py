"""Every run-config value checked before any work: its type from the dataclass, and its range or
choices from RULES. A bad value is one line naming the key, the value and what the key takes —
never an empty dataset made of error rows, nor a traceback from deep inside a stage."""

from __future__ import annotations

import dataclasses
import math
import types
import typing


@dataclasses.dataclass(frozen=True)
class Between:
    low: float
    high: float = math.inf
    low_open: bool = False  # the low end itself is not allowed (a timeout of 0)
    high_open: bool = False

    def ok(self, value) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        if self.high == math.inf:
            return f"above {self.low:g}" if self.low_open else f"at least {self.low:g}"
        if self.high_open:
            return f"from {self.low:g} to below {self.high:g}"
        return f"from {self.low:g} to {self.high:g}"


POSITIVE = Between(1)
NOT_NEGATIVE = Between(0)
SHARE = Between(0, 1)
PERCENT = Between(0, 100)
SECONDS = Between(0, low_open=True)

RULES: dict[str, Between | tuple] = {
    "extract.dpi": Between(36, 1200),
    "extract.max_image_side": Between(64, 20000),
    "extract.image_format": ("png", "jpeg", "webp"),
    "extract.image_quality": Between(1, 100),
    "extract.colour": ("auto", "rgb", "gray"),
    "extract.png_level": Between(0, 9),
    "extract.tables": ("pdfplumber", "pymupdf", "off"),
    "extract.ocr": ("auto", "force", "off"),
    "extract.ocr_dpi": Between(72, 1200),
    "extract.docs_per_partition": POSITIVE,
    "extract.partition_mb": Between(0, low_open=True),
    "extract.max_file_mb": Between(0, low_open=True),
    "extract.max_pages": POSITIVE,
    "extract.max_image_pixels": POSITIVE,
    "extract.memory_mb": "memory",
    "extract.page_timeout_s": SECONDS,
    "extract.doc_timeout_s": SECONDS,
    "generate.backend": ("rules", "openai", "vllm"),
    "generate.pairs_per_page": POSITIVE,
    "generate.input": ("text", "image", "image+text"),
    "generate.image_max_side": Between(64, 20000),
    "generate.image_max_pixels": Between(4096),
    "generate.max_images_per_request": Between(1, 64),
    "generate.temperature": Between(0, 2),
    "generate.top_p": Between(0, 1, low_open=True),
    "generate.max_tokens": POSITIVE,
    "generate.max_prompt_tokens": Between(256),
    "generate.max_pairs_per_request": POSITIVE,
    "generate.max_pairs_per_reply": POSITIVE,
    "generate.token_budget": POSITIVE,
    "generate.parts_per_task": POSITIVE,
    "generate.structured_output": ("json_schema", "json_object", "none"),
    "generate.concurrency": Between(1, 100_000),
    "generate.request_timeout": SECONDS,
    "generate.silence_timeout": SECONDS,
    "generate.min_tokens_per_second": SECONDS,
    "generate.max_reply_kb": Between(1, 1 << 20),
    "generate.max_attempts": Between(1, 100),
    "generate.backoff_base": NOT_NEGATIVE,
    "generate.backoff_max": NOT_NEGATIVE,
    "generate.tensor_parallel_size": POSITIVE,
    "generate.gpu_memory_utilization": Between(0, 1, low_open=True),
    "generate.max_model_len": POSITIVE,
    "filter.min_question_chars": NOT_NEGATIVE,
    "filter.max_question_chars": POSITIVE,
    "filter.max_answer_chars": POSITIVE,
    "filter.fuzzy_threshold": PERCENT,
    "filter.min_token_coverage": SHARE,
    "filter.near_duplicate_ratio": PERCENT,
    "filter.decontam_ngram": POSITIVE,
    "filter.decontam_threshold": SHARE,
    "filter.max_page_copies": POSITIVE,
    "filter.page_similarity": SHARE,
    "filter.max_pair_copies": POSITIVE,
    "filter.pair_similarity": SHARE,
    "filter.judge_min_score": Between(1, 5),
    "filter.back_translation_ratio": PERCENT,
    "shard.max_pages_per_row": POSITIVE,
    "shard.max_shard_mb": Between(0, low_open=True),
    "shard.row_group_mb": Between(0, low_open=True),
    "shard.test_fraction": Between(0, 1, high_open=True),  # 1 would leave no train split
    "shard.chat_configs": ("messages", "sharegpt"),
    "run.workers": Between(1, 4096),
    "run.limit": POSITIVE,
    "train.steps": POSITIVE,
    "train.batch_size": POSITIVE,
    "train.grad_accum": POSITIVE,
    "train.lr": Between(0, low_open=True),
    "train.batching": ("pad", "pack", "bucket"),
    "train.max_length": POSITIVE,
    "train.prefetch": NOT_NEGATIVE,
    "train.precision": ("auto", "bf16", "fp32"),
    "train.adapter": ("none", "lora", "dora"),
    "train.sharding": ("ddp", "fsdp"),
    "train.checkpoint_every": POSITIVE,
    "train.report_to": ("tensorboard", "wandb"),
    "eval.batch_size": POSITIVE,
    "eval.limit": POSITIVE,
    "eval.anls_threshold": SHARE,
    "eval.engine": ("auto", "vllm", "transformers"),
}


def check_config(cfg, section: str = "") -> None:
    """Raise ValueError (one line) for the first value of ``cfg`` (a run config, or the section
    of one named ``section``, e.g. "generate.") that its field or rule refuses."""
    for key, value, kind in values(cfg, section):
        if not fits(value, kind):
            raise ValueError(f"config {key}: {value!r} is not {describe(kind)}")
        rule = RULES.get(key)
        if value is None or rule is None:
            continue
        if rule == "memory":  # 0 switches the ceiling off; below 256 MB nothing can be read
            rule = Between(256) if value else None
        if isinstance(rule, tuple) and isinstance(value, list):  # each item one of the choices
            if bad := [v for v in value if v not in rule]:
                raise ValueError(f"config {key}: {bad[0]!r} is not one of {', '.join(rule)}")
        elif isinstance(rule, tuple) and value not in rule:
            raise ValueError(f"config {key}: {value!r} is not one of {', '.join(rule)}")
        if isinstance(rule, Between) and not rule.ok(value):
            raise ValueError(f"config {key}: {value!r} is out of range; it takes {rule}")


def values(obj, prefix: str = ""):
    """(dotted key, value, annotated type) of every leaf field of a config dataclass."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from values(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", value, hints[f.name]


def fits(value, kind) -> bool:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return any(fits(value, k) for k in typing.get_args(kind))
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:  # an int is a float here (dpi: 150 for 150.0); inf and nan are not
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and math.isfinite(value)
    origin = typing.get_origin(kind)
    if origin is list:
        (item,) = typing.get_args(kind)
        return isinstance(value, list) and all(fits(v, item) for v in value)
    if kind is dict or origin is dict:
        return isinstance(value, dict)
    return isinstance(value, kind)


def describe(kind) -> str:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return " or ".join(describe(k) for k in typing.get_args(kind))
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "a string",
             dict: "a mapping", type(None): "null"}  # fmt: skip
    if typing.get_origin(kind) is list:
        return f"a list of {describe(typing.get_args(kind)[0]).removeprefix('a ')}s"
    return names.get(kind, getattr(kind, "__name__", str(kind)))
