"""What an OpenAI-compatible server sends back, read without trusting it: a chat completion (one
JSON body) or a streamed one (server-sent events, a delta per token), and each failure's cause."""

from __future__ import annotations

import asyncio
import json

from docgen.generate.backends.base import ERROR_CHARS, TOO_LONG, Completion
from docgen.generate.backends.window import ServerSilent

RETRYABLE_STATUS = {408, 409, 429}
REASONING_FIELDS = ("reasoning", "reasoning_content")
# Answers that no retry and no other document will change: the stage stops on them.
FATAL_STATUS = {401: "the server refused the API key", 403: "the API key may not do this",
                404: "the server has no such model or endpoint"}  # fmt: skip


class HTTPStatusError(Exception):
    """A response other than 200, with the server's words and its ``Retry-After``."""

    def __init__(self, status: int, text: str, retry_after: str | None):
        super().__init__(f"HTTP {status}: {' '.join(text.split())[:ERROR_CHARS]}")
        self.status, self.retry_after = status, retry_after


class BadResponse(ValueError):
    """A 200 response whose body is not a chat completion."""


class ReplyTooLarge(ValueError):
    """A response longer than ``generate.max_reply_kb``."""


class DeadlinePassed(asyncio.TimeoutError):
    """The request ran past its deadline (``request_timeout`` plus its tokens' time)."""


def token_count(value) -> int:
    """A usage count as the server gave it, if it is one: not a string, not 10^30."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**40
    return value if ok else 0


def completion_of(text: str, attempts: int) -> Completion:
    """A Completion from the JSON body of a chat completion response."""
    try:
        reply = json.loads(text)
        choice = reply["choices"][0]
        content = choice["message"].get("content") or ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError):
        raise BadResponse(f"not a chat completion: {' '.join(str(text).split())[:120]!r}") from None
    usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
    if not isinstance(content, str):
        raise BadResponse(f"the reply's content is not text: {type(content).__name__}")
    finish = choice.get("finish_reason")
    return Completion(
        text=content,
        prompt_tokens=token_count(usage.get("prompt_tokens")),
        completion_tokens=token_count(usage.get("completion_tokens")),
        finish_reason=finish if isinstance(finish, str) else None,
        requests=attempts,
        reasoning=reasoning_of(choice["message"]),
        reasoning_tokens=reasoning_tokens(usage),
    )


def reasoning_of(message: dict) -> str:
    """A reasoning parser's field: ``reasoning`` (vLLM), ``reasoning_content`` (older vLLM,
    DeepSeek's API); "" when there is none or it is not text."""
    for field in REASONING_FIELDS:
        if isinstance(message.get(field), str):
            return message[field]
    return ""


def reasoning_tokens(usage: dict) -> int:
    """The reasoning's tokens, where the server counts them apart (OpenAI's usage details)."""
    details = usage.get("completion_tokens_details")
    return token_count(details.get("reasoning_tokens")) if isinstance(details, dict) else 0


class StreamedReply:
    """A reply read as the server streams it: its text, finish reason and usage so far, and the
    tokens received (one delta each), which a request cut short has cost all the same.
    ``most_chars`` bounds the text kept."""

    def __init__(self, most_chars: int):
        self.most_chars = most_chars
        self.parts: list[str] = []
        self.thought: list[str] = []  # a reasoning parser's deltas
        self.chars = 0
        self.tokens = 0
        self.finish: str | None = None
        self.usage: dict = {}
        self.ended = False
        self.pending = bytearray()

    def feed(self, piece: bytes) -> None:
        self.pending += piece
        *lines, rest = self.pending.split(b"\n")
        self.pending = bytearray(rest)
        for line in lines:
            self.event(bytes(line).strip())

    def event(self, line: bytes) -> None:
        if not line.startswith(b"data:"):  # blank separators, comments, event names
            return
        data = line[5:].strip()
        if data == b"[DONE]":
            self.ended = True
            return
        try:
            event = json.loads(data)
        except (ValueError, RecursionError):
            raise BadResponse(f"not a stream event: {data[:120]!r}") from None
        if not isinstance(event, dict):
            raise BadResponse(f"not a stream event: {data[:120]!r}")
        if "error" in event:  # a server that fails mid-stream says so in an event
            error = event["error"] if isinstance(event["error"], dict) else {}
            code = error.get("code")
            status = code if isinstance(code, int) and 400 <= code < 600 else 500
            raise HTTPStatusError(status, str(error.get("message", event["error"])), None)
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        choices = event.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if not isinstance(choice, dict):
                raise BadResponse("a stream event's choice is not an object")
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            text, thought = delta.get("content"), reasoning_of(delta)
            for part, into in ((text, self.parts), (thought, self.thought)):
                if isinstance(part, str) and part:
                    into.append(part)
                    self.chars += len(part)
                    if self.chars > self.most_chars:
                        kb = self.most_chars // 1024
                        raise ReplyTooLarge(f"reply over generate.max_reply_kb ({kb})")
            if text or thought:  # a reasoning model's thinking costs too
                self.tokens += 1
            if isinstance(choice.get("finish_reason"), str):
                self.finish = choice["finish_reason"]

    def completion(self, attempts: int) -> Completion:
        if self.pending.strip():
            self.event(bytes(self.pending).strip())
        if not self.ended and self.finish is None:
            raise BadResponse("the stream ended before the reply did")
        return Completion(
            text="".join(self.parts),
            prompt_tokens=token_count(self.usage.get("prompt_tokens")),
            completion_tokens=token_count(self.usage.get("completion_tokens")) or self.tokens,
            finish_reason=self.finish,
            requests=attempts,
            reasoning="".join(self.thought),
            reasoning_tokens=reasoning_tokens(self.usage),
        )


def classify(exc: BaseException, aiohttp, silence: float, deadline: float) -> tuple[str, bool, str]:
    """(cause, retry?, message) for a failed request; messages never include the API key."""
    if isinstance(exc, DeadlinePassed):
        return "timeout", True, f"request timed out: no reply within its deadline of {deadline:g} s"
    if isinstance(exc, ServerSilent):
        return "timeout", True, f"request timed out: the server sent nothing for {silence:g} s"
    if isinstance(exc, asyncio.TimeoutError):  # aiohttp's: no connection made in time
        return "timeout", True, "request timed out: no connection to the server"
    if isinstance(exc, aiohttp.ClientError):  # refused, reset, dropped mid-reply
        return "connection", True, f"connection failed: {type(exc).__name__}"
    if isinstance(exc, HTTPStatusError):
        if exc.status in FATAL_STATUS:
            return "fatal", False, f"{FATAL_STATUS[exc.status]} ({exc})"
        if exc.status == 429 and "insufficient_quota" in str(exc):  # no wait will bring credit
            return "fatal", False, f"the account's quota is spent ({exc})"
        if exc.status == 429:
            return "http_429", True, str(exc)
        if exc.status >= 500:
            return "http_5xx", True, str(exc)
        if exc.status == 400 and TOO_LONG.search(str(exc)):
            return "context", False, str(exc)
        return "http_4xx", exc.status in RETRYABLE_STATUS, str(exc)
    if isinstance(exc, ReplyTooLarge):
        return "too_large", False, str(exc)
    if isinstance(exc, BadResponse):
        return "bad_response", False, str(exc)
    return "bad_response", False, f"{type(exc).__name__}: {str(exc)[:ERROR_CHARS]}"
