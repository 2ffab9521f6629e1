# ruff: noqa: F811 - the fixtures come from test_push and test_train
"""`docgen train|eval --push-to-hub`: the model, its processor and a card with the dataset and the
scores, through the real huggingface_hub client intercepted at the HfApi boundary."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from test_push import hub  # noqa: E402, F401 - the recording Hub
from test_train import base, fresh, shards  # noqa: E402, F401 - shards and a tiny base

from docgen.cli import main  # noqa: E402


def test_the_trained_model_goes_up_with_a_card_and_eval_adds_its_scores(  # noqa: F811
    shards,
    base,
    hub,
    tmp_path,
    capsys,  # noqa: F811
):
    out = fresh(base, tmp_path / "model")
    args = ["--data", str(shards), "--model", "tiny", "--output", str(out), "--quiet"]
    sets = ["--set", "train.batch_size=2", "--set", "train.checkpoint_every=1"]
    assert main(["train", *args, "--steps", "2", *sets, "--push-to-hub", "me/docvlm"]) == 0
    assert "pushed to the Hub: me/docvlm" in capsys.readouterr().out
    assert ("create_repo", "me/docvlm", "model", False, True) in hub.calls
    files = set(hub.files)
    assert {"model.safetensors", "config.json", "README.md", "train_config.json"} <= files
    assert any(f.startswith("tokenizer") for f in files)
    assert not any(f.startswith(("checkpoints/", "base/")) or f.endswith(".jsonl") for f in files)
    card = hub.files["README.md"].decode()
    lines = (shards / "README.md").read_text().splitlines()
    name = next(ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("pretty_name:"))
    assert "pipeline_tag: image-text-to-text" in card and f"on **{name}**" in card
    assert "2 steps of 2 sequences" in card and "Evaluation" not in card

    evaluate = ["eval", "--data", str(shards), "--model", str(out), "--limit", "4", "--quiet"]
    assert main([*evaluate, "--push-to-hub", "me/docvlm"]) == 0
    card = hub.files["README.md"].decode()
    assert "## Evaluation" in card and "| test | all | 4 |" in card
    assert "eval-test.json" in hub.files and (out / "README.md").read_text() == card

    assert main([*evaluate, "--push-to-hub", "not-a-repo"]) == 2
    assert "USER/NAME" in capsys.readouterr().err
