"""docgen's ``openai`` client against a plain asyncio client, on a real vLLM server.

Starts ``vllm serve`` (the Python of .venv-vllm, or $DOCGEN_VLLM_PYTHON) with a tiny random
Qwen2 built by tests/tiny_llm.py, then sends the same chats (docgen's prompts for the same
documents, the same sampling, JSON-schema structured output, max_tokens) in turns, side by side
in one run:

- docgen: ``OpenAIBackend.generate`` (chats, cache keys, requests, retries, reply parsing);
- plain: the same JSON bodies posted with one ``aiohttp`` session under an ``asyncio.Semaphore``,
  the reply's text taken and nothing else done (about the least a client can do).

Requests per second for each, and docgen's rate over the plain client's (goal >= 0.95). On a CPU
host the server's compute bounds both: the ratio shows what docgen's client costs on top.

    .venv/bin/python bench/llm_vllm.py [--docs 96] [--concurrency 32] [--turns 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from llm_client import requests  # noqa: E402

from docgen.core.config import GenerateConfig  # noqa: E402
from docgen.generate.backends import openai_api  # noqa: E402
from docgen.generate.chats import load_prompts  # noqa: E402
from docgen.generate.generation import Generation  # noqa: E402
from docgen.generate.prompting import build_chats  # noqa: E402

PYTHON = os.environ.get("DOCGEN_VLLM_PYTHON") or str(ROOT / ".venv-vllm" / "bin" / "python")
MAX_LEN = 8192


def start_server(
    model: Path,
    log: Path,
    max_len: int = MAX_LEN,
    extra: list[str] = (),
    name: str = "tiny",
    cpu: bool = True,
) -> tuple[subprocess.Popen, str]:
    """`vllm serve` of ``model`` as ``name`` (with the CPU build's settings when ``cpu``; JSON
    without whitespace under the grammar either way); (process, base URL) once it answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "2"}
    on_cpu = ["--no-enable-chunked-prefill", "--max-num-batched-tokens", str(max_len),
              "--dtype", "float32"] if cpu else []  # fmt: skip
    command = [PYTHON, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
               "--served-model-name", name, "--host", "127.0.0.1", "--port", str(port),
               *on_cpu, "--max-model-len", str(max_len), "--max-num-seqs", "256",
               "--structured-outputs-config",
               json.dumps({"backend": "xgrammar", "disable_any_whitespace": True}),
               *extra]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    while True:
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2)
            return proc, url
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"vllm serve exited: {log.read_text()[-2000:]}")
            time.sleep(1)


def config(url: str, concurrency: int) -> GenerateConfig:
    return GenerateConfig(backend="openai", base_urls=[url], model="tiny", concurrency=concurrency,
                          max_tokens=256, request_timeout=600)  # fmt: skip


CPU_MS: dict[str, list[float]] = {"docgen": [], "plain": []}  # client CPU per request


def docgen_rate(url: str, docs: int, concurrency: int) -> float:
    start, cpu = time.perf_counter(), time.process_time()
    cfg = config(url, concurrency)
    backend = openai_api.OpenAIBackend(cfg)
    batch = requests(docs)
    results = Generation(cfg).run(backend, batch)
    assert sum(r.requests for r in results) == docs
    CPU_MS["docgen"].append(1000 * (time.process_time() - cpu) / docs)
    return docs / (time.perf_counter() - start)


def plain_rate(url: str, docs: int, concurrency: int) -> float:
    import aiohttp

    start, cpu = time.perf_counter(), time.process_time()  # from the documents, as docgen
    cfg = config(url, concurrency)
    backend = openai_api.OpenAIBackend(cfg)
    chats = [c for r in requests(docs) for c in build_chats(r, load_prompts(cfg.prompts), 6000, 24)]
    bodies = [
        {"model": "tiny", "messages": c.messages, "temperature": cfg.temperature,
         "top_p": cfg.top_p, "max_tokens": cfg.max_tokens, "seed": cfg.seed,
         "response_format": backend.response_format(c.schema)}
        for c in chats
    ]  # fmt: skip

    async def run() -> None:
        connector = aiohttp.TCPConnector(limit=concurrency)
        timeout = aiohttp.ClientTimeout(total=600)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            gate = asyncio.Semaphore(concurrency)

            async def one(body) -> str:
                async with gate, session.post(f"{url}/chat/completions", json=body) as reply:
                    return (await reply.json())["choices"][0]["message"]["content"]

            await asyncio.gather(*(one(b) for b in bodies))

    asyncio.run(run())
    CPU_MS["plain"].append(1000 * (time.process_time() - cpu) / len(bodies))
    return len(bodies) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=96)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--serve-arg", action="append", default=[], help="more vllm serve args")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    texts = tmp / "texts.txt"
    texts.write_text("\n\f\n".join(r.pages[0]["text"] for r in requests(64)), "utf-8")
    subprocess.run([PYTHON, str(ROOT / "tests" / "tiny_llm.py"), str(tmp / "model"), str(texts)],
                   check=True, capture_output=True)  # fmt: skip
    proc, url = start_server(tmp / "model", tmp / "server.log", extra=args.serve_arg)
    try:
        docgen_rate(url, args.concurrency, args.concurrency)  # warm up: grammar, caches
        ours, plain = [], []
        for turn in range(args.turns):  # who goes first alternates (the server's prefix cache)
            if turn % 2:
                plain.append(plain_rate(url, args.docs, args.concurrency))
                ours.append(docgen_rate(url, args.docs, args.concurrency))
            else:
                ours.append(docgen_rate(url, args.docs, args.concurrency))
                plain.append(plain_rate(url, args.docs, args.concurrency))
            first = "plain first " if turn % 2 else "docgen first"
            print(f"turn {turn + 1} ({first}): docgen {ours[-1]:6.2f} req/s   "
                  f"plain {plain[-1]:6.2f} req/s   ratio {ours[-1] / plain[-1]:.3f}")  # fmt: skip
        mean_ours, mean_plain = sum(ours) / len(ours), sum(plain) / len(plain)
        print(f"total: docgen {mean_ours:.2f} req/s, plain {mean_plain:.2f} req/s, "
              f"ratio {sum(ours) / sum(plain):.3f} (goal >= 0.95)")  # fmt: skip
        d, p = (sorted(CPU_MS[k])[len(CPU_MS[k]) // 2] for k in ("docgen", "plain"))
        print(f"client CPU per request (median): docgen {d:.2f} ms, plain {p:.2f} ms")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)


if __name__ == "__main__":
    main()
