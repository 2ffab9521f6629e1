"""The trainer on a GPU: chats per second and peak memory of a SmolVLM-256M-sized Idefics3,
initialised at random, trained in bf16, with padded batches against packed and length-bucketed
ones — the same `docgen train` loop users run, measured side by side in one process.

The model has SmolVLM-256M's shape (SigLIP-B/16 at 512 px, 12 layers; pixel shuffle x4, 64
tokens a tile; a 30-layer SmolLM2-135M language model with 49,280 embeddings); only the weights
are random. Its tokenizer is trained on the data, as for ``--model tiny``.

On a machine with docgen installed, shards are made from the sample corpus first::

    .venv/bin/python bench/train_gpu.py --prepare bench/train-data   # samples -> shards (CPU)
    python bench/train_gpu.py --data bench/train-data                # on the GPU machine

The GPU machine needs only torch, transformers, pyarrow, Pillow and PyYAML (run it from the
repository root with ``PYTHONPATH=.``). ``--size tiny`` runs the same comparison with the tiny
CPU model (a check that the script works, not the benchmark).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docgen.core.train_config import TinyModelConfig, TrainConfig  # noqa: E402

SMOLVLM_256M = TinyModelConfig(
    vocab_size=8192,  # the BPE trained on the data; embeddings are sized as SmolVLM's below
    model_vocab_size=49280,
    hidden_size=576,
    intermediate_size=1536,
    layers=30,
    heads=9,
    kv_heads=3,
    tie_embeddings=True,
    max_positions=16384,
    vision_hidden_size=768,
    vision_intermediate_size=3072,
    vision_layers=12,
    vision_heads=12,
    image_size=512,
    patch_size=16,
    scale_factor=4,
    max_tiles_per_side=4,
)


def prepare(folder: Path, docs: int) -> None:
    """Sample PDFs through the default pipeline into shards (needs docgen's full install)."""
    from docgen.core.config import load_config
    from docgen.run.pipeline import run_pipeline
    from docgen.samples import make_corpus

    work = Path(tempfile.mkdtemp(prefix="docgen-train-bench-"))
    make_corpus(work / "pdfs", n=docs, progress=False)
    cfg = load_config(
        "default",
        [f"input={work / 'pdfs'}", f"work={work / 'work'}", f"out={folder}", "run.progress=false"],
    )
    run_pipeline(cfg)
    shutil.rmtree(work)
    print(f"shards in {folder}/data")


def run_config(cfg: TrainConfig, mode: str) -> TrainConfig:
    """``pad``, ``pack``, ``bucket``, each optionally ``+ckpt`` (gradient checkpointing) and
    ``+fsdp`` (every GPU of the machine, or two CPU processes, under torchrun with FSDP)."""
    batching, *extras = mode.split("+")
    return replace(cfg, batching=batching, gradient_checkpointing="ckpt" in extras,
                   sharding="fsdp" if "fsdp" in extras else "ddp")  # fmt: skip


def launch(data: str, out: Path, cfg: TrainConfig) -> int:
    """The run under torchrun, one process per GPU (two on a CPU): what users launch. Returns
    the process count."""
    import torch

    procs = max(2, torch.cuda.device_count())
    settings = [f"train.{k}={json.dumps(v)}" for k, v in asdict(cfg).items()
                if k != "tiny" and v is not None]  # fmt: skip
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={procs}", "-m", "docgen.cli", "train", "--data", data,
            "--model", "tiny", "--output", str(out), "--quiet"]  # fmt: skip
    for setting in settings:
        argv += ["--set", setting]
    subprocess.run(argv, check=True, cwd=Path(__file__).resolve().parents[1])
    return procs


def measure(data: str, base: Path, mode: str, cfg: TrainConfig, warmup: int) -> dict:
    """One training run from the shared base; throughput over the steps after ``warmup``."""
    import torch

    from docgen.train.loop import train

    out = Path(tempfile.mkdtemp(prefix=f"bench-{mode}-"))
    shutil.copytree(base, out / "base")
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    run = run_config(cfg, mode)
    procs = launch(data, out, run) if run.sharding == "fsdp" else 1
    if procs == 1:
        train(data, "tiny", str(out), run, progress=False)
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    shutil.rmtree(out)
    a, b = lines[warmup - 1], lines[-1]
    span = b["elapsed_s"] - a["elapsed_s"]
    return {
        "mode": mode,
        "procs": procs,  # chats/s are of all processes together
        "chats_per_s": (b["chats"] - a["chats"]) / span,
        "tokens_per_s": (b["tokens"] - a["tokens"]) / span,
        "data_wait_share": (b["data_wait_s"] - a["data_wait_s"]) / span,
        "peak_gpu_gb": b.get("peak_gpu_gb"),
        "final_loss": b["loss"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--prepare", metavar="DIR", help="make shards from the sample corpus and stop")
    p.add_argument("--docs", type=int, default=96, help="sample documents for --prepare")
    p.add_argument("--data", default="bench/train-data", help="shards (output of docgen shard)")
    p.add_argument("--size", choices=["smolvlm-256m", "tiny"], default="smolvlm-256m")
    p.add_argument("--modes", default="pad,pack,bucket,pack+ckpt,pack+ckpt+fsdp")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=10, help="steps left out of the timing")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-length", type=int, default=8192)
    p.add_argument("--max-image-side", type=int, help="pages resized to this longest side")
    args = p.parse_args()
    if args.prepare:
        return prepare(Path(args.prepare), args.docs)

    import torch

    from docgen.train.data import split_files
    from docgen.train.model import load_base

    tiny = SMOLVLM_256M if args.size == "smolvlm-256m" else TinyModelConfig()
    cfg = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=1e-4,
        warmup_steps=5,
        max_length=args.max_length,
        max_image_side=args.max_image_side,
        precision="bf16" if torch.cuda.is_available() else "fp32",
        checkpoint_every=10**9,
        keep_checkpoints=1,
        log_every=1,
        tiny=tiny,
    )
    root = Path(tempfile.mkdtemp(prefix="bench-base-"))
    t = time.perf_counter()
    _, net = load_base("tiny", split_files(args.data, "train"), root, cfg)
    params = sum(p.numel() for p in net.parameters())
    del net
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor()
    print(f"device: {device}; torch {torch.__version__}")
    print(
        f"model: {args.size}, {params / 1e6:.1f}M parameters, "
        f"built in {time.perf_counter() - t:.0f} s"
    )
    print(
        f"{args.steps} steps of {args.batch_size} sequences (max_length {args.max_length}), "
        f"timed after {args.warmup}; precision {cfg.precision}"
    )
    rows = [measure(args.data, root / "base", m, cfg, args.warmup) for m in args.modes.split(",")]
    from docgen.train.plan import plan

    for r in rows:  # what `docgen train --plan` predicts for the same run, beside the measure
        run = run_config(cfg, r["mode"])
        predicted = plan(str(root / "base"), run, gpus=r["procs"])
        r["plan_gb"] = sum(predicted.rows[run.sharding].values()) / 2**30
    shutil.rmtree(root)
    pad = next((r for r in rows if r["mode"] == "pad"), rows[0])
    print(
        f"{'batching':18} {'chats/s':>9} {'vs pad':>7} {'tokens/s':>10} {'data wait':>10} "
        f"{'peak GB':>8} {'plan GB':>8} {'loss':>7}"
    )
    for r in rows:
        peak = f"{r['peak_gpu_gb']:.2f}" if r["peak_gpu_gb"] is not None else "-"
        label = r["mode"] + (f" x{r['procs']}" if r["procs"] > 1 else "")
        print(
            f"{label:18} {r['chats_per_s']:9.2f} {r['chats_per_s'] / pad['chats_per_s']:6.2f}x "
            f"{r['tokens_per_s']:10.0f} {r['data_wait_share']:9.0%} {peak:>8} "
            f"{r['plan_gb']:8.2f} {r['final_loss']:7.3f}"
        )


if __name__ == "__main__":
    main()
