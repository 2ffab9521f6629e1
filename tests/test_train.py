"""The bundled trainer on shards made from the sample corpus: tiny Idefics3, masking, packing,
exact resume, adapters, ANLS and `docgen eval` — all on a CPU, offline."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from safetensors.torch import load_file  # noqa: E402

from docgen.core.train_config import EvalConfig, TrainConfig  # noqa: E402
from docgen.train import loop  # noqa: E402
from docgen.train.anls import anls, exact_match  # noqa: E402
from docgen.train.data import IGNORE, Encoder, pack_batch, pad_batch, row_stream, split_files  # noqa: E402


@pytest.fixture(scope="module")
def shards(train_shards) -> Path:
    return train_shards  # made once for every trainer test module (conftest)


def small(**kw) -> TrainConfig:
    base = TrainConfig(
        steps=8,
        batch_size=4,
        lr=3e-3,
        warmup_steps=2,
        checkpoint_every=4,
        log_every=1,
        max_length=1024,
        window=8,
    )
    return replace(base, **kw)


@pytest.fixture(scope="module")
def base(tiny_base) -> Path:
    return tiny_base  # built once for every trainer test module (conftest)


def fresh(base: Path, folder: Path) -> Path:
    shutil.copytree(base, folder / "base")
    return folder


def weights(folder: Path) -> dict:
    return load_file(folder / "model.safetensors")


def test_anls_on_known_pairs():
    assert anls("Paris", ["paris"]) == 1.0  # case and spaces do not count
    assert anls("  New   York ", ["new york"]) == 1.0
    assert anls("Pariss", ["Paris"]) == pytest.approx(1 - 1 / 6)  # near: one edit in six
    assert anls("London", ["Paris"]) == 0.0  # far: NL >= 0.5 scores nothing
    assert anls("abcd", ["abef"]) == 0.0  # NL exactly 0.5 is not < 0.5
    assert anls("1,671.67", ["1671.67", "1,671.67"]) == 1.0  # best of several gold answers
    assert anls("12 March", ["12 Mar", "March 12"]) == pytest.approx(1 - 2 / 8)
    assert anls("", [""]) == 1.0 and anls("", ["x"]) == 0.0 and anls("x", []) == 0.0
    assert exact_match(" PARIS ", ["paris"]) == 1.0 and exact_match("Pari", ["Paris"]) == 0.0


def test_tiny_processor_is_idefics3s_own(shards, base):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(base)
    tok = processor.tokenizer
    needed = ["<image>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>"]
    needed += [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    ids = tok.convert_tokens_to_ids(needed)
    assert len(set(ids)) == len(needed) and tok.unk_token_id not in ids
    assert all(len(tok(t, add_special_tokens=False)["input_ids"]) == 1 for t in needed)
    row = next(row_stream(split_files(shards, "train"), seed=0))
    enc = Encoder(processor, max_length=4096)
    from docgen.train.data import open_images

    images = open_images(row)
    question = row["texts"][0]["user"]
    theirs = processor(
        text=["User:" + "<image>" * len(images) + question], images=[images], return_tensors="pt"
    )
    pixels, image_text = enc.images(images)
    assert enc.ids("User:" + image_text + question) == theirs["input_ids"][0].tolist()
    assert torch.equal(pixels, theirs["pixel_values"][0])
    assert image_text.count("<image>") == processor.image_seq_len * pixels.shape[0]


def test_loss_falls_on_answer_tokens_only(shards, base):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(base)
    enc = Encoder(processor, max_length=4096)
    row = next(row_stream(split_files(shards, "train"), seed=1))
    chat = enc.chat(row)
    labelled = [t for t in chat.labels if t != IGNORE]
    answers = "".join(f" {t['assistant'].strip()}<end_of_utterance>" for t in row["texts"])
    assert processor.tokenizer.decode(labelled) == answers
    spans = sum(1 for a, b in zip([IGNORE] + chat.labels, chat.labels) if a == IGNORE != b)
    assert spans == len(row["texts"])
    for t, label in zip(chat.input_ids, chat.labels):
        assert label in (IGNORE, t)
    short = Encoder(processor, max_length=len(chat) - 1).chat(row)  # the last turn no longer fits
    assert short is not None and len(short) < len(chat) and short.labels[-1] != IGNORE


def test_packed_chats_do_not_see_each_other(shards, base):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(base)
    model = AutoModelForImageTextToText.from_pretrained(base).eval()
    enc = Encoder(processor, max_length=4096)
    rows = row_stream(split_files(shards, "train"), seed=2)
    a, b = enc.chat(next(rows)), enc.chat(next(rows))
    pad_id = processor.tokenizer.pad_token_id

    def logits(batch):
        batch = {k: v for k, v in batch.items() if k not in ("chats", "tokens")}
        with torch.no_grad():
            return model(**batch, use_cache=False).logits[0]  # a cache turns packing off

    alone = logits(pad_batch([b], pad_id))
    packed = logits(pack_batch([[a, b]], pad_id))
    assert torch.allclose(packed[len(a) : len(a) + len(b)], alone, atol=1e-4)


def test_tiny_model_learns_and_eval_scores_it(shards, base, tmp_path):
    from docgen.train.evaluate import evaluate

    out = fresh(base, tmp_path / "m")
    loop.train(
        str(shards), "tiny", str(out), small(steps=40, batching="pack", window=16), progress=False
    )
    losses = [json.loads(x)["loss"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 40
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first - 1.0, (first, last)  # from ~ln(1024) = 6.9 down by well over a nat
    report = evaluate(str(shards), str(out), EvalConfig(limit=12), progress=False)
    assert report["questions"] == 12 and 0.0 <= report["anls"] <= 1.0
    assert sum(r["questions"] for r in report["per_language"].values()) == 12
    assert sum(r["questions"] for r in report["per_answer_type"].values()) == 12
    lines = [json.loads(x) for x in Path(report["predictions"]).read_text("utf-8").splitlines()]
    assert len(lines) == 12 and all(r["answers"] and "prediction" in r for r in lines)
    assert all(r["anls"] == anls(r["prediction"], r["answers"]) for r in lines)
    # The typed match is never below the exact match: an answer said the same way is its type.
    assert all(r["typed_match"] >= r["exact_match"] for r in lines)
    # batching the prompts (left padding) changes no answer
    one = evaluate(
        str(shards),
        str(out),
        EvalConfig(limit=12, batch_size=1),
        out=str(tmp_path / "one.jsonl"),
        progress=False,
    )
    solo = [json.loads(x)["prediction"] for x in Path(one["predictions"]).read_text().splitlines()]
    assert solo == [r["prediction"] for r in lines]


class Stop(Exception):
    pass


@pytest.mark.parametrize(
    "batching,adapter", [("pad", "none"), ("bucket", "lora"), ("pack", "dora")]
)
def test_resumed_run_ends_with_the_same_weights(
    shards, base, tmp_path, monkeypatch, batching, adapter
):
    cfg = small(batching=batching, adapter=adapter)
    whole = fresh(base, tmp_path / "whole")
    loop.train(str(shards), "tiny", str(whole), cfg, progress=False)

    broken = fresh(base, tmp_path / "broken")
    save = loop.save_checkpoint

    def save_then_die(*args, **kwargs):
        save(*args, **kwargs)
        raise Stop  # the run is killed right after its first checkpoint (step 4 of 8)

    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)
    with pytest.raises(Stop):
        loop.train(str(shards), "tiny", str(broken), cfg, progress=False)
    assert not (broken / "model.safetensors").exists()
    monkeypatch.setattr(loop, "save_checkpoint", save)
    loop.train(str(shards), "tiny", str(broken), cfg, progress=False)

    a, b = weights(whole), weights(broken)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    steps = [json.loads(x)["step"] for x in (broken / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))  # each step logged once


def test_gradient_checkpointing_gives_the_same_training(shards, base, tmp_path):
    """Activations recomputed in the backward pass: the same losses and weights (fp32, CPU)."""
    runs = {}
    for on in (False, True):
        out = fresh(base, tmp_path / f"ckpt-{on}")
        loop.train(str(shards), "tiny", str(out), small(steps=4, gradient_checkpointing=on),
                   progress=False)  # fmt: skip
        lines = (out / "metrics.jsonl").read_text().splitlines()
        runs[on] = ([json.loads(x)["loss"] for x in lines], weights(out))
    (plain, a), (recomputed, b) = runs[False], runs[True]
    assert len(plain) == 4 and plain == pytest.approx(recomputed, rel=1e-5)
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_freezing_and_adapters_touch_only_their_parts(shards, base, tmp_path):
    start = weights(base)

    def changed(out):
        w = weights(out)
        return {k for k in start if not torch.equal(start[k], w[k])}

    frozen = fresh(base, tmp_path / "frozen")
    loop.train(str(shards), "tiny", str(frozen), small(steps=2, freeze_vision=True), progress=False)
    moved = changed(frozen)
    assert moved and not any("vision_model" in k for k in moved)
    assert any("text_model" in k for k in moved) and any("connector" in k for k in moved)

    lora = fresh(base, tmp_path / "lora")
    loop.train(
        str(shards),
        "tiny",
        str(lora),
        small(steps=2, adapter="lora", freeze_vision=True),
        progress=False,
    )
    moved = changed(lora)
    assert any("q_proj" in k for k in moved) and any("connector" in k for k in moved)
    assert not any("mlp" in k or "vision_model" in k or "embed" in k for k in moved)
    assert set(weights(lora)) == set(start)  # adapters merged: a plain Idefics3 checkpoint


def test_cli_train_then_eval(shards, base, tmp_path, capsys):
    from docgen.cli import main

    out = fresh(base, tmp_path / "cli")
    args = ["--data", str(shards), "--model", "tiny", "--output", str(out), "--quiet"]
    sets = ["--set", "train.batch_size=2", "--set", "train.checkpoint_every=2"]
    assert main(["train", *args, "--steps", "3", *sets]) == 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "step-00000002",
        "step-00000003",
    ]
    assert (
        main(["eval", "--data", str(shards), "--model", str(out), "--limit", "4", "--quiet"]) == 0
    )
    printed = capsys.readouterr().out
    assert "ANLS" in printed and (out / "eval-test.json").exists()
    assert main(["eval", "--data", str(shards), "--model", str(out), "--split", "validation"]) == 2
    assert "no 'validation' shards" in capsys.readouterr().err
    # a checkpoint folder as --model (the trained one), fine-tuned further with LoRA
    again = tmp_path / "again"
    args = ["--data", str(shards), "--model", str(out), "--output", str(again), "--quiet"]
    assert main(["train", *args, "--steps", "2", *sets, "--set", "train.adapter=lora"]) == 0
    assert (again / "model.safetensors").exists() and not (again / "base").exists()
    assert json.loads((again / "train_config.json").read_text())["model"] == str(out)
    assert main(["train", *args[:2], "--model", str(tmp_path / "nowhere"), *args[4:]]) == 2
    assert "not 'tiny', a folder or a Hub id" in capsys.readouterr().err


@pytest.mark.gpu
def test_bf16_training_on_a_gpu(shards, base, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    out = fresh(base, tmp_path / "gpu")
    line = loop.train(str(shards), "tiny", str(out), small(steps=4), progress=False)
    assert line["step"] == 4 and line["loss"] > 0


def test_torchrun_two_processes_train_checkpoint_and_resume(shards, base, tmp_path):
    import subprocess
    import sys

    out = fresh(base, tmp_path / "ddp")
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--nproc-per-node", "2", "-m", "docgen.cli", "train", "--data",
           str(shards), "--model", "tiny", "--output", str(out), "--quiet",
           "--set", "train.batch_size=2", "--set", "train.checkpoint_every=2",
           "--set", "train.batching=bucket", "--set", "train.window=8"]  # fmt: skip
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([*cmd, "--steps", "2"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("trained 2 steps") == 1  # one line for both processes
    state = torch.load(out / "checkpoints/step-00000002/state.pt", weights_only=False)
    assert len(state["positions"]) == 2 and state["positions"][0] != state["positions"][1]
    run = subprocess.run([*cmd, "--steps", "4"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "resuming from" in run.stdout and (out / "model.safetensors").exists()
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4]  # log_every 10: the last step of each run
    single = subprocess.run(
        [sys.executable, "-m", "docgen.cli", "train", "--data", str(shards), "--model", "tiny",
         "--output", str(out), "--quiet", "--steps", "6"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert single.returncode == 2 and "written by 2 processes, not 1" in single.stderr
