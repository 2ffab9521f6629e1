"""Where and how the LLM's tasks run: the workers that hold the engines, the partitions a task
asks about at once, and a token budget spent in waves.

The generate stage and the filter's LLM passes (the judge, the rater, the translator) share
these workers, so each worker builds its engine once; when the LLM stages end, every engine is
shut down.
"""

from __future__ import annotations

import math
from contextlib import ExitStack, contextmanager

from docgen.core.config import GenerateConfig, RunConfig
from docgen.core.config_check import check_config
from docgen.core.executor import Executor
from docgen.core.workdir import WorkDir, add_stats
from docgen.generate.backends import GPU_BACKENDS, get_backend
from docgen.generate.backends.llm import LLMBackend
from docgen.generate.generation import Generation
from docgen.generate.stage import close_backends
from docgen.run.orchestrate import gpu_cluster


def check_generate(cfg: RunConfig) -> None:
    """Fail before any work on a generate config that cannot run, and pin the model: with no
    ``generate.model``, the openai backend asks the server once, here, so that every worker and
    the cache agree on it."""
    check_config(cfg.filter, "filter.")
    backend = get_backend(cfg.generate)
    if isinstance(backend, LLMBackend):  # its prompt set found, the kinds asked known to it
        Generation(cfg.generate)
    if cfg.generate.backend == "openai":
        cfg.generate.model = backend.check_servers()


@contextmanager
def llm_workers(ex: Executor, g: GenerateConfig):
    """The executor the generation backend's tasks run on: GPU backends get workers that
    declare a GPU, one engine each. On exit every engine is shut down, so no engine process
    outlives the LLM stages."""
    with ExitStack() as stack:
        llm = ex
        if g.backend in GPU_BACKENDS and ex.client is not None:
            llm = ex.on(stack.enter_context(gpu_cluster(ex.client)), {"GPU": 1})
        try:
            yield llm
        finally:
            llm.each_worker(close_backends)


def task_groups(parts: list[str], cfg: RunConfig, workers: int) -> list[list[str]]:
    """Partitions per generate task: one for ``rules``; for LLMs, enough documents per task to
    fill the requests in flight (``concurrency`` per base URL), while every worker gets work."""
    g = cfg.generate
    if g.parts_per_task:
        size = g.parts_per_task
    elif g.backend == "rules":
        size = 1
    else:
        in_flight = g.concurrency * max(1, len(g.base_urls))
        size = math.ceil(in_flight / max(1, cfg.extract.docs_per_partition))
        size = max(1, min(size, math.ceil(len(parts) / workers)))
    return [parts[i : i + size] for i in range(0, len(parts), size)]


def spent(stats: dict) -> int:
    """Tokens a stage's counts say were spent."""
    if "spent_tokens" in stats:
        return stats["spent_tokens"]
    return stats.get("prompt_tokens", 0) + stats.get("completion_tokens", 0)


def in_waves(ex: Executor, fn, groups: list, args_of, desc: str, budget: int | None,
             docs=None) -> dict:  # fmt: skip
    """``fn(*args_of(group, share))`` for every group of partitions, counts added up. With no
    ``budget`` (None) at once, share None; else a wave of one task per worker at a time, each
    sharing what is left evenly, until the budget is spent (the rest waits for a rerun)."""
    if budget is None:
        return ex.total(fn, [args_of(group, None) for group in groups], desc, docs)
    stats: dict = {}
    for i in range(0, len(groups), ex.workers):
        left = budget - spent(stats)
        if left <= 0:
            break
        wave = groups[i : i + ex.workers]
        add_stats(stats, ex.total(fn, [args_of(g, left // len(wave)) for g in wave], desc, docs))
    return stats


def budget_left(cfg: RunConfig) -> int | None:
    """What ``generate.token_budget`` leaves for the filter's LLM passes once generation (as
    the manifest counts it) has spent its part; None: no budget."""
    if cfg.generate.token_budget is None:
        return None
    generated = WorkDir(cfg.work).manifest().get("stages", {}).get("generate", {})
    return cfg.generate.token_budget - generated.get("spent_tokens", 0)
