"""The generation task: documents to question–answer pairs, asked of a model.

Its chats are :func:`docgen.generate.prompting.build_chats`' (a document cut into chunks of pages
that fit the prompt's token budget), its replies read by :mod:`docgen.generate.replies` (pairs
checked against the prompt set's schema; a reply cut at ``max_tokens`` keeps the pairs it had
finished), and the chunks of a document merged back into one :class:`GenerationResult`. A chat
the model's context cannot hold (cause ``context``) is cut smaller and asked again.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from functools import partial

from docgen.core.progress import tell
from docgen.generate.backends.base import Completion, GenerationRequest, GenerationResult
from docgen.generate.chats import Chat, page_tokens
from docgen.generate.prompting import build_chats
from docgen.generate.replies import AnswerError, complete_pairs, parse_answer
from docgen.generate.tasks import Allowance, Task, ask

# How often a chat too long for the model's context is cut smaller and asked again.
RESPLITS = 5
# What vLLM says it counted, when it refuses a prompt (``TOO_LONG``).
CONTEXT = re.compile(r"maximum (?:context|model) length (?:is |of )(\d+)")
COUNTED = re.compile(r"(\d+) (?:in the messages|input tokens)|prompt \(length (\d+)\)")


class Generation(Task):
    """Pairs about documents, with ``cfg`` (a GenerateConfig): its prompt set
    (``generate.prompts``), kinds of question, chunking and sampling."""

    def __init__(self, cfg):
        super().__init__(cfg.prompts)
        self.cfg = cfg
        self.plain = False  # Question:/Answer: lines asked, not JSON (a backend without a grammar)
        if self.prompts.kind_notes:
            self.prompts.shares(cfg.kind_shares)  # checked before anything is sent

    def chats(self, request: GenerationRequest, prompt_tokens: int) -> list[Chat]:
        """The chats of one document, its pages cut in chunks of ``prompt_tokens``."""
        c = self.cfg
        return build_chats(request, self.prompts, prompt_tokens, c.max_pairs_per_request, c.input,
                           c.max_images_per_request, c.kind_shares,
                           plain=self.plain)  # fmt: skip

    def prompt_tokens(self, context: int | None) -> int:
        """Page text per chat: ``max_prompt_tokens``, less where the model's ``context`` (when
        known) leaves less beside ``max_tokens`` (a fifth kept for the instructions and the
        estimate's error)."""
        if not context:
            return self.cfg.max_prompt_tokens
        return min(self.cfg.max_prompt_tokens, int((context - self.cfg.max_tokens) * 0.8))

    def run(self, backend, requests: list[GenerationRequest], cache=None,
            allowance: Allowance | None = None) -> list[GenerationResult]:  # fmt: skip
        """One result per request, asked of ``backend`` (answers in ``cache`` first), spending
        at most the ``allowance``."""
        allowance = allowance or Allowance()
        self.plain = backend.structured_output == "none"
        size = self.prompt_tokens(backend.context)
        asking = [(chat, i) for i, r in enumerate(requests) for chat in self.chats(r, size)]
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
        # page cut short; what a round spent comes off the next round's allowance.
        for round in range(RESPLITS + 1):
            chats = [chat for chat, _ in asking]
            owners = [owner for _, owner in asking]
            parts = [requests[owner].part for owner in owners]
            completions = ask(backend, self, chats, parts, cache, allowance,
                              answered=partial(answered, owners))  # fmt: skip
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
                merge(results[owner], chat, c)
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
        pieces = self.chats(replace(request, pages=pages), budget)
        for piece in pieces:
            piece.index = chat.index  # errors and evidence name the chunk the document had
        return pieces

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
        extra = {"lang": chat.lang, "prompt_id": prompt_id, "evidence": evidence, "raw": c.text,
                 "reasoning": c.reasoning or None}  # fmt: skip
        most = self.cfg.max_pairs_per_reply
        if len(pairs) > most:  # what a prompt asks for is no bound on what a model writes
            cause = "too_many_pairs"
            message = f"reply held {len(pairs)} pairs; the first {most} kept"
        return [pair | extra for pair in pairs[:most]], cause, message


def merge(result: GenerationResult, chat: Chat, c: Completion) -> None:
    """Fold one chat's completion (read: ``c.parsed``) into its document's result."""
    result.requests += c.requests
    result.retries += max(0, c.requests - 1)
    result.cached += c.requests == 0 and c.error is None
    result.prompt_tokens += c.prompt_tokens
    result.completion_tokens += c.completion_tokens
    result.spent_tokens += c.tokens if c.requests else 0
    result.reasoning_tokens += c.reasoning_tokens
    pairs, cause, message = c.parsed
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
