"""What the model backends share: the settings of the task at hand, and the one method a backend
implements.

A subclass (``openai``, ``vllm``) implements :meth:`LLMBackend.complete`: send a list of chats to a
model and report each :class:`Completion` through a callback as soon as it is known. What is asked
and how a reply is read belong to the tasks (:mod:`docgen.generate.tasks`); the cache, the token
allowance and the counts to :func:`docgen.generate.tasks.ask`.
"""

from __future__ import annotations

from collections.abc import Callable

from docgen.core.config_check import check_config
from docgen.generate.backends.base import Backend, Completion


def check_input(cfg) -> None:
    """The generate section (``generate.input``, the image settings ...), checked before
    anything is sent: a backend may be made from a config that never went through load_config."""
    check_config(cfg, "generate.")


class LLMBackend(Backend):
    """Base of the ``openai`` and ``vllm`` backends."""

    context: int | None = None  # the model's context in tokens, where the server says it
    structured_output = "json_schema"  # how replies are held to their schema

    def __init__(self, cfg):
        self.configure(cfg)
        self.model = cfg.model

    def configure(self, cfg) -> None:
        check_input(cfg)
        self.cfg = cfg

    def cache_params(self, schema: dict) -> dict:
        """What an answer depends on beside the model and the messages (the sampling, the
        reply's ``schema``): part of the cache key, so changing one asks again."""
        c = self.cfg
        return {
            "temperature": c.temperature,
            "top_p": c.top_p,
            "max_tokens": c.max_tokens,
            "seed": c.seed if c.send_seed else None,
            "structured_output": self.structured_output,
            "schema": schema,
        }

    def complete(self, chats: list, done: Callable[[int, Completion], None], budget) -> None:
        """Send ``chats`` (each with its ``schema``); call ``done(i, completion)`` once per chat.
        Not one may be skipped: a chat that cannot be sent is reported with an error (cause
        ``budget`` when the token ``budget`` was spent before it could start)."""
        raise NotImplementedError
