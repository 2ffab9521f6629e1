"""How well the ``openai`` backend keeps a server's batch full.

Starts tests/fake_llm.py (an OpenAI-compatible server in its own process) with a fixed latency per
request, then sends documents through ``OpenAIBackend.generate`` (prompt building, requests,
retries, reply parsing: the whole client path) at several concurrency levels. The ideal rate is
concurrency / latency; the client should reach at least 90% of it at 256 in steady state. Each
setting runs twice (a short and a long run): the extra requests of the long run over its extra
time give the steady rate, free of start-up and drain. Also reports the client process's CPU time
per request.

    .venv/bin/python bench/llm_client.py [--latency 1.0] [--rounds 4] [--long-rounds 12]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from docgen.core.config import GenerateConfig
from docgen.generate.backends import GenerationRequest, openai_api
from docgen.generate.generation import Generation

ROOT = Path(__file__).resolve().parents[1]

PAGE = (
    """Invoice
Invoice number: INV-{i:05d}
Date: 2024-03-{d:02d}
Customer: Example Trading Co.
Total: {i}.50 EUR
The goods listed below were delivered to the warehouse at 12 Harbour Road on the date above.
"""
    * 3
)


def requests(n: int) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            doc_id=f"doc{i:06d}",
            source=f"doc{i}.pdf",
            lang="en",
            pages=[{"page": 1, "text": PAGE.format(i=i, d=i % 28 + 1), "tables": [], "lang": "en"}],
            n_pairs=4,
        )
        for i in range(n)
    ]


def measure(url: str, concurrency: int, rounds: int, latency: float) -> dict:
    cfg = GenerateConfig(backend="openai", base_urls=[url], concurrency=concurrency,
                         request_timeout=60, model="fake-docqa")  # fmt: skip
    backend = openai_api.OpenAIBackend(cfg)
    batch = requests(concurrency * rounds)
    cpu, wall = time.process_time(), time.perf_counter()
    results = Generation(cfg).run(backend, batch)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    sent = sum(r.requests for r in results)
    failed = sum(r.error is not None for r in results)
    rate = len(batch) / wall
    ideal = concurrency / latency
    return {"concurrency": concurrency, "requests": sent, "failed": failed, "wall_s": wall,
            "rate": rate, "ideal": ideal, "ratio": rate / ideal,
            "cpu_ms": 1000 * cpu / sent}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latency", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=4, help="requests per slot in the short run")
    p.add_argument("--long-rounds", type=int, default=12, help="requests per slot, long run")
    p.add_argument("--concurrency", default="32,128,256")
    args = p.parse_args()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fake_llm.py"), "--latency", str(args.latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(server.stdout.readline().split()[1])
        url = f"http://127.0.0.1:{port}/v1"
        measure(url, 16, 1, args.latency)  # warm up imports and the server
        print(f"python {platform.python_version()}, {os.cpu_count()} cores, server in its own "
              f"process on the same machine, latency {args.latency:.2f} s per request")  # fmt: skip
        print(
            "overall: the long run's rate, start-up and drain included; steady: the extra "
            "requests of the long run over the extra time it took (start-up and drain cancel)"
        )
        print(f"{'pool':8} {'conc':>5} {'requests':>8} {'wall s':>7} {'overall':>8} "
              f"{'steady':>7} {'ideal':>6} {'steady/ideal':>12} {'cpu ms/req':>10}")  # fmt: skip
        rows = []
        for c in [int(x) for x in args.concurrency.split(",")]:
            rows.append(("ours", c, *pair(url, c, args)))
        for pool, c, short, long in rows:
            steady = (long["requests"] - short["requests"]) / (long["wall_s"] - short["wall_s"])
            long["steady"] = steady
            print(f"{pool:8} {c:>5} {long['requests']:>8} {long['wall_s']:>7.2f} "
                  f"{long['rate']:>8.1f} {steady:>7.1f} {long['ideal']:>6.0f} "
                  f"{steady / long['ideal']:>12.1%} {long['cpu_ms']:>10.2f}"
                  + (f"  ({long['failed']} failed)" if long["failed"] else ""))  # fmt: skip
        ours = next(r[3] for r in rows if r[0] == "ours" and r[1] == 256)
        print(
            f"at 256: steady {ours['steady'] / ours['ideal']:.1%} of ideal (target >= 90%), "
            f"overall {ours['ratio']:.1%}; client CPU {ours['cpu_ms']:.2f} ms a request"
        )
    finally:
        server.kill()


def pair(url: str, concurrency: int, args) -> tuple[dict, dict]:
    return (
        measure(url, concurrency, args.rounds, args.latency),
        measure(url, concurrency, args.long_rounds, args.latency),
    )


if __name__ == "__main__":
    main()
