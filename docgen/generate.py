"""Generate stage: page records to question–answer pairs through a generation backend.

Reads ``pages/part-<id>.parquet`` without its images (generation needs text only), sends one
request per document to the backend and writes ``qa/part-<id>.parquet``; a document whose
generation failed gets an error row in ``errors/generate-part-<id>.parquet`` and the rest go on.
"""

from __future__ import annotations

import hashlib
import time
from itertools import groupby

import pyarrow as pa

from docgen.backends import Backend, GenerationRequest, get_backend
from docgen.config import GenerateConfig
from docgen.extract import ERROR_SCHEMA
from docgen.workdir import WorkDir

TEXT_COLUMNS = ["doc_id", "source", "page", "text", "lines", "tables", "lang", "direction"]
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
    ]
)

_backends: dict[str, Backend] = {}


def backend_for(name: str) -> Backend:
    """One backend per worker process, set up on first use and reused (engines are expensive)."""
    if name not in _backends:
        backend = get_backend(name)
        backend.setup()
        _backends[name] = backend
    return _backends[name]


def document_lang(pages: list[dict]) -> str:
    langs = [p["lang"] for p in pages if p["lang"] != "und"]
    return max(set(langs), key=langs.count) if langs else "und"


def requests_of(pages: list[dict], cfg: GenerateConfig) -> list[GenerationRequest]:
    out = []
    for doc_id, doc_pages in groupby(pages, key=lambda p: p["doc_id"]):
        doc_pages = list(doc_pages)
        out.append(
            GenerationRequest(
                doc_id=doc_id,
                source=doc_pages[0]["source"],
                lang=document_lang(doc_pages),
                pages=doc_pages,
                n_pairs=cfg.pairs_per_page,
                seed=cfg.seed,
            )
        )
    return out


def generate_partition(work: str, part: str, cfg: GenerateConfig) -> dict:
    wd = WorkDir(work)
    fp = wd.step_fingerprint("pages", part, cfg)
    out = wd.part_path("qa", part)
    if (stats := wd.done(out, fp)) is not None:
        return {**stats, "skipped": 1}
    start = time.perf_counter()
    pages = wd.read("pages", part, columns=TEXT_COLUMNS).to_pylist()
    backend = backend_for(cfg.backend)
    requests = requests_of(pages, cfg)
    rows, errors = [], []
    for request, result in zip(requests, backend.generate(requests)):
        if result.error:
            errors.append(
                {
                    "doc_id": request.doc_id,
                    "source": request.source,
                    "page": None,
                    "stage": "generate",
                    "error": result.error,
                }
            )
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
                    "prompt_id": backend.prompt_id,
                    "raw": pair.get("raw") or result.raw,
                }
            )
    stats = {
        "documents": len(requests),
        "pairs": len(rows),
        "failed_documents": len(errors),
        "seconds": round(time.perf_counter() - start, 3),
        "skipped": 0,
    }
    wd.write(wd.error_path("generate", part), pa.Table.from_pylist(errors, ERROR_SCHEMA), fp, stats)
    wd.write(out, pa.Table.from_pylist(rows, QA_SCHEMA), fp, stats)
    return stats
