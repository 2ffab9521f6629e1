"""The generation interface: a backend turns document requests into question–answer pairs.

Every backend takes a list of :class:`GenerationRequest` (one per document: its pages, language and
how many pairs are wanted) and returns one :class:`GenerationResult` per request, in order. A result
always comes back: a failure is a result with ``error`` set, never an exception that loses
the batch. LLM backends (``openai``, ``vllm``) build chats from the request's pages with the
templates in ``prompts/`` and answer from a cache first; the ``rules`` backend reads the structure
of the pages directly.
"""

from __future__ import annotations

from docgen.core.config_check import check_config, choices
from docgen.core.settings import GenerateConfig
from docgen.generate.backends.base import (  # noqa: F401  (the interface, as the rest of docgen names it)
    ERROR_CHARS,
    MAY_PASS,
    TOO_LONG,
    Backend,
    GenerationRequest,
    GenerationResult,
)

BACKENDS = choices(GenerateConfig, "backend")
GPU_BACKENDS = ("vllm",)  # their tasks go only to Dask workers that declare a GPU resource


def get_backend(cfg) -> Backend:
    """The backend named by ``cfg.backend`` (a GenerateConfig), configured by it."""
    check_config(cfg, "generate.")  # a config built in code was never checked
    if cfg.backend == "rules":
        from docgen.generate.backends.rules import RulesBackend

        return RulesBackend()
    if cfg.backend == "openai":
        from docgen.generate.backends.openai_api import OpenAIBackend

        return OpenAIBackend(cfg)
    if cfg.backend == "vllm":
        from docgen.generate.backends.vllm_engine import VLLMBackend

        return VLLMBackend(cfg)
    raise ValueError(
        f"unknown generation backend {cfg.backend!r}; available: {', '.join(BACKENDS)}"
    )
