"""``docgen train``: the training loop, for one device or many (``torchrun``).

AdamW with linear warm-up and cosine decay, gradient accumulation and clipping, bf16 autocast on
GPU. Every ``checkpoint_every`` steps the trainable weights, the optimiser, the schedule, the
random states and the position in the data stream are saved; a rerun with the same OUTPUT
resumes from the newest checkpoint and ends with the same weights as a run never stopped.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from docgen.core.streams import prefetched
from docgen.core.train_config import TrainConfig
from docgen.train import sharding, trackers
from docgen.train.data import Encoder, batches, split_files
from docgen.train.model import load_base, prepare, save_final, trainable_state

CHECKPOINTS = "checkpoints"


def sharding_of(cfg: TrainConfig, world: int = 2) -> str:
    """How a run's state is split: what a resumed run must do alike."""
    return cfg.sharding if world > 1 else "ddp"


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to 1, then cosine decay to ``min_lr_ratio`` at the last step."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, (step - cfg.warmup_steps) / span)))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine


def last_checkpoint(output: Path) -> Path | None:
    found = sorted((output / CHECKPOINTS).glob("step-*/state.pt"))
    return found[-1].parent if found else None


def save_checkpoint(output: Path, step: int, state: dict, keep: int) -> Path:
    """Written to a temporary folder and renamed, so a kill mid-save leaves the last one whole."""
    import torch

    folder = output / CHECKPOINTS / f"step-{step:08d}"
    tmp = folder.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(state, tmp / "state.pt")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    for old in sorted((output / CHECKPOINTS).glob("step-*[0-9]"))[:-keep]:
        shutil.rmtree(old)
    return folder


def distributed():
    """(rank, world size, device), starting the process group under torchrun."""
    import torch

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world, device


def train(data: str, model: str, output: str, cfg: TrainConfig, progress: bool = True) -> dict:
    """Fine-tune ``model`` (``tiny`` or a checkpoint) on the ``cfg.split`` shards of ``data``;
    the result goes to ``output``. Returns the last metrics line."""
    import torch
    from tqdm import tqdm
    from transformers.utils import logging

    logging.disable_progress_bar()  # our own bar is enough
    trackers.check(cfg.report_to)  # before anything slow
    rank, world, device = distributed()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    files = split_files(data, cfg.split)
    processor, net = load_base(model, files, out, cfg) if rank == 0 else (None, None)
    if world > 1:  # the tiny base is built once, by rank 0
        torch.distributed.barrier()
        if rank:
            processor, net = load_base(model, files, out, cfg)
    net = prepare(net, cfg).to(device)
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda")
    step, position = 0, (0, 0)
    torch.manual_seed(cfg.seed + rank)
    ckpt = last_checkpoint(out)
    state = torch.load(ckpt / "state.pt", map_location=device, weights_only=False) if ckpt else None
    if state:  # the weights go in whole, before any sharding
        net.load_state_dict(state["weights"], strict=False)
    sharded = world > 1 and cfg.sharding == "fsdp"
    if sharded:
        sharding.shard(net)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    if state:
        if sharded:
            sharding.load_optimizer(net, opt, state["optimizer"])
        else:
            opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["schedule"])
        torch.set_rng_state(state["rng"]["torch"])
        random.setstate(state["rng"]["python"])
        written = (len(state["positions"]), state.get("sharding", "ddp"))
        if written != (world, sharding_of(cfg, world)):
            raise ValueError(
                f"{ckpt} was written by {written[0]} processes, not {world}"
                + (f" ({written[1]}, not {sharding_of(cfg, world)})" if written[0] == world else "")
                + ": resume the same way, or start a new OUTPUT"
            )
        step, position = state["step"], tuple(state["positions"][rank])
        if rank == 0:
            print(f"resuming from {ckpt} (step {step})")
    encoder = Encoder(processor, cfg.max_length, cfg.max_image_side, cfg.image_splitting)
    stream = prefetched(
        batches(
            files,
            encoder,
            cfg.batching,
            cfg.batch_size,
            cfg.window,
            cfg.seed,
            position,
            rank,
            world,
            cfg.min_ratings,
            cfg.answer_boxes,
        ),
        cfg.prefetch,
    )
    ddp = world > 1 and not sharded
    runner = torch.nn.parallel.DistributedDataParallel(net) if ddp else net
    metrics_path = out / "metrics.jsonl"
    if rank == 0:  # the only writer: two processes rewriting the file at once lost lines
        keep_metrics(metrics_path, step)
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress or rank != 0, unit="step")
    tracked = trackers.Trackers(cfg.report_to if rank == 0 else [], out, asdict(cfg))
    t0, seen, tokens, waited, line = time.perf_counter(), 0, 0, 0.0, {}
    runner.train()
    while step < cfg.steps:
        loss_sum = torch.zeros((), device=device)
        for _ in range(cfg.grad_accum):
            t = time.perf_counter()
            where, batch = next(stream)
            waited += time.perf_counter() - t
            seen += batch.pop("chats")
            tokens += batch.pop("tokens")
            batch = {k: v.to(device) for k, v in batch.items()}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = runner(**batch, use_cache=False).loss / cfg.grad_accum
            loss.backward()
            loss_sum += loss.detach()
        if world > 1:  # the logged loss is the mean over processes
            torch.distributed.all_reduce(loss_sum, op=torch.distributed.ReduceOp.AVG)
        loss_sum = loss_sum.item()
        grad_norm = sharding.norm_value(torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm))
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        position = (where[0], where[1] + 1)
        elapsed = time.perf_counter() - t0
        line = {
            "step": step,
            "loss": round(loss_sum, 6),
            "lr": sched.get_last_lr()[0],
            "grad_norm": round(grad_norm, 6),
            "chats": seen * world,  # since this process started (a resume starts again)
            "tokens": tokens * world,
            "elapsed_s": round(elapsed, 3),
            "data_wait_s": round(waited, 3),  # time the model waited for batches
            "chats_per_s": round(seen * world / elapsed, 3),
            "tokens_per_s": round(tokens * world / elapsed, 1),
        }
        if device.type == "cuda":
            line["peak_gpu_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
        bar.set_postfix(loss=f"{loss_sum:.3f}", chats_s=f"{line['chats_per_s']:.1f}")
        bar.update()
        if rank == 0 and (step % cfg.log_every == 0 or step == cfg.steps):
            with metrics_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")
            tracked.log(line)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            positions = [position]  # where each process is in its share of the stream
            if world > 1:
                positions = [None] * world
                torch.distributed.all_gather_object(positions, position)
            if sharded:  # every process hands over its shard
                weights, optimizer = sharding.full_state(net, opt)
            elif rank == 0:
                weights, optimizer = trainable_state(net), opt.state_dict()
        if rank == 0 and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
            state = {
                "step": step,
                "positions": positions,
                "sharding": sharding_of(cfg, world),
                "weights": weights,
                "optimizer": optimizer,
                "schedule": sched.state_dict(),
                "rng": {"torch": torch.get_rng_state(), "python": random.getstate()},
            }
            save_checkpoint(out, step, state, cfg.keep_checkpoints)
    bar.close()
    tracked.close()
    stream.close()  # stops the prefetching thread
    if sharded:  # gathered whole, into an unsharded copy of the model that rank 0 saves
        whole = sharding.full_weights(net)
        if rank == 0:
            net = prepare(load_base(model, files, out, cfg)[1], cfg)
            net.load_state_dict(whole)
    if rank == 0:
        info = {
            "data": str(data),
            "model": str(out / "base") if model == "tiny" else model,
            "train": asdict(cfg),
        }
        save_final(net, processor, out, cfg, info)
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return line


def keep_metrics(path: Path, step: int) -> None:
    """A resumed run rewrites the metrics past its checkpoint, so each step is logged once."""
    if not path.exists():
        return
    lines = path.read_text("utf-8").splitlines()
    kept = [x for x in lines if x.strip() and json.loads(x)["step"] <= step]
    path.write_text("".join(x + "\n" for x in kept), "utf-8")
