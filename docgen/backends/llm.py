"""What the LLM backends share: chats from documents, the cache, parsing, and per-document results.

A subclass only implements :meth:`LLMBackend.complete`: send a list of chats to a model and report
each :class:`Completion` through a callback as soon as it is known. Everything else (building
chats from the prompt templates, answering from the cache, validating replies, merging the chunks
of a document back into one result) lives here, so both backends behave the same.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from docgen.backends import Backend, GenerationRequest, GenerationResult
from docgen.config_check import check_config
from docgen.gencache import cache_key
from docgen.progress import tell
from docgen.prompting import Chat, build_chats, load_prompts
from docgen.replies import AnswerError, complete_pairs, loads_lenient, parse_answer
from docgen.workdir import fingerprint


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
    parsed: tuple | None = None  # what LLMBackend.read made of it, once read

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def check_input(cfg) -> None:
    """The generate section (``generate.input``, the image settings ...), checked before
    anything is sent: a backend may be made from a config that never went through load_config."""
    check_config(cfg, "generate.")


class LLMBackend(Backend):
    """Base of the ``openai`` and ``vllm`` backends."""

    def __init__(self, cfg):
        self.configure(cfg)
        self.model = cfg.model
        # Tokens the LLM passes of the current task may still spend through ask_json (the
        # run's token budget, shared out by the pipeline); None: no limit.
        self.allowance: int | None = None

    def configure(self, cfg) -> None:
        check_input(cfg)
        self.cfg = cfg
        self.prompts = load_prompts(cfg.prompts)
        if self.prompts.kind_notes:
            self.prompts.shares(cfg.kind_shares)  # checked before anything is sent

    def sampling(self) -> dict:
        """The sampling parameters; part of the cache key, so changing one asks again."""
        c = self.cfg
        return {
            "temperature": c.temperature,
            "top_p": c.top_p,
            "max_tokens": c.max_tokens,
            "seed": c.seed if c.send_seed else None,
            "structured_output": getattr(self, "structured_output", "json_schema"),
            "schema": self.prompts.schema,
        }

    def complete(self, chats: list[Chat], done: Callable[[int, Completion], None], budget) -> None:
        """Send ``chats``; call ``done(i, completion)`` once per chat. Not one may be skipped:
        a chat that cannot be sent is reported with an error (cause ``budget`` when the token
        ``budget`` was spent before it could start)."""
        raise NotImplementedError

    def generate(
        self, requests: list[GenerationRequest], cache=None, budget: int | None = None
    ) -> list[GenerationResult]:
        chats, owners = [], []
        for i, request in enumerate(requests):
            for chat in build_chats(
                request,
                self.prompts,
                self.cfg.max_prompt_tokens,
                self.cfg.max_pairs_per_request,
                self.cfg.input,
                self.cfg.max_images_per_request,
                self.cfg.kind_shares,
                plain=getattr(self, "structured_output", "json_schema") == "none",
            ):
                chats.append(chat)
                owners.append(i)
        parts = [requests[i].part for i in owners]
        left = Counter(owners)  # chats still unanswered, per document

        def answered(j: int, c: Completion) -> None:  # for the stage's progress bar
            left[owners[j]] -= 1
            pairs = len(c.parsed[0]) if c.parsed else 0
            tell(documents=int(left[owners[j]] == 0), requests=int(c.requests > 0), pairs=pairs,
                 tokens=c.completion_tokens if c.requests else 0)  # fmt: skip

        completions = self.answers(chats, parts, cache, budget, self.read, answered)
        results = [GenerationResult() for _ in requests]
        for chat, owner, completion in zip(chats, owners, completions):
            self.merge(results[owner], chat, completion)
        return results

    def answers(self, chats: list[Chat], parts: list[str], cache=None, budget=None,
                read=None, answered=None) -> list[Completion]:  # fmt: skip
        """A completion per chat: from the cache (``parts``: each chat's partition, whose cache
        file holds it), else asked of the model and cached as it arrives. ``read(chat,
        completion)`` runs on each reply as it arrives (while other requests are in flight);
        what it returns is kept as the completion's ``parsed``; then ``answered(j, completion)``
        (chat ``j``), for progress."""
        params = fingerprint(self.sampling())  # the schema is serialised once, not per chat
        keys = [cache_key(self.model, c.messages, params) for c in chats]
        completions: list[Completion | None] = [None] * len(chats)
        to_send = []
        for j, key in enumerate(keys):
            hit = cache.get(parts[j], key) if cache is not None else None
            if hit is not None:
                completions[j] = Completion(
                    text=hit["text"],
                    prompt_tokens=hit.get("prompt_tokens", 0),
                    completion_tokens=hit.get("completion_tokens", 0),
                    finish_reason=hit.get("finish_reason"),
                )
                if answered is not None:
                    answered(j, completions[j])
            else:
                to_send.append(j)

        def done(k: int, completion: Completion) -> None:
            j = to_send[k]
            if read is not None:
                completion.parsed = read(chats[j], completion)
            completions[j] = completion
            if answered is not None:
                answered(j, completion)
            if cache is not None and completion.error is None:
                cache.put(parts[j], keys[j], {
                    "doc_id": chats[j].doc_id, "chunk": chats[j].index, "model": self.model,
                    "text": completion.text, "prompt_tokens": completion.prompt_tokens,
                    "completion_tokens": completion.completion_tokens,
                    "finish_reason": completion.finish_reason,
                })  # fmt: skip

        if to_send:
            try:
                self.complete([chats[j] for j in to_send], done, budget)
            finally:  # answers gathered for an object store are written even if this fails
                if cache is not None:
                    cache.flush()
        return completions

    def read(self, chat: Chat, c: Completion) -> tuple[list[dict], str | None, str | None]:
        """(pairs, failure cause, failure message) of one completion."""
        if c.error is not None:
            return [], c.cause, c.error
        cause, message = None, None
        try:
            pairs = parse_answer(c.text, self.prompts, chat.pages)
        except AnswerError as exc:
            if c.finish_reason != "length":
                return [], exc.cause, str(exc)
            pairs = before_the_cut(c.text, self.prompts, chat.pages)
            cause = "truncated"  # counted, whether or not pairs came before the cut
            message = (f"reply cut at generate.max_tokens; the {len(pairs)} complete pair(s) "
                       "before the cut kept" if pairs else str(exc))  # fmt: skip
            if not pairs:
                return [], cause, message
        prompt_id = f"{self.prompts.name}/{chat.role}"
        evidence = json.dumps({"chunk": chat.index, "role": chat.role})
        extra = {"lang": chat.lang, "prompt_id": prompt_id, "evidence": evidence, "raw": c.text}
        most = self.cfg.max_pairs_per_reply
        if len(pairs) > most:  # what a prompt asks for is no bound on what a model writes
            cause = "too_many_pairs"
            message = f"reply held {len(pairs)} pairs; the first {most} kept"
        return [pair | extra for pair in pairs[:most]], cause, message

    def merge(self, result: GenerationResult, chat: Chat, c: Completion) -> None:
        """Fold one chat's completion into its document's result."""
        result.requests += c.requests
        result.retries += max(0, c.requests - 1)
        result.cached += c.requests == 0 and c.error is None
        result.prompt_tokens += c.prompt_tokens
        result.completion_tokens += c.completion_tokens
        result.spent_tokens += c.tokens if c.requests else 0
        pairs, cause, message = c.parsed if c.parsed is not None else self.read(chat, c)
        if pairs:
            result.raw = c.text
            result.pairs += pairs
        if message is not None:
            result.failures[cause] += 1
            result.budget_stopped |= cause == "budget"
            note = f"{cause}: {message}"
            note = f"chunk {chat.index}, {note}" if chat.index > 1 else note
            result.error = f"{result.error}; {note}" if result.error else note


def before_the_cut(text: str, prompts, pages: list[int]) -> list[dict]:
    """The valid pairs a reply cut at max_tokens had finished (none: [])."""
    finished = complete_pairs(text)
    try:
        return parse_answer(json.dumps({"pairs": finished}), prompts, pages) if finished else []
    except AnswerError:
        return []


def ask_json(backend: LLMBackend, chats: list[Chat], schema: dict, counts: Counter,
             cache=None, part: str = "") -> list[dict | None]:  # fmt: skip
    """Send ``chats`` and return each reply as JSON valid under ``schema``, or None where the
    chat failed or the reply did not parse (the judge, the rater and the translator). With a
    ``cache`` (a GenerationCache), replies are kept under ``part`` and a rerun asks nothing
    answered already. No more than the backend's ``allowance`` of tokens is spent (chats past it
    fail with cause ``budget``). ``counts`` gets ``llm_requests`` (chats asked), ``llm_cached``
    (of them, answered from the cache), the prompt and completion tokens spent, and, per failed
    chat, ``llm_failed:<cause>``."""
    import jsonschema

    replies: list[dict | None] = []
    counts["llm_requests"] += len(chats)
    for completion in backend.answers(chats, [part] * len(chats), cache, backend.allowance):
        counts["llm_cached"] += completion.requests == 0 and completion.error is None
        if completion.requests:  # what this run spent (cached answers cost nothing now)
            counts["prompt_tokens"] += completion.prompt_tokens
            counts["completion_tokens"] += completion.completion_tokens
            if backend.allowance is not None:
                backend.allowance -= completion.tokens
        if completion.error:
            counts[f"llm_failed:{completion.cause}"] += 1
            replies.append(None)
            continue
        try:
            data = loads_lenient(completion.text)
            jsonschema.validate(data, schema)
        except (ValueError, jsonschema.ValidationError):
            counts["llm_failed:malformed"] += 1
            replies.append(None)
            continue
        replies.append(data)
    return replies
