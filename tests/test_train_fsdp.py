# ruff: noqa: F811 - the fixtures come from test_train
"""`train.sharding: fsdp` with two real processes on CPU (torchrun, gloo): parameters, gradients
and optimizer state split between them; the same training as DDP and, within tolerance, as one
process; a resumed run ends with the same weights; gradient checkpointing changes nothing."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from test_train import base, fresh, shards, weights  # noqa: E402, F401

SETS = ["train.checkpoint_every=2", "train.log_every=1", "train.batching=pad", "train.lr=0.003",
        "train.warmup_steps=1"]  # fmt: skip
ARGS = ["--quiet", "--steps", "4", *(x for s in SETS for x in ("--set", s))]


def train(shards, out: Path, processes: int, *sets: str) -> subprocess.CompletedProcess:
    launcher = [str(Path(sys.executable).with_name("torchrun")), "--nproc-per-node", str(processes)]
    cmd = [*(launcher if processes > 1 else [sys.executable]), "-m", "docgen.cli", "train",
           "--data", str(shards), "--model", "tiny", "--output", str(out), *ARGS,
           *(x for s in sets for x in ("--set", s))]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, (done.returncode, done.stdout[-500:], done.stderr[-3000:])
    return done


def losses(out: Path) -> list[float]:
    return [json.loads(x)["loss"] for x in (out / "metrics.jsonl").read_text().splitlines()]


def test_fsdp_trains_like_ddp_and_one_process_and_resumes_exactly(shards, base, tmp_path):
    runs = {}
    for name, processes, sets in [
        ("fsdp", 2, ["train.batch_size=2", "train.sharding=fsdp"]),
        ("ddp", 2, ["train.batch_size=2"]),
        ("single", 1, ["train.batch_size=4"]),  # the same four chats a step
        ("fsdp-ckpt", 2, ["train.batch_size=2", "train.sharding=fsdp",
                          "train.gradient_checkpointing=true"]),
    ]:  # fmt: skip
        out = fresh(base, tmp_path / name)
        train(shards, out, processes, *sets)
        runs[name] = (losses(out), weights(out))
    fsdp, ddp, single, ckpt = (runs[n] for n in ("fsdp", "ddp", "single", "fsdp-ckpt"))
    assert len(fsdp[0]) == 4 and fsdp[0][-1] < fsdp[0][0]  # it trains
    state = torch.load(tmp_path / "fsdp/checkpoints/step-00000002/state.pt", weights_only=False)
    assert state["sharding"] == "fsdp" and len(state["positions"]) == 2
    assert set(state["weights"]) == set(weights(tmp_path / "fsdp"))  # whole, not one shard
    # The same arithmetic as DDP (summed in another order); one process: the mean over the two
    # processes' means instead of over all the step's tokens.
    assert fsdp[0] == pytest.approx(ddp[0], rel=1e-5)
    assert all(torch.allclose(fsdp[1][k], ddp[1][k], atol=1e-4) for k in fsdp[1])
    assert fsdp[0] == pytest.approx(single[0], rel=0.01)
    assert ckpt[0] == pytest.approx(fsdp[0], rel=1e-5)

    # Stopped after step 2 (its later checkpoint and the model gone): the rerun resumes there
    # and ends with the very weights of the run never stopped.
    stopped = tmp_path / "stopped"
    shutil.copytree(tmp_path / "fsdp", stopped)
    shutil.rmtree(stopped / "checkpoints/step-00000004")
    (stopped / "model.safetensors").unlink()
    again = train(shards, stopped, 2, "train.batch_size=2", "train.sharding=fsdp")
    assert "resuming from" in again.stdout
    resumed = weights(stopped)
    assert all(torch.equal(resumed[k], fsdp[1][k]) for k in resumed)

    # A checkpoint resumes only the way it was written.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = [str(Path(sys.executable).with_name("torchrun")), "--nproc-per-node", "2"]
    (stopped / "model.safetensors").unlink()
    shutil.rmtree(stopped / "checkpoints/step-00000004")
    ddp_resume = subprocess.run(
        [*launcher, "-m", "docgen.cli", "train", "--data", str(shards), "--model", "tiny",
         "--output", str(stopped), *ARGS, "--set", "train.batch_size=2"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert ddp_resume.returncode != 0 and "(fsdp, not ddp)" in ddp_resume.stderr
