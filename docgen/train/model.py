"""Which model is trained: ``tiny`` (built here) or a checkpoint folder / Hub id; what is frozen
and which adapters (LoRA, DoRA) are put on it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from docgen.core.train_config import TrainConfig


def dataset_texts(files: list[Path]):
    """Every question and answer of the shards, one row group at a time (tokenizer training)."""
    for path in files:
        pf = pq.ParquetFile(path)
        for g in range(pf.num_row_groups):
            for texts in pf.read_row_group(g, columns=["texts"]).column("texts").to_pylist():
                for t in texts:
                    yield f"{t['user']}\n{t['assistant']}"


def load_base(model: str, files: list[Path], output: Path, cfg: TrainConfig):
    """(processor, model). ``tiny`` is built once and kept in ``OUTPUT/base``, so a resumed run
    starts from the very same weights and tokenizer; anything else is loaded with transformers'
    Auto classes (an Idefics3 or SmolVLM checkpoint: a local folder or a Hub id)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    if model == "tiny":
        base = output / "base"
        if not (base / "config.json").exists():
            from docgen.train import tiny

            processor = tiny.build_processor(dataset_texts(files), cfg.tiny)
            net = tiny.build_model(processor, cfg.tiny, seed=cfg.seed)
            tmp = output / "base.tmp"
            processor.save_pretrained(tmp)
            net.save_pretrained(tmp)
            tmp.rename(base)
        model = str(base)
    elif not Path(model).exists() and model.count("/") != 1:
        raise FileNotFoundError(f"--model {model}: not 'tiny', a folder or a Hub id (org/name)")
    processor = AutoProcessor.from_pretrained(model)
    net = AutoModelForImageTextToText.from_pretrained(model, dtype="float32")
    if not hasattr(net.model, "connector"):
        raise ValueError(f"--model {model}: not an Idefics3-style model ({type(net).__name__})")
    return processor, net


def prepare(net, cfg: TrainConfig):
    """Freeze parts and add adapters as configured; returns the model to train."""
    if cfg.adapter not in ("none", "lora", "dora"):
        raise ValueError(f"train.adapter must be none, lora or dora, not {cfg.adapter!r}")
    if cfg.adapter != "none":
        from peft import LoraConfig, get_peft_model

        targets = "|".join(cfg.lora_targets)
        peft_config = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            # adapters on the language model only; the connector is trained in full
            target_modules=rf".*text_model.*\.({targets})",
            modules_to_save=["connector"],
            use_dora=cfg.adapter == "dora",
        )
        net = get_peft_model(net, peft_config)
    inner = net.get_base_model() if cfg.adapter != "none" else net
    if cfg.freeze_vision:
        inner.model.vision_model.requires_grad_(False)
    if cfg.freeze_lm and cfg.adapter == "none":
        inner.model.text_model.requires_grad_(False)
        inner.lm_head.requires_grad_(False)
    if not any(p.requires_grad for p in net.parameters()):
        raise ValueError("nothing left to train: every part is frozen")
    if cfg.gradient_checkpointing:
        # Non-reentrant: works with frozen inputs (adapters, a frozen encoder) and DDP.
        enable = getattr(inner, "activation_checkpointing_enable", None)  # transformers >= 5.x
        if enable is not None:
            enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            inner.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )
    return net


def trainable_state(net) -> dict:
    return {n: p.detach().clone() for n, p in net.named_parameters() if p.requires_grad}


def save_final(net, processor, output: Path, cfg: TrainConfig, info: dict) -> None:
    """The trained model (adapters merged in) and its processor, loadable with from_pretrained."""
    if cfg.adapter != "none":
        net = net.merge_and_unload()
    net.save_pretrained(output)
    processor.save_pretrained(output)
    (output / "train_config.json").write_text(json.dumps(info, indent=2, default=str), "utf-8")
