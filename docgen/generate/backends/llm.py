"""What the LLM backends share: chats from documents, the cache, parsing, and per-document results.

A subclass only implements :meth:`LLMBackend.complete`: send a list of chats to a model and report
each :class:`Completion` through a callback as soon as it is known. Everything else (building
chats from the prompt templates, answering from the cache, validating replies, merging the chunks
of a document back into one result) lives here, so both backends behave the same.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from docgen.core.config_check import check_config
from docgen.core.progress import tell
from docgen.core.workdir import fingerprint
from docgen.generate.backends.base import Backend, GenerationRequest, GenerationResult
from docgen.generate.gencache import cache_key
from docgen.generate.prompting import Chat, build_chats, load_prompts, page_tokens
from docgen.generate.replies import AnswerError, complete_pairs, loads_lenient, parse_answer


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


# How often a chat too long for the model's context is cut smaller and asked again.
RESPLITS = 5
# What vLLM says it counted, when it refuses a prompt (``TOO_LONG``).
CONTEXT = re.compile(r"maximum (?:context|model) length (?:is |of )(\d+)")
COUNTED = re.compile(r"(\d+) (?:in the messages|input tokens)|prompt \(length (\d+)\)")


class LLMBackend(Backend):
    """Base of the ``openai`` and ``vllm`` backends."""

    context: int | None = None  # the model's context in tokens, where the server says it

    def __init__(self, cfg):
        self.configure(cfg)
        self.model = cfg.model

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

    def chats_of(self, request: GenerationRequest, prompt_tokens: int) -> list[Chat]:
        """The chats of one document, its pages cut in chunks of ``prompt_tokens``."""
        return build_chats(
            request,
            self.prompts,
            prompt_tokens,
            self.cfg.max_pairs_per_request,
            self.cfg.input,
            self.cfg.max_images_per_request,
            self.cfg.kind_shares,
            plain=getattr(self, "structured_output", "json_schema") == "none",
        )

    def prompt_tokens(self) -> int:
        """Page text per chat: ``max_prompt_tokens``, less where the model's context (when known)
        leaves less beside ``max_tokens`` (a fifth kept for the instructions and the estimate's
        error)."""
        if not self.context:
            return self.cfg.max_prompt_tokens
        return min(self.cfg.max_prompt_tokens, int((self.context - self.cfg.max_tokens) * 0.8))

    def generate(
        self, requests: list[GenerationRequest], cache=None, budget: int | None = None
    ) -> list[GenerationResult]:
        asking = [(chat, i) for i, r in enumerate(requests) for chat in self.chats_of(
            r, self.prompt_tokens())]  # fmt: skip
        left = Counter(owner for _, owner in asking)  # chats still unanswered, per document
        results = [GenerationResult() for _ in requests]

        def answered(owners: list[int], j: int, c: Completion) -> None:  # for progress
            owner = owners[j]
            if c.cause == "context":  # asked again in pieces, or settled below
                tell(requests=int(c.requests > 0))
                return
            left[owner] -= 1
            pairs = len(c.parsed[0]) if c.parsed else 0
            tell(documents=int(left[owner] == 0), requests=int(c.requests > 0), pairs=pairs,
                 tokens=c.completion_tokens if c.requests else 0)  # fmt: skip

        # A chat the model's context cannot hold is asked again in smaller pieces, down to a
        # page cut short; what a round spent comes off the next round's budget.
        for round in range(RESPLITS + 1):
            chats = [chat for chat, _ in asking]
            owners = [owner for _, owner in asking]
            parts = [requests[owner].part for owner in owners]
            completions = self.answers(
                chats, parts, cache, budget, self.read, partial(answered, owners)
            )
            if budget is not None:
                budget -= sum(c.tokens for c in completions if c.requests)
            again = []
            for (chat, owner), c in zip(asking, completions):
                pieces = self.smaller(requests[owner], chat, c) if round < RESPLITS else []
                if c.cause == "context" and pieces:
                    results[owner].requests += c.requests
                    results[owner].retries += max(0, c.requests - 1)
                    results[owner].resplit += 1
                    left[owner] += len(pieces)
                    again += [(piece, owner) for piece in pieces]
                    continue
                if c.cause == "context":
                    left[owner] -= 1
                    tell(documents=int(left[owner] == 0))
                self.merge(results[owner], chat, c)
            if not again:
                break
            asking = again
        return results

    def smaller(self, request: GenerationRequest, chat: Chat, c: Completion) -> list[Chat]:
        """The pages of ``chat``, which the model's context could not hold (cause ``context``),
        in chats of half its page text, or of what fits by the tokens the server said it
        counted; none where no prompt fits beside ``max_tokens``."""
        if c.cause != "context":
            return []
        shown = set(chat.pages)
        pages = [p for p in request.pages if p["page"] in shown]
        sent = min(sum(page_tokens(p) for p in pages), chat.page_budget)  # estimated
        budget = sent // 2
        context, counted = CONTEXT.search(c.error or ""), COUNTED.search(c.error or "")
        if context and counted:
            room = int(context[1]) - self.cfg.max_tokens
            if room <= 0:
                return []
            # Real tokens per estimated one, and the instructions' share, from this prompt.
            estimate = chat.estimated_tokens()
            ratio = int(next(n for n in counted.groups() if n)) / max(1, estimate)
            budget = min(budget, int(room * 0.9 / ratio) - (estimate - sent))
        if budget < 16:
            return []
        pieces = self.chats_of(replace(request, pages=pages), budget)
        for piece in pieces:
            piece.index = chat.index  # errors and evidence name the chunk the document had
        return pieces

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


class Allowance:
    """The tokens a task may still spend (``left``; None: no limit), handed to each
    :func:`ask_json` of the task and spent as answers arrive (the run's token budget, shared out
    between tasks by the pipeline)."""

    def __init__(self, tokens: int | None = None):
        self.left = tokens

    def spend(self, tokens: int) -> None:
        if self.left is not None:
            self.left -= tokens


def ask_json(backend: LLMBackend, chats: list[Chat], schema: dict, counts: Counter,
             cache=None, part: str = "", allowance: Allowance | None = None,
             ) -> list[dict | None]:  # fmt: skip
    """Send ``chats`` and return each reply as JSON valid under ``schema``, or None where the
    chat failed or the reply did not parse (the judge, the rater and the translator). With a
    ``cache`` (a GenerationCache), replies are kept under ``part`` and a rerun asks nothing
    answered already. No more than ``allowance`` of tokens is spent (chats past it
    fail with cause ``budget``). ``counts`` gets, in the generate stage's words, ``chats``
    (asked), ``cached_requests`` (of them, answered from the cache), ``requests`` (sent, retries
    included), the prompt and completion tokens spent, and ``failures``: failed chats by
    cause."""
    import jsonschema

    replies: list[dict | None] = []
    failures = counts.setdefault("failures", Counter())
    counts["chats"] += len(chats)
    allowance = allowance or Allowance()
    for completion in backend.answers(chats, [part] * len(chats), cache, allowance.left):
        counts["cached_requests"] += completion.requests == 0 and completion.error is None
        counts["requests"] += completion.requests
        if completion.requests:  # what this run spent (cached answers cost nothing now)
            counts["prompt_tokens"] += completion.prompt_tokens
            counts["completion_tokens"] += completion.completion_tokens
            allowance.spend(completion.tokens)
        if completion.error:
            failures[completion.cause] += 1
            replies.append(None)
            continue
        try:
            data = loads_lenient(completion.text)
            jsonschema.validate(data, schema)
        except (ValueError, jsonschema.ValidationError):
            failures["malformed"] += 1
            replies.append(None)
            continue
        replies.append(data)
    return replies
