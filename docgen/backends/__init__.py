"""The generation interface: a backend turns document requests into question–answer pairs.

Every backend takes a list of :class:`GenerationRequest` (one per document: its pages, language and
how many pairs are wanted) and returns one :class:`GenerationResult` per request, in order. A result
always comes back: a failure is a result with ``error`` set, never an exception that loses
the batch. LLM backends (``openai``, ``vllm``) build chats from the request's pages with the
templates in ``prompts/`` and answer from a cache first; the ``rules`` backend reads the structure
of the pages directly.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from docgen import shipped

# Prompt sets ship with docgen (prompts/ at the top of the repository, docgen/prompts installed).
PROMPTS_DIR = shipped("prompts")


@dataclass
class GenerationRequest:
    doc_id: str
    source: str
    lang: str
    pages: list[dict]  # page records: page, text, lines, tables, lang, direction
    n_pairs: int
    seed: int = 0
    part: str = ""  # the work-dir partition it comes from (the cache is kept per partition)


@dataclass
class GenerationResult:
    pairs: list[dict] = field(default_factory=list)  # question, answer, kind, pages, evidence
    raw: str = ""
    prompt_tokens: int = 0  # of every answer used, cached ones included
    completion_tokens: int = 0
    spent_tokens: int = 0  # of the requests sent in this call only: what a budget counts
    error: str | None = None
    requests: int = 0  # HTTP requests or engine calls made, retries included
    retries: int = 0
    cached: int = 0  # chats answered from the generation cache
    failures: Counter = field(default_factory=Counter)  # failed chats by cause
    budget_stopped: bool = False  # some chats were not sent: the token budget was spent
    resplit: int = 0  # chats too long for the model's context, asked again in smaller pieces


# How much of a server's or engine's error text an error row keeps: whole, as servers write them
# (a context-length refusal is ~300 characters), and bounded, as a server is not trusted.
ERROR_CHARS = 2000

# How servers and engines refuse a prompt longer than the model's context (vLLM serve: "This
# model's maximum context length is 8192 tokens. However, you requested 9000 tokens (7000 in the
# messages, 2048 in the completion)"; vLLM's engine: "The decoder prompt (length 9000) is longer
# than the maximum model length of 8192"; OpenAI: "context_length_exceeded"): cause ``context``,
# and the chat is cut in smaller pieces and asked again.
TOO_LONG = re.compile(
    r"maximum context length|context_length_exceeded|context window|"
    r"prompt is too long|longer than the maximum (model )?length",
    re.IGNORECASE,
)

# Causes of a failed chat that a rerun may not meet again: the server slow, down, busy or
# refusing the key (until it is fixed), the engine crashed. A document that failed for one of
# them is asked again by a rerun (answers already received come from the cache).
MAY_PASS = frozenset({"timeout", "connection", "http_429", "http_5xx", "engine", "fatal"})


class Backend:
    """Base class: ``setup`` once per worker, ``generate`` per batch, ``teardown`` at the end."""

    name = "base"
    model = ""
    prompt_id = ""
    default_pairs_per_page = 4

    def setup(self) -> None:
        pass

    def configure(self, cfg) -> None:
        """Take the settings of the next task (sampling, prompts); the engine stays."""

    def generate(
        self, requests: list[GenerationRequest], cache=None, budget: int | None = None
    ) -> list[GenerationResult]:
        """One result per request. ``cache`` (a GenerationCache) and ``budget`` (tokens that may
        still be spent) matter to backends that call a model."""
        raise NotImplementedError

    def teardown(self) -> None:
        pass


BACKENDS = ("rules", "openai", "vllm")
GPU_BACKENDS = ("vllm",)  # their tasks go only to Dask workers that declare a GPU resource


def get_backend(cfg) -> Backend:
    """The backend named by ``cfg.backend`` (a GenerateConfig), configured by it."""
    if cfg.backend == "rules":
        from docgen.backends.rules import RulesBackend

        if cfg.triage_model:
            raise ValueError("generate.triage_model needs a model (backend openai or vllm)")
        if cfg.input != "text":
            raise ValueError(
                f"generate.input={cfg.input} needs a vision-language model (backend openai or "
                "vllm); the rules backend reads the text of the pages only"
            )
        return RulesBackend()
    if cfg.backend == "openai":
        from docgen.backends.openai_api import OpenAIBackend

        return OpenAIBackend(cfg)
    if cfg.backend == "vllm":
        from docgen.backends.vllm_engine import VLLMBackend

        return VLLMBackend(cfg)
    raise ValueError(
        f"unknown generation backend {cfg.backend!r}; available: {', '.join(BACKENDS)}"
    )
