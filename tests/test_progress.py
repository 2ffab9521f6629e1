"""Bars count documents, each exactly once, with LLM requests, pairs and tokens/s beside them."""

import io
import re
import subprocess
import sys
from pathlib import Path

from tqdm import tqdm

from docgen.core.progress import StageBar

DOCGEN = str(Path(sys.executable).with_name("docgen"))


def last_bar(stderr: str, stage: str) -> str:
    bars = [b for b in re.split(r"[\r\n]", stderr) if b.startswith(f"{stage}:")]
    assert bars, stderr
    return bars[-1]


def test_extract_and_generate_bars_count_documents(few_samples, tmp_path, server_factory):
    server = server_factory("--latency", "0.6")  # long enough for the bars to show
    r = subprocess.run([DOCGEN, "run", "openai", str(few_samples), "--work", str(tmp_path / "w"),
                        "--out", str(tmp_path / "o"), "--base-url", server.url,
                        "--set", "run.workers=2", "--set", "filter.check_language=false",
                        "--set", "generate.concurrency=1"],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    extract = last_bar(r.stderr, "extract")
    assert "3/3" in extract and "doc/s" in extract
    generate = last_bar(r.stderr, "generate")
    assert "3/3" in generate and "requests=3" in generate and "tok/s=" in generate
    pairs = int(re.search(r"pairs=(\d+)", generate)[1])
    assert f"pairs       {pairs} generated" in r.stdout


def test_a_task_counts_once_whatever_its_events_said():
    bar = tqdm(total=10, file=io.StringIO())
    counter = StageBar(bar, lambda r: r["documents"])
    try:
        counter.add("a", {"documents": 2, "requests": 2, "pairs": 5})
        counter.settle("a", {"documents": 4, "requests": 4, "pairs": 9})  # 2 more, said at the end
        counter.add("a", {"documents": 1})  # an event that arrived after the result: old news
        counter.settle("b", {"documents": 3, "requests": 0, "pairs": 0})  # skipped: no events
        assert bar.n == 7
        assert counter.totals["requests"] == 4 and counter.totals["pairs"] == 9
    finally:
        counter.close()
