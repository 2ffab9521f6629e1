"""``docgen train --plan``: the memory each GPU needs before a run is launched, and whether it fits.

The parameters are counted exactly, from the model's config, on PyTorch's meta device (no weight
is read or allocated); LoRA's trainable parameters are counted on the same meta model. The rest
is the trainer's accounting, per GPU:

- weights: fp32, as the trainer keeps them (bf16 autocast computes in half precision);
- gradients: fp32, for the trainable parameters; optimizer: AdamW's two fp32 moments;
- activations, estimated: 34 bytes per token and hidden unit for each transformer layer
  (Korthikanti et al., 2022, without the attention-score term: PyTorch's SDPA keeps none), for
  the language model over the micro-batch's tokens and for the vision encoder over its tiles (a
  sequence holds at most ``max_length`` tokens, so at most that many image tokens); with
  gradient checkpointing, a layer's input for each layer and one layer's whole; a frozen part
  keeps none;
- logits: bf16, their fp32 copy for the loss and its gradient (10 bytes per token and word of
  the vocabulary: large for 128k-word vocabularies);
- overhead: 1 GiB for the CUDA context and kernels, and 5% for the allocator's fragments.

DDP keeps it all on every GPU; FSDP (full sharding, ZeRO-3: ``train.sharding: fsdp``) divides
weights, gradients and optimizer state by the GPU count.
"""

from __future__ import annotations

from dataclasses import dataclass

from docgen.core.train_config import TrainConfig

GiB = 2**30
# Checkpoints whose config cannot be read offline, with the values their configs publish.
PRESETS = {
    "HuggingFaceM4/Idefics3-8B-Llama3": {
        "vision_config": {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27,
                          "num_attention_heads": 16, "image_size": 364, "patch_size": 14},
        "text_config": {"model_type": "llama", "vocab_size": 128259, "hidden_size": 4096,
                        "intermediate_size": 14336, "num_hidden_layers": 32,
                        "num_attention_heads": 32, "num_key_value_heads": 8,
                        "max_position_embeddings": 131072, "tie_word_embeddings": False},
        "scale_factor": 2,
        "tie_word_embeddings": False,
    },
    "HuggingFaceTB/SmolVLM-256M-Instruct": {
        "vision_config": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                          "num_attention_heads": 12, "image_size": 512, "patch_size": 16},
        "text_config": {"model_type": "llama", "vocab_size": 49280, "hidden_size": 576,
                        "intermediate_size": 1536, "num_hidden_layers": 30,
                        "num_attention_heads": 9, "num_key_value_heads": 3,
                        "max_position_embeddings": 8192, "tie_word_embeddings": True},
        "scale_factor": 4,
        "tie_word_embeddings": True,
    },
}  # fmt: skip


@dataclass
class Plan:
    model: str
    parameters: dict  # part -> count
    trainable: int
    rows: dict  # strategy -> {component: bytes}
    gpu_bytes: float
    setup: str


def model_config(model: str, cfg: TrainConfig):
    """The Idefics3 config of ``tiny``, a local checkpoint folder, a preset or a cached Hub id."""
    from transformers import AutoConfig, Idefics3Config

    if model == "tiny":
        t = cfg.tiny
        vision_mlp = t.vision_intermediate_size or 4 * t.vision_hidden_size
        return Idefics3Config(
            vision_config=dict(hidden_size=t.vision_hidden_size, intermediate_size=vision_mlp,
                               num_hidden_layers=t.vision_layers,
                               num_attention_heads=t.vision_heads or t.heads,
                               image_size=t.image_size, patch_size=t.patch_size),
            text_config=dict(model_type="llama", vocab_size=max(t.vocab_size, t.model_vocab_size),
                             hidden_size=t.hidden_size,
                             intermediate_size=t.intermediate_size or 4 * t.hidden_size,
                             num_hidden_layers=t.layers, num_attention_heads=t.heads,
                             num_key_value_heads=t.kv_heads or t.heads,
                             max_position_embeddings=t.max_positions,
                             tie_word_embeddings=t.tie_embeddings),
            scale_factor=t.scale_factor, tie_word_embeddings=t.tie_embeddings,
        )  # fmt: skip
    if model in PRESETS:
        return Idefics3Config(**PRESETS[model])
    try:
        return AutoConfig.from_pretrained(model, local_files_only=True)
    except (OSError, ValueError):
        raise ValueError(
            f"--model {model}: no config.json in that folder or in the Hugging Face cache "
            f"(offline); known without one: tiny, {', '.join(PRESETS)}"
        ) from None


def count(model: str, cfg: TrainConfig) -> tuple[dict, int, object]:
    """(parameters per part, trainable parameters, config), on the meta device."""
    import torch
    from transformers import AutoModelForImageTextToText

    from docgen.train.model import prepare

    config = model_config(model, cfg)
    if getattr(config, "model_type", None) not in ("idefics3", "smolvlm"):
        kind = getattr(config, "model_type", "unknown")
        raise ValueError(f"--model {model}: not an Idefics3-style model (model_type {kind})")
    with torch.device("meta"):
        net = AutoModelForImageTextToText.from_config(config)
    if not hasattr(net.model, "connector"):
        raise ValueError(f"--model {model}: not an Idefics3-style model ({type(net).__name__})")
    parts = {name: sum(p.numel() for p in getattr(net.model, name).parameters())
             for name in ("vision_model", "connector", "text_model")}  # fmt: skip
    if not config.tie_word_embeddings:
        parts["lm_head"] = net.lm_head.weight.numel()
    with torch.device("meta"):
        trained = prepare(net, cfg)
    trainable = sum(p.numel() for p in trained.parameters() if p.requires_grad)
    return parts, trainable, config


def layer_activations(tokens: int, hidden: int, checkpointing: bool, layers: int) -> float:
    per_layer = 34 * tokens * hidden
    return (2 * tokens * hidden * layers + per_layer) if checkpointing else per_layer * layers


def plan(model: str, cfg: TrainConfig, gpus: int = 1, gpu_gib: float = 80.0,
         checkpointing: bool = False) -> Plan:  # fmt: skip
    if gpus < 1 or gpu_gib <= 0:
        raise ValueError(
            f"--gpus must be 1 or more and --gpu-memory above 0 (got {gpus}, {gpu_gib:g})"
        )
    checkpointing = checkpointing or cfg.gradient_checkpointing
    parts, trainable, config = count(model, cfg)
    total = sum(parts.values())
    text, vision = config.text_config, config.vision_config
    tokens = cfg.batch_size * cfg.max_length
    patches = (vision.image_size // vision.patch_size) ** 2
    tile_tokens = patches // config.scale_factor**2
    tiles = cfg.batch_size * max(1, cfg.max_length // tile_tokens)
    lm_frozen = cfg.freeze_lm and cfg.adapter == "none"
    activations = 0.0
    if not lm_frozen:
        activations += layer_activations(tokens, text.hidden_size, checkpointing,
                                         text.num_hidden_layers)  # fmt: skip
    if not cfg.freeze_vision:
        activations += layer_activations(tiles * patches, vision.hidden_size, checkpointing,
                                         vision.num_hidden_layers)  # fmt: skip
    state = {"weights": 4.0 * total, "gradients": 4.0 * trainable, "optimizer": 8.0 * trainable}
    rows = {}
    for strategy, shards in (("ddp", 1), ("fsdp", gpus)):
        row = {k: v / shards for k, v in state.items()}
        row["activations"] = activations
        row["logits"] = 10.0 * tokens * text.vocab_size
        row["overhead"] = GiB + 0.05 * sum(row.values())
        rows[strategy] = row
    setup = (f"{cfg.batch_size} sequences x {cfg.max_length} tokens per GPU, {gpus} GPU(s) of "
             f"{gpu_gib:g} GiB, adapter {cfg.adapter}"
             + (", vision frozen" if cfg.freeze_vision else "")
             + (", language model frozen" if lm_frozen else "")
             + (", gradient checkpointing" if checkpointing else ""))  # fmt: skip
    return Plan(model, parts, trainable, rows, gpu_gib * GiB, setup)


def report(p: Plan) -> list[str]:
    total = sum(p.parameters.values())
    parts = ", ".join(f"{k.replace('_model', '')} {v / 1e9:.3g} B" for k, v in p.parameters.items())
    lines = [
        f"model       {p.model}: {total / 1e9:.3g} B parameters ({parts})",
        f"trainable   {p.trainable / 1e9:.3g} B ({100 * p.trainable / total:.2f}%)",
        f"setup       {p.setup}",
        "GiB per GPU    weights  gradients  optimizer  activations  logits  overhead    total"
        "  fits",
    ]
    for strategy, row in p.rows.items():
        need = sum(row.values())
        name = "ddp" if strategy == "ddp" else "fsdp (sharded)"
        cells = "".join(f"{row[k] / GiB:>{w}.1f}" for k, w in
                        (("weights", 9), ("gradients", 11), ("optimizer", 11),
                         ("activations", 13), ("logits", 8), ("overhead", 10)))  # fmt: skip
        fits = "yes" if need <= p.gpu_bytes else "no"
        lines.append(f"{name:14s}{cells}{need / GiB:>9.1f}  {fits}")
    return lines


def fits(p: Plan, strategy: str = "ddp") -> bool:
    return sum(p.rows[strategy].values()) <= p.gpu_bytes
