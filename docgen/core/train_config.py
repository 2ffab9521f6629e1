"""Options of ``docgen train`` and ``docgen eval``: the ``train`` and ``eval`` sections of a run
config (the built-in ``train``), overridable with ``--set train.lr=3e-4``."""

from __future__ import annotations

from dataclasses import dataclass, field

from docgen.core.config_check import NOT_NEGATIVE, POSITIVE, SHARE, Between, Mapping, setting
from docgen.core.settings import RATINGS


@dataclass
class TinyModelConfig:
    """The randomly initialised Idefics3 of ``--model tiny``: small enough to train on a CPU."""

    vocab_size: int = setting(1024, help="byte-level BPE trained on the dataset's own texts")
    model_vocab_size: int = setting(
        0, help="embedding rows (0: the tokenizer's size; more: room, as real LMs)"
    )
    hidden_size: int = setting(64, help="language model")
    intermediate_size: int = setting(0, help="0: 4 x hidden_size")
    layers: int = setting(2)
    heads: int = setting(4)
    kv_heads: int = setting(0, help="0: as many as heads (grouped-query attention when fewer)")
    tie_embeddings: bool = setting(False)
    max_positions: int = setting(4096)
    vision_hidden_size: int = setting(64, help="SigLIP-style encoder")
    vision_intermediate_size: int = setting(0, help="0: 4 x vision_hidden_size")
    vision_layers: int = setting(2)
    vision_heads: int = setting(0, help="0: as many as heads")
    image_size: int = setting(64, help="side of one image tile, in pixels")
    patch_size: int = setting(8)
    scale_factor: int = setting(2, help="pixel shuffle: (64/8)^2 / 2^2 = 16 image tokens per tile")
    max_tiles_per_side: int = setting(
        2, help="pages are split into up to 2x2 tiles plus a global image"
    )


@dataclass
class TrainConfig:
    split: str = setting("train")
    # Turns rated below on a scale are left out (shards made with filter.rate carry the ratings
    # as <scale>_ratings columns): ratings filter at training time, not when the data is made.
    min_ratings: dict = setting(
        factory=dict,
        check=Mapping(Between(1, 5), keys=RATINGS, whole=True),
        help="e.g. {relevance: 3, formatting: 3}; {} trains on every turn",
    )
    # Answers followed by their place on the page in Qwen2-VL's grounding tokens (shards made
    # with shard.answer_boxes carry the boxes); `docgen eval` then scores the boxes by IoU.
    answer_boxes: bool = setting(False, help="train on answers with their boxes")
    steps: int = setting(1000, check=POSITIVE, help="optimizer steps")
    batch_size: int = setting(8, check=POSITIVE, help="sequences per micro-batch (per process)")
    grad_accum: int = setting(1, check=POSITIVE, help="micro-batches per optimizer step")
    lr: float = setting(1e-4, check=Between(0, low_open=True))
    weight_decay: float = setting(0.0)
    warmup_steps: int = setting(50, help="linear warm-up, then cosine decay to min_lr_ratio * lr")
    min_lr_ratio: float = setting(0.1)
    max_grad_norm: float = setting(1.0)
    batching: str = setting(
        "pad",
        check=("pad", "pack", "bucket"),
        help="pad | pack (several chats per sequence) | bucket (similar lengths)",
    )
    window: int = setting(64, help="pack / bucket: chats arranged together, in batches")
    max_length: int = setting(
        2048, check=POSITIVE, help="tokens per sequence; turns that do not fit are left out"
    )
    prefetch: int = setting(
        4, check=NOT_NEGATIVE, help="batches prepared ahead in a background thread (0: none)"
    )
    max_image_side: int | None = setting(
        None, help="longest side pages are resized to (None: the model's)"
    )
    image_splitting: bool = setting(
        True, help="tiles plus a global image, as Idefics3; False: global only"
    )
    precision: str = setting(
        "auto", check=("auto", "bf16", "fp32"), help="auto (bf16 on GPU, fp32 on CPU) | bf16 | fp32"
    )
    # Recompute each layer's activations in the backward pass instead of keeping them: much less
    # memory for about a third more compute (`docgen train --plan` shows how much).
    gradient_checkpointing: bool = setting(False)
    # Several processes (torchrun): ddp keeps a whole copy of the model in each; fsdp splits
    # weights, gradients and optimizer state between them (a model too big for one device).
    sharding: str = setting("ddp", check=("ddp", "fsdp"))
    freeze_vision: bool = setting(False)
    freeze_lm: bool = setting(False)
    adapter: str = setting(
        "none",
        check=("none", "lora", "dora"),
        help="none | lora | dora (peft), on the language model's projections",
    )
    lora_r: int = setting(16)
    lora_alpha: int = setting(32)
    lora_dropout: float = setting(0.0)
    lora_targets: list[str] = setting(factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    checkpoint_every: int = setting(
        100, check=POSITIVE, help="steps; the run resumes from the newest one"
    )
    keep_checkpoints: int = setting(2)
    log_every: int = setting(10, help="steps between lines in metrics.jsonl")
    report_to: list[str] = setting(
        factory=list, check=("tensorboard", "wandb"), help="tensorboard, wandb (docgen[trackers])"
    )
    seed: int = setting(0)
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)


@dataclass
class EvalConfig:
    split: str = setting("test")
    batch_size: int = setting(8, check=POSITIVE)
    max_new_tokens: int = setting(32)
    limit: int | None = setting(None, check=POSITIVE, help="questions to score (None: all)")
    anls_threshold: float = setting(0.5, check=SHARE, help="DocVQA's")
    # Who answers: vllm (its offline engine, batched), transformers (generate, batch_size at a
    # time), auto: vllm when engine_python is set or vLLM is installed here, else transformers.
    engine: str = setting("auto", check=("auto", "vllm", "transformers"))
    engine_python: str | None = setting(
        None, help="a Python with vLLM for the engine process; default ours"
    )
    engine_args: dict = setting(factory=dict, help="more vllm.LLM arguments")
