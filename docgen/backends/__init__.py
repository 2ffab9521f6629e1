"""The generation interface: a backend turns document requests into question–answer pairs.

Every backend takes a list of :class:`GenerationRequest` (one per document: its pages, language and
how many pairs are wanted) and returns one :class:`GenerationResult` per request, in order. A result
always comes back: a failure is a result with ``error`` set, never an exception that loses
the batch.
LLM backends build their chats from the request's pages; the ``rules`` backend reads the structure
of the pages directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"


@dataclass
class GenerationRequest:
    doc_id: str
    source: str
    lang: str
    pages: list[dict]  # page records: page, text, lines, tables, lang, direction
    n_pairs: int
    seed: int = 0


@dataclass
class GenerationResult:
    pairs: list[dict] = field(default_factory=list)  # question, answer, kind, pages, evidence
    raw: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None


class Backend:
    """Base class: ``setup`` once per worker, ``generate`` per batch, ``teardown`` at the end."""

    name = "base"
    model = ""
    prompt_id = ""

    def setup(self) -> None:
        pass

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        raise NotImplementedError

    def teardown(self) -> None:
        pass


def get_backend(name: str) -> Backend:
    """The backend registered under ``name``."""
    if name == "rules":
        from docgen.backends.rules import RulesBackend

        return RulesBackend()
    raise ValueError(f"unknown generation backend {name!r}; available: rules")
