"""Generate stage: page records to question–answer pairs through a generation backend.

Reads ``pages/part-<id>.parquet`` without its images (generation needs text only), sends one
request per document to the backend and writes ``qa/part-<id>.parquet``; a document whose
generation failed gets an error row in ``errors/generate-part-<id>.parquet`` and the rest go on.
LLM answers are cached in ``cache/generate/`` as they arrive (see :mod:`docgen.generate.gencache`).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import replace
from itertools import groupby

import pyarrow as pa

from docgen.core import step
from docgen.core.config import GenerateConfig
from docgen.core.workdir import CACHE, PAGES, QA, WorkDir, fingerprint, parquet_file, sum_stats
from docgen.extract import images
from docgen.generate.backends import (
    MAY_PASS,
    Backend,
    GenerationRequest,
    GenerationResult,
    get_backend,
)
from docgen.generate.backends.llm import LLMBackend
from docgen.generate.gencache import GenerationCache
from docgen.generate.generation import Generation
from docgen.generate.tasks import Allowance
from docgen.generate.triage import model_triage, triage

TEXT_COLUMNS = ["doc_id", "source", "page", "text", "lines", "tables", "lang", "direction"]
# What triage looks at, when the pages have it (pages extracted before they carried it do not).
TRIAGE_COLUMNS = ["figures", "image_bytes", "image_width", "image_height"]
QA_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("source", pa.string()),
        ("pair_id", pa.string()),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("kind", pa.string()),
        ("pages", pa.list_(pa.int32())),
        ("lang", pa.string()),
        ("evidence", pa.string()),
        ("backend", pa.string()),
        ("model", pa.string()),
        ("prompt_id", pa.string()),
        ("raw", pa.string()),
        ("reasoning", pa.string()),  # a thinking model's reasoning before the chunk's pairs
    ]
)

_backends: dict[str, Backend] = {}

# How requests travel, not what a model replies: changed (a longer timeout after timeouts, more
# servers, more in flight), they leave finished partitions finished. The answer cache's keys do
# not hold them either.
TRANSPORT = (
    "concurrency",
    "request_timeout",
    "stream",
    "silence_timeout",
    "min_tokens_per_second",
    "max_attempts",
    "backoff_base",
    "backoff_max",
    "token_budget",
    "parts_per_task",
    "api_key_env",
    "base_urls",
    "engine_python",
)
# A partition's counts of the requests it took (its tokens describe its pairs, and stay): a rerun
# that skips it asks nothing.
THIS_RUN_ONLY = ("requests", "retries", "cached_requests")


def reply_settings(cfg: GenerateConfig) -> GenerateConfig:
    """``cfg`` with the TRANSPORT settings at their defaults: what a partition's pairs depend on."""
    defaults = GenerateConfig()
    return replace(cfg, **{name: getattr(defaults, name) for name in TRANSPORT})


# What an engine or client is built from (images per prompt included: vLLM is told at start);
# other settings (sampling, prompts) change per task.
ENGINE_FIELDS = ("backend", "model", "base_urls", "tensor_parallel_size",
                 "gpu_memory_utilization", "max_model_len", "engine_args",
                 "engine_python", "input", "max_images_per_request")  # fmt: skip


def backend_for(cfg: GenerateConfig) -> Backend:
    """One backend per worker process and engine settings, set up on first use and reused: an
    engine is expensive to build, so every task a worker runs shares it."""
    key = fingerprint({f: getattr(cfg, f) for f in ENGINE_FIELDS})
    if key not in _backends:
        backend = get_backend(cfg)
        backend.setup()
        _backends[key] = backend
    backend = _backends[key]
    backend.configure(cfg)
    return backend


def close_backends() -> None:
    """Tear down this process's backends (engines stopped, their processes gone); run on every
    worker when the LLM stages end."""
    while _backends:
        _, backend = _backends.popitem()
        backend.teardown()


def document_lang(pages: list[dict]) -> str:
    langs = [p["lang"] for p in pages if p["lang"] != "und"]
    return max(set(langs), key=langs.count) if langs else "und"


def requests_of(pages: list[dict], n_pairs: int, seed: int, part: str) -> list[GenerationRequest]:
    out = []
    for doc_id, doc_pages in groupby(pages, key=lambda p: p["doc_id"]):
        doc_pages = list(doc_pages)
        out.append(
            GenerationRequest(
                doc_id=doc_id,
                source=doc_pages[0]["source"],
                lang=document_lang(doc_pages),
                pages=doc_pages,
                n_pairs=n_pairs,
                seed=seed,
                part=part,
            )
        )
    return out


def read_pages(wd: WorkDir, part: str, cfg: GenerateConfig) -> list[dict]:
    """A partition's page records as the backend needs them: text only, or with each page's
    image sized for the model (``generate.input``)."""
    there = parquet_file(wd.part_path(PAGES, part)).schema_arrow.names
    columns = TEXT_COLUMNS + [c for c in TRIAGE_COLUMNS if c in there]
    if cfg.backend == "rules" or cfg.input == "text":
        return wd.read(PAGES, part, columns=columns).to_pylist()
    pages = wd.read(PAGES, part, columns=columns + ["image"]).to_pylist()
    for page in pages:
        page["image"] = images.model_image(
            page.pop("image"), page["image_width"], page["image_height"],
            cfg.image_max_side, cfg.image_max_pixels,
        )  # fmt: skip
    return pages


def rows_of(request: GenerationRequest, result: GenerationResult, backend: Backend) -> list[dict]:
    rows = []
    for pair in result.pairs:
        pair_id = hashlib.sha256(
            f"{request.doc_id}\0{pair['question']}\0{pair['answer']}".encode()
        ).hexdigest()[:16]
        rows.append(
            {
                **pair,
                "doc_id": request.doc_id,
                "source": request.source,
                "pair_id": pair_id,
                "backend": backend.name,
                "model": backend.model,
                "prompt_id": pair.get("prompt_id") or backend.prompt_id,
                "raw": pair.get("raw") or result.raw,
            }
        )
    return rows


def part_stats(requests, results) -> dict:
    """Counts for the manifest: requests, retries, failures by cause, tokens, pairs per document."""
    per_doc = Counter(str(min(len(r.pairs), 50)) for r in results)
    failures = Counter()
    for r in results:
        failures.update(r.failures)
    return {
        "documents": len(requests),
        "pairs": sum(len(r.pairs) for r in results),
        "failed_documents": sum(r.error is not None and not r.pairs for r in results),
        "partial_documents": sum(r.error is not None and bool(r.pairs) for r in results),
        "requests": sum(r.requests for r in results),
        "retries": sum(r.retries for r in results),
        "cached_requests": sum(r.cached for r in results),
        "resplit_chats": sum(r.resplit for r in results),
        "failures": dict(failures),
        "prompt_tokens": sum(r.prompt_tokens for r in results),
        "completion_tokens": sum(r.completion_tokens for r in results),
        "reasoning_tokens": sum(r.reasoning_tokens for r in results),
        "spent_tokens": sum(r.spent_tokens for r in results),
        "pairs_per_document": dict(per_doc),
        "retryable_documents": sum(
            r.error is not None and bool(MAY_PASS & set(r.failures)) for r in results
        ),  # fmt: skip
        **({"first_error": errors[0]} if (errors := [r.error for r in results if r.error]) else {}),
    }


GENERATE = step.Step("generate", QA)


def generate_parts(work: str, parts: list[str], cfg: GenerateConfig, budget=None) -> dict:
    """Generate for several partitions in one task, so an LLM backend sees enough documents at
    once to keep its batch full. Each finished partition is written on its own; a partition with
    documents left unsent (token ``budget`` spent) is not written, and a rerun resumes it from
    the cache."""
    wd = WorkDir(work)
    start = time.perf_counter()
    done_stats, todo = [], []
    for part in parts:
        fp = wd.step_fingerprint(PAGES, part, reply_settings(cfg))
        if (stats := step.done(wd, GENERATE, part, fp)) is not None:
            # Nothing was asked for it in this run, whatever its first run asked and spent.
            done_stats.append({**stats, "skipped": 1, "finished_parts": 1, "spent_tokens": 0,
                               **dict.fromkeys(THIS_RUN_ONLY, 0)})  # fmt: skip
        else:
            todo.append((part, fp))
    if not todo:
        return sum_stats(done_stats)
    requests, skipped, labels, imageless = [], {}, {}, Counter()
    allowance = Allowance(budget)  # the labeller's tokens come out of it first
    for part, _ in todo:
        pages = read_pages(wd, part, cfg)
        if cfg.input != "text":  # a page whose image is missing or bad is sent as text alone
            imageless[part] = sum(not p.get("image") for p in pages)
        if cfg.triage:
            pages, skipped[part] = triage(pages)
        if cfg.triage_model:  # the same engine labels the pages first, out of the same budget
            labels[part] = Counter()
            cache = GenerationCache(wd.root / CACHE / "triage")
            pages = model_triage(backend_for(cfg), pages, cfg.input != "text", cache, part,
                                 labels[part], allowance)  # fmt: skip
        requests.append((part, pages))
    backend = backend_for(cfg)
    n_pairs = cfg.pairs_per_page or backend.default_pairs_per_page
    requests = [r for part, pages in requests for r in requests_of(pages, n_pairs, cfg.seed, part)]
    cache = GenerationCache(wd.root / CACHE / "generate")
    if isinstance(backend, LLMBackend):  # asked of a model
        results = Generation(cfg).run(backend, requests, cache, allowance)
    else:  # a model-free backend makes them itself
        results = backend.generate(requests)
    seconds = (time.perf_counter() - start) / len(todo)
    by_part: dict[str, list] = {}
    for request, result in zip(requests, results):
        by_part.setdefault(request.part, []).append((request, result))
    written = []
    for part, fp in todo:
        mine = by_part.get(part, [])
        stats = part_stats([q for q, _ in mine], [r for _, r in mine])
        stats["triage"] = dict(skipped.get(part, {}))  # pages not asked about, by reason
        if imageless[part]:
            stats["pages_without_image"] = imageless[part]
        if part in labels:  # the labeller's categories, complexities, requests and failures
            stats["triage"]["no_content"] = labels[part].pop("skipped:no_content", 0)
            stats["page_labels"] = dict(labels[part])
            spent = labels[part]["prompt_tokens"] + labels[part]["completion_tokens"]
            stats["spent_tokens"] += spent
        if any(r.budget_stopped for _, r in mine):
            # Not written: only what was spent on it counts; its pairs come with the rerun.
            keep = ("requests", "retries", "failures", "spent_tokens")
            written.append({k: stats[k] for k in keep} | {"budget_stopped_parts": 1})
            continue
        rows, errors = [], []
        for request, result in mine:
            rows += rows_of(request, result, backend)
            if result.error:
                errors.append({"doc_id": request.doc_id, "source": request.source, "page": None,
                               "stage": "generate", "error": result.error})  # fmt: skip
        stats.update(skipped=0, finished_parts=1, model=backend.model)
        if engine := getattr(backend, "engine_id", None):
            stats["engines"] = {engine: 1}  # partitions per engine (process id)
        table = pa.Table.from_pylist(rows, QA_SCHEMA)
        output = step.Output(table, stats, errors, stats["retryable_documents"] > 0)
        written.append(step.store(wd, GENERATE, part, fp, output, seconds))
    return sum_stats(done_stats + written)
