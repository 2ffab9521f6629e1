"""LLM tasks and the one way they are asked.

A task (generation, the judge, the rater, the translator, the page labeller) is a prompt set
(``prompts/<name>``), the chats it builds from its items (each task's own ``chats``), the JSON
schema its replies are held to, and how it reads a reply (:meth:`Task.read`). :func:`ask` does the
rest for all of them: answers from the cache first, the others sent to the backend within the
task's token :class:`Allowance`, each reply read as it arrives and cached, and the counts —
``chats`` asked, ``cached_requests`` (of them, answered from the cache), ``requests`` sent
(retries included), the prompt and completion tokens this run spent, and ``failures`` by cause.
A backend only sends chats (``complete``): it knows engines and servers, not prompts.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from docgen.core.workdir import fingerprint
from docgen.generate.backends.base import Completion
from docgen.generate.chats import Chat, PromptSet, chat_messages, estimate_tokens, load_prompts
from docgen.generate.gencache import cache_key
from docgen.generate.replies import loads_lenient


class Allowance:
    """The tokens a task may still spend (``left``; None: no limit), spent as its answers
    arrive (the run's token budget, shared out between tasks by the pipeline)."""

    def __init__(self, tokens: int | None = None):
        self.left = tokens

    def spend(self, tokens: int) -> None:
        if self.left is not None:
            self.left -= tokens


class Task:
    """A prompt set and how its replies are read; a subclass adds ``chats(...)``, which turns
    its items into :class:`Chat` objects (with :meth:`chat_of` for the common shape)."""

    def __init__(self, name: str):
        self.name = name
        self.prompts: PromptSet = load_prompts(name)

    @property
    def schema(self) -> dict:
        """The reply's JSON schema: the structured output asked for, unless a chat has its own."""
        return self.prompts.schema

    def render(self, **values) -> str:
        """The user turn: the prompt set's template with ``values`` (the role's instructions as
        ``role``, unless given)."""
        values.setdefault("role", self.prompts.roles[self.name])
        return self.prompts.user_template.render(**values)

    def chat_of(self, doc_id: str, index: int, user: str, *, pages=(), lang: str = "und",
                n_items: int = 0, images=(), schema: dict | None = None) -> Chat:  # fmt: skip
        """A chat of the system turn and the rendered ``user`` turn (``images`` where it marked
        them)."""
        images = list(images)
        messages = chat_messages(self.prompts, user, images)
        return Chat(doc_id, index, messages, list(pages), self.name, lang, n_items,
                    schema=schema, images=images)  # fmt: skip

    def read(self, chat: Chat, completion: Completion):
        """What a reply says: its JSON when valid under the task's schema, else None."""
        import jsonschema

        if completion.error is not None:
            return None
        try:
            data = loads_lenient(completion.text)
            jsonschema.validate(data, self.schema)
        except (ValueError, jsonschema.ValidationError):
            return None
        return data


def ask(backend, task: Task, chats: list[Chat], parts: list[str], cache=None,
        allowance: Allowance | None = None, counts: Counter | None = None,
        answered: Callable[[int, Completion], None] | None = None) -> list[Completion]:  # fmt: skip
    """A completion per chat, each with ``parsed`` (what ``task.read`` made of it): from the
    cache (``parts``: each chat's partition, whose cache file holds it), else asked of
    ``backend`` and cached as it arrives (read then, while other requests are in flight). No
    more than the ``allowance`` is spent (chats past it fail with cause ``budget``).
    ``answered(j, completion)`` follows each chat ``j``'s answer (progress); ``counts`` gets the
    counts named at the top of this module."""
    allowance = allowance or Allowance()
    for chat in chats:
        chat.schema = chat.schema or task.schema
    # The schema is serialised once, not per chat.
    params = fingerprint(backend.cache_params(task.schema))
    keys = [cache_key(backend.model, c.messages, params) for c in chats]
    completions: list[Completion | None] = [None] * len(chats)

    def done(j: int, completion: Completion, fresh: bool = True) -> None:
        separate(completion)
        completion.parsed = task.read(chats[j], completion)
        completions[j] = completion
        if answered is not None:
            answered(j, completion)
        if fresh and cache is not None and completion.error is None:
            cache.put(parts[j], keys[j], {
                "doc_id": chats[j].doc_id, "chunk": chats[j].index, "model": backend.model,
                "text": completion.text, "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
                "finish_reason": completion.finish_reason,
                **({"reasoning": completion.reasoning,
                    "reasoning_tokens": completion.reasoning_tokens}
                   if completion.reasoning else {}),
            })  # fmt: skip

    to_send = []
    for j, key in enumerate(keys):
        hit = cache.get(parts[j], key) if cache is not None else None
        if hit is None:
            to_send.append(j)
            continue
        fields = ("prompt_tokens", "completion_tokens", "finish_reason", "reasoning",
                  "reasoning_tokens")  # fmt: skip
        done(j, Completion(text=hit["text"], **{f: hit[f] for f in fields if f in hit}),
             fresh=False)  # fmt: skip
    if to_send:
        try:
            backend.complete([chats[j] for j in to_send],
                             lambda k, c: done(to_send[k], c), allowance.left)  # fmt: skip
        finally:  # answers gathered for an object store are written even if this fails
            if cache is not None:
                cache.flush()
    allowance.spend(sum(c.tokens for c in completions if c.requests))
    if counts is not None:
        count(counts, completions)
    return completions


# A thinking model's reasoning written before its answer, by a server without a reasoning parser.
THINK = re.compile(r"\s*<think>(.*?)(</think>|\Z)", re.DOTALL)


def separate(c: Completion) -> None:
    """A thinking model's reasoning kept apart from its answer: the server's reasoning field
    (a parser's), or ``<think>...</think>`` cut from the head of the text (a server without
    one); its tokens counted (the server's count, else estimated). A reply that ran out of
    tokens while still reasoning has no answer: an error, cause ``reasoning_unfinished``."""
    if c.error is not None:
        return
    if found := THINK.match(c.text):
        c.reasoning = (c.reasoning + found[1]).strip()
        c.text = c.text[found.end() :].lstrip()
    if c.reasoning:
        c.reasoning_tokens = c.reasoning_tokens or estimate_tokens(c.reasoning)
    unfinished = (found and not found[2]) or (c.reasoning and not c.text.strip()
                                             and c.finish_reason == "length")  # fmt: skip
    if unfinished:
        c.cause = "reasoning_unfinished"
        c.error = ("the model was still reasoning when generate.max_tokens ran out, and wrote "
                   "no answer (raise generate.max_tokens)")  # fmt: skip


def count(counts: Counter, completions: list[Completion]) -> None:
    failures = counts.setdefault("failures", Counter())
    counts["chats"] += len(completions)
    for c in completions:
        counts["cached_requests"] += c.requests == 0 and c.error is None
        counts["requests"] += c.requests
        if c.requests:  # what this run spent (cached answers cost nothing now)
            counts["prompt_tokens"] += c.prompt_tokens
            counts["completion_tokens"] += c.completion_tokens
            counts["reasoning_tokens"] += c.reasoning_tokens
        if c.error:
            failures[c.cause] += 1
        elif c.parsed is None:
            failures["malformed"] += 1


def ask_json(backend, task: Task, chats: list[Chat], counts: Counter, cache=None, part: str = "",
             allowance: Allowance | None = None) -> list[dict | None]:  # fmt: skip
    """Each chat's reply as JSON valid under the task's schema, or None where the chat failed
    or the reply did not parse (counted as ``malformed``); replies are cached under ``part``."""
    completions = ask(backend, task, chats, [part] * len(chats), cache, allowance, counts)
    return [c.parsed for c in completions]
