"""What every generation backend shares: the request and result of one document, the completion
of one chat, the base class, and how a failure is told apart (a context too long, a cause that may
pass). A leaf: the backends, the tasks and the generate stage import it; it imports none of them."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field


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
    reasoning_tokens: int = 0  # of completion_tokens, a thinking model's reasoning


@dataclass
class Completion:
    """What came back for one chat: the reply text, or an error with its cause."""

    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    requests: int = 0  # attempts sent; 0 when answered from the cache
    error: str | None = None
    cause: str | None = None  # http_429, http_5xx, http_4xx, timeout, connection, engine, budget
    parsed: object = None  # what the task read from it (docgen.generate.tasks.Task.read)
    reasoning: str = ""  # a thinking model's reasoning, apart from its answer (``text``)
    reasoning_tokens: int = 0  # of completion_tokens, the reasoning's (the server's, or estimated)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


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
    """Base class: ``setup`` once per worker, ``teardown`` at the end. A model-free backend
    (``rules``) makes pairs itself (``generate``); a model's backend (``LLMBackend``) answers
    the chats the tasks build (:func:`docgen.generate.tasks.ask`)."""

    name = "base"
    model = ""
    prompt_id = ""
    default_pairs_per_page = 4

    def setup(self) -> None:
        pass

    def configure(self, cfg) -> None:
        """Take the settings of the next task (sampling); the engine stays."""

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """One result per request (a model-free backend)."""
        raise NotImplementedError

    def teardown(self) -> None:
        pass
