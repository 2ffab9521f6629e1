"""``docgen plan``: what a run will cost, from a sample of its inputs run for real.

The inputs are listed by size and a seeded share of each band of size drawn
(:mod:`docgen.run.plan_inputs`). The sample is then run the way the run would: with the
model-free ``rules`` backend the whole pipeline (extract, generate, filter, shard); with a
model's backend, extraction, then the generation chats built exactly as the generate stage
builds them (chunking, triage, images as configured) and their prompt tokens counted as the
model counts them (:mod:`docgen.run.plan_tokens`) — nothing sent, unless ``measure``: then the
sample runs whole with the model, and its throughput, completion tokens and pairs kept are
measured. Each figure is projected to the whole input band by band (a band's documents times
its sample's mean: stratified sampling), with the spread of that projection (two standard
errors).

What is assumed, not measured, is said: without ``measure`` a model's completion tokens are the
pairs asked times ``PAIR_TOKENS`` (a JSON question–answer pair of a Docmatix-like length) and
its pairs kept are not known; the page labeller (``generate.triage_model``) is not run, so the
pages it would skip are counted as asked. GPU hours come from ``--throughput`` or the measured
throughput.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from docgen.core.config import RunConfig
from docgen.core.workdir import PAGES, WorkDir
from docgen.run.plan_inputs import Band, Input, draw, listing
from docgen.run.plan_tokens import counted_with, token_counter

PAIR_TOKENS = 60  # completion tokens a pair asked, an assumption (see the module's docstring)


def sample_name(i: int) -> str:
    return f"{i:06d}.pdf"  # the i-th drawn document, as the sample run reads it


def run_sample(cfg: RunConfig, drawn: list[Input], folder: Path, measure: bool = False,
               tokenizer: str | None = None) -> tuple[dict, dict]:  # fmt: skip
    """The sample run for real in ``folder`` (every stage with the ``rules`` backend, or when
    ``measure``: its chats sent to the model), per drawn document (by :func:`sample_name`) its
    figures; and the run's manifest."""
    from docgen.extract.sources import read_bytes
    from docgen.run.pipeline import run_pipeline, run_stage

    inputs = folder / "input"
    inputs.mkdir(parents=True)
    for i, f in enumerate(drawn):
        target = inputs / sample_name(i)
        if f.source is not None:
            target.write_bytes(read_bytes(f.source))
        else:
            shutil.copyfile(f.path, target)
    run = replace(cfg, input=[str(inputs)], work=str(folder / "work"), out=str(folder / "out"))
    run.run = replace(cfg.run, limit=None)
    model_free = cfg.generate.backend == "rules"
    if model_free or measure:
        manifest = run_pipeline(run)
    else:
        manifest = {"stages": {"extract": run_stage(run, "extract")}}
    per_doc = figures(run, model_free, model_free or measure, tokenizer)
    return {Path(k).name: v for k, v in per_doc.items()}, manifest


def figures(cfg: RunConfig, model_free: bool, kept: bool,
            tokenizer: str | None = None) -> dict[str, dict]:  # fmt: skip
    """Per source document of the sample run: pages, chats, prompt tokens, pairs, bytes."""
    from collections import defaultdict

    wd = WorkDir(cfg.work)
    doc: dict[str, dict] = defaultdict(lambda: defaultdict(float))
    source_of = {}
    for part in wd.parts(PAGES):
        for p in wd.read(PAGES, part, columns=["doc_id", "source", "image_bytes"]).to_pylist():
            source_of[p["doc_id"]] = p["source"]
            doc[p["source"]]["pages"] += 1
            doc[p["source"]]["image_bytes"] += p["image_bytes"] or 0
    if kept:
        from docgen.filter.passes import joined

        for part in wd.parts("kept"):
            for r in joined(wd, part).to_pylist():
                if r["keep"]:
                    doc[source_of.get(r["doc_id"], r["source"])]["pairs_kept"] += 1
    if not model_free:
        for source, counted in chats_of(cfg, wd, source_of, tokenizer).items():
            for k, v in counted.items():
                doc[source][k] += v
    return {k: dict(v) for k, v in doc.items()}


def chats_of(cfg: RunConfig, wd: WorkDir, source_of: dict,
             tokenizer: str | None = None) -> dict[str, dict]:  # fmt: skip
    """Per document: the generation chats the generate stage would send, their images, prompt
    tokens (the model's tokenizer, else docgen's estimate) and pairs asked — nothing sent."""
    from docgen.generate.backends import BACKENDS
    from docgen.generate.generation import Generation
    from docgen.generate.stage import read_pages, requests_of
    from docgen.generate.triage import triage

    g = cfg.generate
    task = Generation(g)
    count = token_counter(tokenizer or g.model)  # docgen/run/plan_tokens.py
    n_pairs = g.pairs_per_page or BACKENDS[g.backend].default_pairs_per_page
    out: dict[str, dict] = {}
    for part in wd.parts(PAGES):
        pages = read_pages(wd, part, g)
        if g.triage:
            pages, _ = triage(pages)
        for request in requests_of(pages, n_pairs, g.seed, part):
            mine = out.setdefault(source_of[request.doc_id], {})
            for chat in task.chats(request, task.prompt_tokens(None)):
                mine["chats"] = mine.get("chats", 0) + 1
                mine["images"] = mine.get("images", 0) + len(chat.images)
                mine["prompt_tokens"] = mine.get("prompt_tokens", 0) + count(chat)
                mine["pairs_asked"] = mine.get("pairs_asked", 0) + chat.n_pairs
    return out


def project(bands: list[Band], figures_of: list[list[dict]], key: str) -> tuple[float, float]:
    """The whole input's total of ``key`` and two standard errors, by stratified sampling: each
    band's documents (alike in size) are as many times its sample's mean; the variance of a
    band's total N²(1 - n/N) s²/n, s² its sample's variance."""
    total, variance = 0.0, 0.0
    for band, figures in zip(bands, figures_of):
        values = [f.get(key, 0.0) for f in figures]
        n, big_n = len(values), band.count
        mean = sum(values) / n
        total += big_n * mean
        if 1 < n < big_n:
            spread = sum((v - mean) ** 2 for v in values) / (n - 1)
            variance += big_n**2 * (1 - n / big_n) * spread / n
    return total, 2 * math.sqrt(variance)


FIGURES = ("pages", "chats", "images", "prompt_tokens", "pairs_asked", "pairs_kept", "image_bytes")


def make_plan(cfg: RunConfig, fraction: float = 0.15, seed: int = 0, workers: int | None = None,
              throughput: float | None = None, measure: bool = False,
              tokenizer: str | None = None, keep: str | None = None) -> dict:  # fmt: skip
    """The plan of a run of ``cfg`` over its inputs, from ``fraction`` of them run for real
    (with ``measure``, the sample's chats sent to the model: its throughput, completion tokens
    and pairs kept measured)."""
    import time

    model_free = cfg.generate.backend == "rules"
    how = None if model_free else counted_with(tokenizer or cfg.generate.model)  # (before work)
    listed = listing(cfg.input, seed)
    files = listed.files
    if not files:
        raise ValueError(f"no PDF in {', '.join(map(str, cfg.input))}")
    bands = draw(files, fraction, seed)
    drawn = [d for b in bands for d in b.drawn]
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="docgen-plan-"))
    try:
        start = time.perf_counter()
        per_doc, manifest = run_sample(cfg, drawn, folder, measure, tokenizer)
        seconds = time.perf_counter() - start
        shard_bytes = sum(f.stat().st_size for f in (folder / "out").rglob("*.parquet"))
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    plan = {
        "inputs": inputs_of(listed),
        "sample": {
            "documents": len(drawn),
            "bytes": sum(d.size for d in drawn),
            "fraction": fraction,
            "seed": seed,
            "seconds": round(seconds, 1),
        },  # fmt: skip
        "backend": cfg.generate.backend,
        "input": cfg.generate.input,
        "projected": projected(bands, per_doc),
        "prompt_tokens_counted_with": how,
    }
    stages = manifest.get("stages", {})
    p = plan["projected"]
    sample = {k: sum(v.get(k, 0) for v in per_doc.values()) for k in FIGURES}
    if "shard" in stages and "image_bytes" in p and sample["image_bytes"]:
        # The shards are mostly the page images: as many times the projected images' bytes
        # as the sample's shards were its images'.
        ratio = shard_bytes / sample["image_bytes"]
        p["shard_bytes"] = {k: round(v * ratio) for k, v in p["image_bytes"].items()}
    generated = stages.get("generate", {})
    if "pairs_asked" in p and generated.get("completion_tokens") and sample["pairs_asked"]:
        a_pair = generated["completion_tokens"] / sample["pairs_asked"]  # measured
        p["completion_tokens"] = {"total": round(p["pairs_asked"]["total"] * a_pair),
                                  "spread": None, "measured": f"{a_pair:.0f} a pair"}  # fmt: skip
    elif "pairs_asked" in p:
        p["completion_tokens"] = {"total": p["pairs_asked"]["total"] * PAIR_TOKENS,
                                  "spread": None, "assumed": f"{PAIR_TOKENS} a pair"}  # fmt: skip
    if generated.get("requests") and generated.get("seconds"):
        sent = generated.get("prompt_tokens", 0) + generated.get("completion_tokens", 0)
        plan["measured"] = {"tokens_per_second": round(sent / generated["seconds"], 1),
                            "prompt_tokens": generated.get("prompt_tokens", 0),
                            "completion_tokens": generated.get("completion_tokens", 0),
                            "requests": generated["requests"]}  # fmt: skip
        throughput = throughput or plan["measured"]["tokens_per_second"]
    plan["workers"] = workers or os.cpu_count() or 1
    pages = p.get("pages", {}).get("total", 0)
    scale = pages / sample["pages"] if sample["pages"] else 0  # the work goes with the pages
    on_gpu = bool(throughput and "prompt_tokens" in p)  # generation's hours: the GPU's
    plan["hours"] = {name: round(s["seconds"] * scale / 3600 / plan["workers"], 6)
                     for name, s in stages.items() if isinstance(s, dict) and "seconds" in s
                     and not (name == "generate" and on_gpu)}  # fmt: skip
    if on_gpu:
        tokens = p["prompt_tokens"]["total"] + p.get("completion_tokens", {}).get("total", 0)
        plan["hours"]["gpu_generate"] = round(tokens / throughput / 3600, 6)
    # The model's passes over the pairs (judge, rater, translator), measured on the sample: their
    # tokens go with the pairs, so with the pages.
    for name, counts in stages.get("filter", {}).items():
        if isinstance(counts, dict) and counts.get("prompt_tokens"):
            tokens = (counts["prompt_tokens"] + counts.get("completion_tokens", 0)) * scale
            p[f"{name}_tokens"] = {
                "total": round(tokens),
                "spread": None,
                "measured": "the sample's, by pages",
            }
            if throughput:
                plan["hours"][f"gpu_{name}"] = round(tokens / throughput / 3600, 6)
    return plan


def inputs_of(listed) -> dict:
    """How many PDFs the inputs hold: counted, or, past SHARDS_LISTED shards, estimated."""
    count = sum(f.weight for f in listed.files)
    out = {"documents": round(count), "bytes": round(sum(f.size * f.weight for f in listed.files))}
    if listed.shards_listed < listed.shards:
        out["estimated"] = {"shards_listed": listed.shards_listed, "shards": listed.shards,
                            "spread": round(listed.spread)}  # fmt: skip
    return out


def projected(bands: list[Band], per_doc: dict[str, dict]) -> dict:
    """Every figure the sample's documents have, projected with its spread."""
    at, figures_of = 0, []  # each band's drawn documents' figures, in draw order
    for band in bands:
        figures_of.append([per_doc.get(sample_name(at + j), {}) for j in range(len(band.drawn))])
        at += len(band.drawn)
    out = {}
    for key in FIGURES:
        if any(key in v for v in per_doc.values()):
            total, spread = project(bands, figures_of, key)
            out[key] = {"total": round(total), "spread": round(spread)}
    return out


def over_budget(plan: dict, tokens: float | None, hours: float | None) -> str | None:
    """Why the plan is over ``tokens`` (prompt and completion) or ``hours`` (every stage, the
    GPU's included), or None."""
    p = plan["projected"]
    spent = p.get("prompt_tokens", {}).get("total", 0) + p.get("completion_tokens", {}).get(
        "total", 0
    )
    if tokens is not None and spent > tokens:
        return f"{spent:,} tokens projected, over the budget of {tokens:,.0f}"
    took = sum(plan["hours"].values())
    if hours is not None and took > hours:
        return f"{took:,.1f} hours projected, over the budget of {hours:,.1f}"
    return None
