"""Options of ``docgen train`` and ``docgen eval``: the ``train`` and ``eval`` sections of a run
config (the built-in ``train``), overridable with ``--set train.lr=3e-4``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TinyModelConfig:
    """The randomly initialised Idefics3 of ``--model tiny``: small enough to train on a CPU."""

    vocab_size: int = 1024  # byte-level BPE trained on the dataset's own texts
    model_vocab_size: int = 0  # embedding rows (0: the tokenizer's size; more: room, as real LMs)
    hidden_size: int = 64  # language model
    intermediate_size: int = 0  # 0: 4 x hidden_size
    layers: int = 2
    heads: int = 4
    kv_heads: int = 0  # 0: as many as heads (grouped-query attention when fewer)
    tie_embeddings: bool = False
    max_positions: int = 4096
    vision_hidden_size: int = 64  # SigLIP-style encoder
    vision_intermediate_size: int = 0  # 0: 4 x vision_hidden_size
    vision_layers: int = 2
    vision_heads: int = 0  # 0: as many as heads
    image_size: int = 64  # side of one image tile, in pixels
    patch_size: int = 8
    scale_factor: int = 2  # pixel shuffle: (64/8)^2 / 2^2 = 16 image tokens per tile
    max_tiles_per_side: int = 2  # pages are split into up to 2x2 tiles plus a global image


@dataclass
class TrainConfig:
    split: str = "train"
    steps: int = 1000  # optimizer steps
    batch_size: int = 8  # sequences per micro-batch (per process)
    grad_accum: int = 1  # micro-batches per optimizer step
    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup_steps: int = 50  # linear warm-up, then cosine decay to min_lr_ratio * lr
    min_lr_ratio: float = 0.1
    max_grad_norm: float = 1.0
    batching: str = "pad"  # pad | pack (several chats per sequence) | bucket (similar lengths)
    window: int = 64  # pack / bucket: chats arranged together, in batches
    max_length: int = 2048  # tokens per sequence; turns that do not fit are left out
    prefetch: int = 4  # batches prepared ahead in a background thread (0: none)
    max_image_side: int | None = None  # longest side pages are resized to (None: the model's)
    image_splitting: bool = True  # tiles plus a global image, as Idefics3; False: global only
    precision: str = "auto"  # auto (bf16 on GPU, fp32 on CPU) | bf16 | fp32
    # Recompute each layer's activations in the backward pass instead of keeping them: much less
    # memory for about a third more compute (`docgen train --plan` shows how much).
    gradient_checkpointing: bool = False
    # Several processes (torchrun): ddp keeps a whole copy of the model in each; fsdp splits
    # weights, gradients and optimizer state between them (a model too big for one device).
    sharding: str = "ddp"
    freeze_vision: bool = False
    freeze_lm: bool = False
    adapter: str = "none"  # none | lora | dora (peft), on the language model's projections
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_targets: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"]
    )
    checkpoint_every: int = 100  # steps; the run resumes from the newest one
    keep_checkpoints: int = 2
    log_every: int = 10  # steps between lines in metrics.jsonl
    report_to: list[str] = field(default_factory=list)  # tensorboard, wandb (docgen[trackers])
    seed: int = 0
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)


@dataclass
class EvalConfig:
    split: str = "test"
    batch_size: int = 8
    max_new_tokens: int = 32
    limit: int | None = None  # questions to score (None: all)
    anls_threshold: float = 0.5  # DocVQA's
    # Who answers: vllm (its offline engine, batched), transformers (generate, batch_size at a
    # time), auto: vllm when engine_python is set or vLLM is installed here, else transformers.
    engine: str = "auto"
    engine_python: str | None = None  # a Python with vLLM for the engine process; default ours
    engine_args: dict = field(default_factory=dict)  # more vllm.LLM arguments
