# ruff: noqa: F811 - the fixtures come from test_train
"""``train.report_to``: the metrics the trainer logs reach real TensorBoard event files and a real
Weights & Biases run (offline: on disk, no network), step for step; a tracker that is not
installed is one line before training."""

import json

import pytest
from test_train import base, fresh, shards, small  # noqa: F401

from docgen.train import loop, trackers


def test_metrics_reach_tensorboard_and_wandb(shards, base, tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = fresh(base, tmp_path / "m")
    loop.train(str(shards), "tiny", str(out),
               small(steps=4, report_to=["tensorboard", "wandb"]), progress=False)  # fmt: skip
    logged = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in logged] == [1, 2, 3, 4]

    events = EventAccumulator(str(out / "runs"))
    events.Reload()
    for key in ("loss", "lr", "grad_norm", "tokens_per_s"):
        points = events.Scalars(f"train/{key}")
        assert [p.step for p in points] == [1, 2, 3, 4]
        assert [p.value for p in points] == pytest.approx([x[key] for x in logged], rel=1e-6)

    # wandb's offline run: one binary log of protobuf records for `wandb sync` (no reader ships
    # in its Python package), each history value stored as its JSON text beside its key.
    (run,) = (out / "wandb").glob("offline-run-*/*.wandb")
    records = run.read_bytes()
    assert records.count(b"train/loss") >= 4 and b"train/grad_norm" in records
    assert all(json.dumps(x["loss"]).encode() in records for x in logged)
    assert b"report_to" in records and b"batching" in records  # the run's settings travel with it


def test_a_tracker_not_installed_is_one_line(monkeypatch):
    monkeypatch.setitem(trackers.TRACKERS, "wandb", "not_a_module_here")
    with pytest.raises(ValueError, match="train.report_to: wandb is not installed"):
        trackers.check(["tensorboard", "wandb"])


def test_wandb_without_a_login_is_one_line(tmp_path, monkeypatch):
    # Real wandb, online, no API key anywhere: it refuses; the run stops with one line.
    import wandb

    wandb.teardown()  # its process-wide settings (an earlier test's offline mode) start afresh
    for name in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    with pytest.raises(ValueError, match="wandb could not start a run"):
        trackers.Trackers(["tensorboard", "wandb"], tmp_path, {"steps": 1})
