"""``docgen eval`` through vLLM's offline engine against transformers, side by side in one run:
the same model, the same questions, greedy decoding in the same precision.

Shards are made from the sample corpus (``--docs`` documents, the ``train`` config: per-row
languages and kinds); a tiny Idefics3 with heads of 64 (what vLLM's CPU attention takes) answers,
untrained by default so that every answer runs to ``--max-new-tokens`` (a few dozen tokens, as
real answers; trained a few steps, it learns to end every answer at once).
Every question of the shards (both splits) is answered by each engine. Printed: questions per
second answering, the engine's start-up apart (vLLM's is large and paid once per run), the
share of answers that agree, and the ANLS of each.

    .venv/bin/python bench/eval_engines.py --vllm-python .venv-vllm/bin/python   # make bench-eval

On the CPU this measures the machinery with a toy model; the figure that matters (a real 8B
model on a GPU, where vLLM's batching pays) needs a GPU: the same command with ``--model DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# vLLM's CPU build: no Hub, a small KV cache (the engine process inherits these).
VLLM_ENV = {"HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_LOGGING_LEVEL": "WARNING"}


def shards(folder: Path, docs: int) -> None:
    from docgen.core.config import load_config
    from docgen.run.pipeline import run_pipeline
    from docgen.samples import make_corpus

    work = Path(tempfile.mkdtemp(prefix="docgen-eval-bench-"))
    make_corpus(work / "pdfs", n=docs, progress=False)
    overrides = [f"input={work / 'pdfs'}", f"work={work / 'work'}", f"out={folder}",
                 "run.progress=false", "shard.test_fraction=0.5"]  # fmt: skip
    run_pipeline(load_config("train", overrides))
    shutil.rmtree(work)


def tiny_model(data: Path, out: Path, steps: int) -> Path:
    """The tiny model, trained ``steps`` steps (0: as initialised); returns its folder."""
    from docgen.core.train_config import TinyModelConfig, TrainConfig
    from docgen.train import loop
    from docgen.train.data import split_files
    from docgen.train.model import load_base

    tiny = TinyModelConfig(hidden_size=128, heads=2, vision_hidden_size=128, vision_heads=2)
    every = max(1, steps)
    cfg = replace(TrainConfig(), steps=every, batch_size=4, lr=3e-3, warmup_steps=2,
                  checkpoint_every=every, batching="pack", max_length=1024, tiny=tiny)  # fmt: skip
    if not steps:
        load_base("tiny", split_files(data, "train"), out, cfg)
        return out / "base"
    loop.train(str(data), "tiny", str(out), cfg, progress=False)
    return out


def timed(data: Path, model: Path, cfg, out: Path) -> tuple[dict, float]:
    from docgen.train.evaluate import evaluate

    start = time.perf_counter()
    report = evaluate(str(data), str(model), cfg, out=str(out), progress=False)
    return report, time.perf_counter() - start


def engine_start(model: Path, cfg) -> float:
    """Seconds to start vLLM's engine on ``model`` and stop it, alone."""
    from transformers import AutoProcessor

    from docgen.train.vllm_answers import VLLMAnswers

    start = time.perf_counter()
    VLLMAnswers(str(model), AutoProcessor.from_pretrained(model), cfg, 4).close()
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vllm-python", default=str(ROOT / ".venv-vllm" / "bin" / "python"))
    p.add_argument("--model", help="a model folder (default: the tiny one, trained here)")
    p.add_argument("--docs", type=int, default=48, help="sample documents for the shards")
    p.add_argument("--steps", type=int, default=0,
                   help="training steps of the tiny model (0: untrained, so that every answer "
                   "runs to --max-new-tokens; trained, it learns to stop at once)")  # fmt: skip
    p.add_argument("--max-new-tokens", type=int, default=32)
    args = p.parse_args()
    os.environ.update(VLLM_ENV)
    from docgen.core.train_config import EvalConfig

    root = Path(tempfile.mkdtemp(prefix="docgen-eval-engines-"))
    shards(root / "data", args.docs)
    model = Path(args.model) if args.model else tiny_model(root / "data", root / "m", args.steps)
    positions = 4096
    engine_args = {"enable_chunked_prefill": False, "max_num_batched_tokens": positions,
                   "max_model_len": positions}  # fmt: skip
    rows = []
    for split in ("test", "train"):
        hf_cfg = EvalConfig(split=split, engine="transformers", max_new_tokens=args.max_new_tokens)
        vl_cfg = replace(hf_cfg, engine="vllm", engine_python=args.vllm_python,
                         engine_args=engine_args)  # fmt: skip
        hf, hf_s = timed(root / "data", model, hf_cfg, root / f"hf-{split}.jsonl")
        vl, vl_s = timed(root / "data", model, vl_cfg, root / f"vllm-{split}.jsonl")
        same = sum(
            json.loads(a)["prediction"] == json.loads(b)["prediction"]
            for a, b in zip(open(root / f"hf-{split}.jsonl"), open(root / f"vllm-{split}.jsonl"))
        )
        rows.append((split, hf, hf_s, vl, vl_s, same))
    start = engine_start(model, replace(vl_cfg, engine_args=engine_args))
    print(f"vLLM engine start-up and shut-down alone: {start:.1f} s")
    header = ("split", "questions", "hf q/s", "vLLM q/s", "w/o start", "speed-up", "same",
              "ANLS hf", "ANLS vLLM")  # fmt: skip
    print(" ".join(f"{h:>10}" for h in header))
    for split, hf, hf_s, vl, vl_s, same in rows:
        n = hf["questions"]
        answering = max(vl_s - start, 1e-9)
        cells = (split, n, f"{n / hf_s:.2f}", f"{n / vl_s:.2f}", f"{n / answering:.2f}",
                 f"{hf_s / answering:.2f}x", f"{same / n:.1%}", hf["anls"], vl["anls"])  # fmt: skip
        print(" ".join(f"{c:>10}" for c in cells))
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
