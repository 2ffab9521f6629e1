"""`docgen train --plan`: parameters counted exactly (against real models), the accounting that
decides whether a run fits, and the command's exit status."""

from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from docgen.cli import main  # noqa: E402
from docgen.core.train_config import TinyModelConfig, TrainConfig  # noqa: E402
from docgen.train.model import prepare  # noqa: E402
from docgen.train.plan import GiB, fits, plan  # noqa: E402
from docgen.train.tiny import build_model, build_processor  # noqa: E402

IDEFICS3_8B = "HuggingFaceM4/Idefics3-8B-Llama3"
TEXTS = [f"Invoice {i}: total {i * 7} EUR, due {i % 28 + 1} March" for i in range(200)]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny Idefics3 saved as a checkpoint folder, and the real model."""
    folder = tmp_path_factory.mktemp("ckpt")
    processor = build_processor(TEXTS, TinyModelConfig())
    net = build_model(processor, TinyModelConfig())
    net.save_pretrained(folder)
    return folder, net


def test_parameters_are_counted_exactly_from_the_config(checkpoint):
    folder, net = checkpoint
    p = plan(str(folder), TrainConfig())
    assert sum(p.parameters.values()) == sum(t.numel() for t in net.parameters())
    assert p.trainable == sum(t.numel() for t in net.parameters())
    assert p.rows["ddp"]["weights"] == 4 * sum(p.parameters.values())  # fp32, as trained


def test_lora_trainable_parameters_match_peft_on_the_real_model(checkpoint):
    folder, net = checkpoint
    cfg = replace(TrainConfig(), adapter="lora", lora_r=4)
    real = prepare(net, cfg)
    p = plan(str(folder), cfg)
    assert p.trainable == sum(t.numel() for t in real.parameters() if t.requires_grad)
    assert p.rows["ddp"]["optimizer"] == 8 * p.trainable  # AdamW: two fp32 moments


def test_the_seed_model_fits_where_it_should():
    full = replace(TrainConfig(), batch_size=1)
    one_gpu = plan(IDEFICS3_8B, full)
    assert 8.4e9 < sum(one_gpu.parameters.values()) < 8.5e9
    assert not fits(one_gpu)  # a full fine-tune of 8B: 16 bytes a parameter, no 80 GB GPU
    sharded = plan(IDEFICS3_8B, full, gpus=8, checkpointing=True)
    assert not fits(sharded, "ddp") and fits(sharded, "fsdp")
    lora = plan(IDEFICS3_8B, replace(full, adapter="lora"), checkpointing=True)
    assert fits(lora) and lora.trainable < 0.01 * sum(lora.parameters.values())
    # Checkpointing and a frozen vision encoder only ever lower the activations.
    plain = plan(IDEFICS3_8B, full)
    frozen = plan(IDEFICS3_8B, replace(full, freeze_vision=True))
    assert sharded.rows["ddp"]["activations"] < plain.rows["ddp"]["activations"]
    assert frozen.rows["ddp"]["activations"] < plain.rows["ddp"]["activations"]
    assert plain.rows["ddp"]["logits"] == 10 * 2048 * 128259  # a 128k vocabulary costs GiBs
    assert plain.gpu_bytes == 80 * GiB


def test_the_command_prints_the_plan_and_says_whether_it_fits(capsys):
    argv = ["train", "--plan", "--model", IDEFICS3_8B, "--set", "train.batch_size=1"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "8.46 B parameters" in out and "ddp " in out and "fsdp (sharded)" in out
    assert main([*argv, "--set", "train.adapter=lora", "--gradient-checkpointing"]) == 0
    assert main([*argv, "--gpus", "8", "--gpu-memory", "141GB"]) == 1  # fits under FSDP only
    assert "fsdp (sharded)" in capsys.readouterr().out
    fsdp = ["--gpus", "8", "--gpu-memory", "141GB", "--set", "train.sharding=fsdp"]
    assert main([*argv, *fsdp]) == 0
    assert main(["train", "--plan", "--model", "org/not-cached"]) == 2
    assert "no config.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:  # argparse's own refusal: usage, then the line
        main([*argv, "--gpus", "0"])
    assert refused.value.code == 2
    assert "argument --gpus: 0 is not a positive whole number" in capsys.readouterr().err


def test_a_model_that_is_not_idefics3_style_is_one_line(tmp_path, capsys):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    assert main(["train", "--plan", "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an Idefics3-style model (model_type bert)" in err


@pytest.mark.parametrize("config,model,gpus", [
    ("train-gpu", "HuggingFaceTB/SmolVLM-256M-Instruct", 1),
    ("train-lora", IDEFICS3_8B, 1),
    ("train-fsdp", IDEFICS3_8B, 8),
])  # fmt: skip
def test_the_shipped_gpu_configs_fit_the_gpus_they_name(config, model, gpus, capsys):
    # Each config names its model and GPUs in its header; on 80 GB GPUs it fits as shipped.
    from docgen.core.config import BUILTIN

    header = (BUILTIN / f"{config}.yaml").read_text("utf-8")
    assert model in header and (gpus == 1 or f"--nproc-per-node {gpus}" in header)
    assert main(["train", "--config", config, "--model", model, "--plan", "--gpus", str(gpus)]) == 0
    assert "gradient checkpointing" in capsys.readouterr().out
    if config == "train-fsdp":  # the same run unsharded would not fit
        assert main(["train", "--config", config, "--model", model, "--plan", "--gpus", str(gpus),
                     "--set", "train.sharding=ddp"]) == 1  # fmt: skip
