"""What sending page images costs: text vs image vs image+text on the same documents.

Extracts the sample corpus (cached in $DOCGEN_BENCH_CACHE-vision, default
/tmp/docgen-bench-vision), then for each ``generate.input``:

- request bytes: the JSON bodies docgen sends (images as data URLs), per page and per pair asked;
- prompt tokens: counted by a real vLLM server (its CPU build, from .venv-vllm) serving a tiny
  random Idefics3 whose processor cuts pages into tiles exactly as Idefics3-8B's does (364-pixel
  tiles, up to 4x4 plus a global image, 169 tokens each; tests/tiny_vlm.py ``idefics3``), so the
  image tokens are those that model would be given;
- the image-encoding cost per page: sizing the stored page for the model (decode, resize, PNG)
  and the data URL (base64), in CPU milliseconds.

Pairs kept per request need a real model, so they are GPU figures (bench/RESULTS.md names the
command). Run: ``.venv/bin/python bench/vision.py [--docs 48]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from llm_vllm import PYTHON, start_server  # noqa: E402

from docgen.core.config import GenerateConfig, load_config  # noqa: E402
from docgen.core.workdir import WorkDir  # noqa: E402
from docgen.extract import images  # noqa: E402
from docgen.generate.backends.openai_api import OpenAIBackend, image_url_part  # noqa: E402
from docgen.generate.chats import load_prompts  # noqa: E402
from docgen.generate.generation import Generation  # noqa: E402
from docgen.generate.prompting import build_chats  # noqa: E402
from docgen.generate.stage import read_pages, requests_of  # noqa: E402

CACHE = Path((os.environ.get("DOCGEN_BENCH_CACHE") or "/tmp/docgen-bench") + "-vision")
MODES = ("text", "image", "image+text")
TRANSPORT = {"http_429", "http_5xx", "http_4xx", "timeout", "connection", "bad_response"}


def extracted(docs: int) -> WorkDir:
    """The sample corpus, extracted once into the cache."""
    from docgen.core.executor import Executor
    from docgen.run.pipeline import run_extract
    from docgen.samples import make_corpus

    work = CACHE / f"work-{docs}"
    if not (work / ".bench-done").exists():
        make_corpus(CACHE / f"pdfs-{docs}", docs, progress=False)
        cfg = load_config(None, [f"input={CACHE / f'pdfs-{docs}'}", f"work={work}",
                                 "run.progress=false"])  # fmt: skip
        run_extract(Executor(), cfg)
        (work / ".bench-done").touch()
    return WorkDir(work)


def encoding_cost(wd: WorkDir, cfg: GenerateConfig) -> dict:
    """CPU ms per page to size the stored images for the model and to make their data URLs."""
    columns = ["image", "image_width", "image_height"]
    pages = [p for part in wd.parts("pages") for p in wd.read("pages", part, columns).to_pylist()]
    cpu = time.process_time()
    fit = (cfg.image_max_side, cfg.image_max_pixels)
    sent = [images.model_image(p["image"], p["image_width"], p["image_height"], *fit)
            for p in pages]  # fmt: skip
    sizing = time.process_time() - cpu
    cpu = time.process_time()
    urls = [images.data_url(s) for s in sent]
    encoding = time.process_time() - cpu
    return {
        "pages": len(pages),
        "resized": sum(s is not p["image"] for s, p in zip(sent, pages)),
        "stored_kb": sum(len(p["image"]) for p in pages) / len(pages) / 1024,
        "sent_kb": sum(len(s) for s in sent) / len(pages) / 1024,
        "url_kb": sum(len(u) for u in urls) / len(pages) / 1024,
        "size_ms": 1000 * sizing / len(pages),
        "url_ms": 1000 * encoding / len(pages),
    }


def measure(wd: WorkDir, url: str, mode: str) -> dict:
    cfg = GenerateConfig(backend="openai", base_urls=[url], model="tiny", input=mode,
                         max_tokens=16, concurrency=16, request_timeout=600,
                         structured_output="none")  # fmt: skip
    backend = OpenAIBackend(cfg)
    requests = [r for part in wd.parts("pages")
                for r in requests_of(read_pages(wd, part, cfg), 4, 0, part)]  # fmt: skip
    prompts = load_prompts(cfg.prompts)
    chats = [c for r in requests for c in build_chats(r, prompts, cfg.max_prompt_tokens,
             cfg.max_pairs_per_request, mode, cfg.max_images_per_request)]  # fmt: skip
    sent = sum(len(json.dumps(c.wire_messages(image_url_part), ensure_ascii=False).encode())
               for c in chats)  # fmt: skip
    start = time.perf_counter()
    results = Generation(cfg).run(backend, requests)
    # The replies are noise cut at 16 tokens: only a request that did not reach the model counts.
    failed = sum(n for r in results for cause, n in r.failures.items() if cause in TRANSPORT)
    pages = sum(len(r.pages) for r in requests)
    asked = sum(c.n_pairs for c in chats)
    return {"mode": mode, "requests": len(chats), "failed": failed, "pages": pages,
            "bytes_per_page": sent / pages, "bytes_per_pair": sent / asked,
            "tokens_per_page": sum(r.prompt_tokens for r in results) / pages,
            "tokens_per_pair": sum(r.prompt_tokens for r in results) / asked,
            "seconds": time.perf_counter() - start}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=48)
    args = parser.parse_args()
    wd = extracted(args.docs)
    for fit in (GenerateConfig(), GenerateConfig(image_max_side=1536, image_max_pixels=2_000_000),
                GenerateConfig(image_max_side=1024, image_max_pixels=1_000_000)):  # fmt: skip
        cost = encoding_cost(wd, fit)
        print(
            f"page images fit to {fit.image_max_side} px / {fit.image_max_pixels / 1e6:g} MP: "
            f"{cost['resized']} of {cost['pages']} resized; stored {cost['stored_kb']:.0f} KB, "
            f"sent {cost['sent_kb']:.0f} KB ({cost['url_kb']:.0f} KB as data URL) a page; "
            f"sizing {cost['size_ms']:.1f} ms, data URL {cost['url_ms']:.2f} ms CPU a page"
        )
    tmp = Path(tempfile.mkdtemp())
    texts = tmp / "texts.txt"
    pages = [p["text"] for part in wd.parts("pages")
             for p in wd.read("pages", part, ["text"]).to_pylist()]  # fmt: skip
    texts.write_text("\n\f\n".join(pages), "utf-8")
    subprocess.run([PYTHON, str(ROOT / "tests" / "tiny_vlm.py"), str(tmp / "model"), str(texts),
                    "idefics3"], check=True, capture_output=True)  # fmt: skip
    proc, url = start_server(
        tmp / "model",
        tmp / "server.log",
        max_len=32768,
        extra=["--limit-mm-per-prompt", json.dumps({"image": 4})],
    )
    try:
        print(
            f"{'input':<11} {'requests':>8} {'failed':>6} {'bytes/page':>11} "
            f"{'bytes/pair':>11} {'tokens/page':>11} {'tokens/pair':>11} {'seconds':>8}"
        )
        for mode in MODES:
            m = measure(wd, url, mode)
            print(f"{m['mode']:<11} {m['requests']:>8} {m['failed']:>6} "
                  f"{m['bytes_per_page']:>11.0f} {m['bytes_per_pair']:>11.0f} "
                  f"{m['tokens_per_page']:>11.0f} {m['tokens_per_pair']:>11.0f} "
                  f"{m['seconds']:>8.1f}")  # fmt: skip
    finally:
        import signal

        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)


if __name__ == "__main__":
    main()
