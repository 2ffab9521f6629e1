"""The ``openai`` backend: any OpenAI-compatible chat server, first of all ``vllm serve``.

Requests go out through ``aiohttp`` with many in flight at once (``concurrency`` per base URL,
enough to keep a vLLM server's batch full) and are spread over the base URLs by picking the one
with the fewest requests in flight (through ``AsyncOpenAI``'s own HTTP client the same requests
kept a real vLLM server 10-15% less busy: bench/llm_vllm.py). 429s, 5xx, timeouts and dropped
connections are retried with exponential backoff and jitter (honouring ``Retry-After``) up to
``max_attempts``; then the chat is reported failed with its cause. The API key comes from the
environment and is never logged.
"""

from __future__ import annotations

import asyncio
import json
import os
import random

from docgen import images
from docgen.backends import ERROR_CHARS
from docgen.backends.llm import Completion, LLMBackend
from docgen.secret import redact

RETRYABLE_STATUS = {408, 409, 429}
# Answers that no retry and no other document will change: the stage stops on them.
FATAL_STATUS = {401: "the server refused the API key", 403: "the API key may not do this",
                404: "the server has no such model or endpoint"}  # fmt: skip


def base_urls_of(cfg) -> list[str]:
    urls = list(cfg.base_urls) or [u for u in [os.environ.get("OPENAI_BASE_URL")] if u]
    if not urls:
        raise ValueError(
            "the openai backend needs a server: set generate.base_urls "
            "(e.g. --base-url http://127.0.0.1:8000/v1) or OPENAI_BASE_URL"
        )
    return [u.rstrip("/") for u in urls]


def api_key_of(cfg) -> str:
    # vLLM without --api-key accepts any key; the client insists on having one.
    return os.environ.get(cfg.api_key_env) or "EMPTY"


def backoff(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with 'equal jitter': half the delay fixed, half random."""
    delay = min(cap, base * 2 ** (attempt - 1))
    delay = delay / 2 + random.uniform(0, delay / 2)
    return min(cap, max(delay, retry_after or 0.0))


def retry_after_of(exc) -> float | None:
    try:
        return float(exc.retry_after)
    except (AttributeError, TypeError, ValueError):
        return None


class HTTPStatusError(Exception):
    """A response other than 200, with the server's words and its ``Retry-After``."""

    def __init__(self, status: int, text: str, retry_after: str | None):
        super().__init__(f"HTTP {status}: {' '.join(text.split())[:ERROR_CHARS]}")
        self.status, self.retry_after = status, retry_after


class OpenAIBackend(LLMBackend):
    name = "openai"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.base_urls = base_urls_of(cfg)
        self.answered = False  # has the server answered one request of this process yet

    def configure(self, cfg) -> None:
        super().configure(cfg)
        if cfg.structured_output not in ("json_schema", "json_object", "none"):
            raise ValueError("generate.structured_output must be json_schema, json_object or none")
        self.structured_output = cfg.structured_output

    def setup(self) -> None:
        if not self.model:
            self.model = self.check_servers()

    def check_servers(self) -> str:
        """The model to ask, checked with each server before any work: ``generate.model``, or
        the first model the first server lists (what ``vllm serve`` serves). A key the server
        refuses, or a model it does not serve, is one line here rather than a failed request
        for every document."""
        model = self.model
        for url in self.base_urls:
            served = self.served_models(url)
            model = model or (served[0] if served else "")
            if served is not None and model not in served:
                listed = ", ".join(served[:5]) + (" ..." if len(served) > 5 else "")
                raise ValueError(f"{url} does not serve model {model!r}; it serves: {listed}")
        if not model:
            raise ValueError(f"{self.base_urls[0]} lists no model: name one with generate.model")
        return model

    def served_models(self, url: str) -> list[str] | None:
        """The models ``url`` lists (``/v1/models``); None where it lists none, or cannot be
        reached while a model is named."""
        import openai

        client = openai.OpenAI(base_url=url, api_key=api_key_of(self.cfg), max_retries=2,
                               timeout=30)  # fmt: skip
        try:
            return [m.id for m in client.models.list().data]
        except openai.NotFoundError:
            return None
        except openai.APIStatusError as exc:
            why = FATAL_STATUS.get(exc.status_code, "it answered an error")
            raise ValueError(
                f"{url}: {why} (HTTP {exc.status_code} listing its models; the key is read "
                f"from ${self.cfg.api_key_env})"
            ) from None
        except openai.OpenAIError as exc:
            if self.model:  # checked no further: answers in the cache need no server
                return None
            raise ValueError(
                f"cannot list models at {url} ({type(exc).__name__}); is the server up? "
                "Or name the model with generate.model"
            ) from None
        finally:
            client.close()

    def response_format(self, schema: dict | None = None) -> dict | None:
        """The structured output asked for: ``schema`` (a chat's own) or the prompt set's."""
        if self.structured_output == "json_schema":
            schema = {"name": "qa_pairs", "schema": schema or self.prompts.schema, "strict": True}
            return {"type": "json_schema", "json_schema": schema}
        if self.structured_output == "json_object":
            return {"type": "json_object"}
        return None

    def complete(self, chats, done, budget) -> None:
        asyncio.run(self._complete(chats, done, budget))

    async def _complete(self, chats, done, budget) -> None:
        import aiohttp

        cfg = self.cfg
        per_url = max(1, cfg.concurrency)
        headers = {"Authorization": f"Bearer {api_key_of(cfg)}"}
        timeout = aiohttp.ClientTimeout(total=cfg.request_timeout)
        sessions = [
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=per_url, keepalive_timeout=30),
                headers=headers,
                timeout=timeout,
            )
            for _ in self.base_urls
        ]
        in_flight = [0] * len(sessions)
        gate = asyncio.Semaphore(per_url * len(self.base_urls))
        spent = [0]
        # The request body is built here once and sent as it is: no typed client walks every
        # argument (the JSON schema included) or builds objects for every reply.
        body = {
            "model": self.model,
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
            "max_tokens": cfg.max_tokens,
        }
        if cfg.send_seed:
            body["seed"] = cfg.seed

        turn = [0]

        def request_body(chat) -> dict:
            fmt = self.response_format(chat.schema)
            messages = chat.wire_messages(image_url_part)  # images inline, made as it is sent
            return {**body, "messages": messages} | ({"response_format": fmt} if fmt else {})

        def pick() -> int:
            """The server with the fewest requests in flight (ties taken in turn)."""
            least = min(in_flight)
            tied = [u for u, n in enumerate(in_flight) if n == least]
            turn[0] += 1
            return tied[turn[0] % len(tied)]

        key, most = api_key_of(cfg), cfg.max_reply_kb * 1024
        stopped = []  # a fatal answer: no more requests of this task are sent
        # Until this process has had one answer from the server, one request goes alone: a key
        # refused or a model missing (a fatal answer) then costs one request, not a batch.
        first_answer = asyncio.Event()
        if self.answered:
            first_answer.set()
        asking = []

        async def post(i: int, chat) -> str:
            url = f"{self.base_urls[i]}/chat/completions"
            async with sessions[i].post(url, json=request_body(chat)) as reply:
                body = bytearray()
                async for piece in reply.content.iter_chunked(1 << 16):
                    body += piece
                    if len(body) > most:  # read no further: a bounded reply, bounded memory
                        raise ReplyTooLarge(
                            f"reply over generate.max_reply_kb ({cfg.max_reply_kb})"
                        )
                text = redact(body.decode("utf-8", errors="replace"), key)
                if reply.status != 200:
                    raise HTTPStatusError(reply.status, text, reply.headers.get("retry-after"))
                return text

        async def one(k: int, chat) -> None:
            attempts = 0
            async with gate:
                while True:
                    if budget is not None and spent[0] >= budget:
                        done(
                            k,
                            Completion(
                                requests=attempts,
                                cause="budget",
                                error="token budget spent before this request",
                            ),
                        )
                        return
                    if stopped:
                        done(k, Completion(requests=attempts, cause="fatal", error=stopped[0]))
                        return
                    if not first_answer.is_set():
                        if asking:
                            await first_answer.wait()
                            continue  # the answer may have been fatal
                        asking.append(k)
                    attempts += 1
                    i = pick()
                    in_flight[i] += 1
                    try:
                        completion = completion_of(await post(i, chat), attempts)
                        self.answered = True
                    except Exception as exc:  # noqa: BLE001 - every failure becomes a cause
                        cause, retry, message = classify(exc, aiohttp)
                        if cause == "fatal":
                            stopped.append(message)
                        if not retry or attempts >= cfg.max_attempts:
                            if retry:
                                message += f" (gave up after {attempts} attempts)"
                            done(k, Completion(requests=attempts, cause=cause, error=message))
                            return
                        wait = backoff(
                            attempts, cfg.backoff_base, cfg.backoff_max, retry_after_of(exc)
                        )
                        await asyncio.sleep(wait)
                        continue
                    finally:
                        in_flight[i] -= 1
                        first_answer.set()
                    spent[0] += completion.tokens
                    done(k, completion)
                    return

        try:
            await asyncio.gather(*(one(k, chat) for k, chat in enumerate(chats)))
        finally:
            for session in sessions:
                await session.close()


def image_url_part(data: bytes) -> dict:
    return {"type": "image_url", "image_url": {"url": images.data_url(data)}}


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
    )


def token_count(value) -> int:
    """A usage count as the server gave it, if it is one: not a string, not 10^30."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**40
    return value if ok else 0


class BadResponse(ValueError):
    """A 200 response whose body is not a chat completion."""


class ReplyTooLarge(ValueError):
    """A response longer than ``generate.max_reply_kb``."""


def classify(exc: Exception, aiohttp) -> tuple[str, bool, str]:
    """(cause, retry?, message) for a failed request; messages never include the API key."""
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout", True, "request timed out"
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
        return "http_4xx", exc.status in RETRYABLE_STATUS, str(exc)
    if isinstance(exc, ReplyTooLarge):
        return "too_large", False, str(exc)
    if isinstance(exc, BadResponse):
        return "bad_response", False, str(exc)
    return "bad_response", False, f"{type(exc).__name__}: {str(exc)[:ERROR_CHARS]}"
