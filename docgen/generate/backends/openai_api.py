"""The ``openai`` backend: any OpenAI-compatible chat server, first of all ``vllm serve``.

Requests go out through ``aiohttp``, many in flight at once, each server getting as many as its
window allows (docgen/generate/backends/window.py: it grows while the server answers promptly, up to
``concurrency``, and halves when it pushes back) and the next request going to the server with
the most room (through ``AsyncOpenAI``'s own HTTP client the same requests kept a real vLLM server
10-15% less busy: bench/llm_vllm.py). Replies are streamed, so a silent server
(``silence_timeout``) is told from a busy one, and a request's deadline grows with the tokens it
asks for. A request cut short is closed (the server stops its work) and its streamed tokens count
against the budget. 429s, 5xx, timeouts and dropped connections are retried with exponential
backoff and jitter (honouring ``Retry-After``), with another seed, up to ``max_attempts``; then
the chat is reported failed with its cause. The API key comes from the environment and is never
logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time

from docgen.core.secret import redact
from docgen.extract import images
from docgen.generate.backends.base import Completion
from docgen.generate.backends.llm import LLMBackend
from docgen.generate.backends.openai_wire import (
    FATAL_STATUS,
    DeadlinePassed,
    HTTPStatusError,
    ReplyTooLarge,
    StreamedReply,
    classify,
    completion_of,
)
from docgen.generate.backends.window import ServerSilent, Silence, Windows, signal_of


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
        self.model = self.check_servers()

    def check_servers(self) -> str:
        """The model to ask, checked with each server before any work: ``generate.model``, or
        the first model the first server lists (what ``vllm serve`` serves). A key the server
        refuses, or a model it does not serve, is one line here rather than a failed request
        for every document."""
        model, contexts = self.model, []
        for url in self.base_urls:
            served = self.served_models(url)
            model = model or next(iter(served or {}), "")
            if served is not None and model not in served:
                listed = ", ".join(list(served)[:5]) + (" ..." if len(served) > 5 else "")
                raise ValueError(f"{url} does not serve model {model!r}; it serves: {listed}")
            contexts.append((served or {}).get(model))
        if not model:
            raise ValueError(f"{self.base_urls[0]} lists no model: name one with generate.model")
        if all(contexts):  # vLLM says how long a prompt its model takes: chats are cut to fit
            self.context = min(contexts)
            if self.context - self.cfg.max_tokens < 256:
                raise ValueError(
                    f"generate.max_tokens ({self.cfg.max_tokens}) leaves no room for a prompt in "
                    f"{model}'s context of {self.context} tokens (from {self.base_urls[0]}/models)"
                )
        return model

    def served_models(self, url: str) -> dict[str, int | None] | None:
        """The models ``url`` lists (``/v1/models``), each with its context in tokens where the
        server says it (vLLM's ``max_model_len``); None where it lists none, or cannot be
        reached while a model is named."""
        import openai

        client = openai.OpenAI(base_url=url, api_key=api_key_of(self.cfg), max_retries=2,
                               timeout=30)  # fmt: skip
        try:
            return {m.id: context_of(m) for m in client.models.list().data}
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

    def response_format(self, schema: dict) -> dict | None:
        """The structured output asked for a chat with reply ``schema``."""
        if self.structured_output == "json_schema":
            schema = {"name": "qa_pairs", "schema": schema, "strict": True}
            return {"type": "json_schema", "json_schema": schema}
        if self.structured_output == "json_object":
            return {"type": "json_object"}
        return None

    def complete(self, chats, done, budget) -> None:
        asyncio.run(self._complete(chats, done, budget))

    async def _complete(self, chats, done, budget) -> None:
        import aiohttp

        cfg = self.cfg
        most_per_url = max(1, cfg.concurrency)
        silence = cfg.silence_timeout if cfg.stream else None  # whole replies come at the end
        deadline = cfg.request_timeout + cfg.max_tokens / cfg.min_tokens_per_second
        sessions = [
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=most_per_url, keepalive_timeout=30),
                headers={"Authorization": f"Bearer {api_key_of(cfg)}"},
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
            )
            for _ in self.base_urls
        ]
        windows = Windows(len(sessions), most_per_url, late=(silence or deadline) / 2)
        quiet = Silence(len(sessions), silence) if silence else None
        spent = [0]
        # The request body is built here once and sent as it is: no typed client walks every
        # argument (the JSON schema included) or builds objects for every reply.
        body = {
            "model": self.model,
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
            "max_tokens": cfg.max_tokens,
        }
        if cfg.stream:
            body |= {"stream": True, "stream_options": {"include_usage": True}}

        def request_body(chat, attempt: int) -> dict:
            fmt = self.response_format(chat.schema)
            messages = chat.wire_messages(image_url_part)  # images inline, made as it is sent
            # A retry samples anew: the same seed would redo the reply that timed out.
            seed = {"seed": cfg.seed + attempt - 1} if cfg.send_seed else {}
            fmt = {"response_format": fmt} if fmt else {}
            return {**body, **seed, "messages": messages, **fmt}

        key, most = api_key_of(cfg), cfg.max_reply_kb * 1024
        # A streamed reply carries ~150 bytes of envelope per token: its text is held to `most`,
        # the bytes read to that plus the envelopes of max_tokens tokens.
        most_bytes = most + (512 * cfg.max_tokens if cfg.stream else 0)
        stopped = []  # a fatal answer: no more requests of this task are sent
        # Until this process has had one answer from the server, one request goes alone: a key
        # refused or a model missing (a fatal answer) then costs one request, not a batch.
        first_answer = asyncio.Event()
        if self.answered:
            first_answer.set()
        asking = []

        async def post(i: int, chat, attempt: int, reply: StreamedReply, clock: dict) -> Completion:
            url = f"{self.base_urls[i]}/chat/completions"
            listen = quiet.listen(i, clock) if quiet else contextlib.nullcontext()
            async with listen, sessions[i].post(url, json=request_body(chat, attempt)) as response:
                raw = bytearray()
                async for piece in response.content.iter_any():
                    if quiet:
                        quiet.hear(i, clock)
                    clock.setdefault("first_byte", time.monotonic() - clock["sent"])
                    if response.status != 200 or not cfg.stream:
                        raw += piece
                    else:
                        reply.feed(piece)
                    clock["bytes"] = clock.get("bytes", 0) + len(piece)
                    if clock["bytes"] > most_bytes:  # read no further: bounded memory
                        raise ReplyTooLarge(f"reply over generate.max_reply_kb ({most // 1024})")
                text = redact(raw.decode("utf-8", errors="replace"), key)
                if response.status != 200:
                    raise HTTPStatusError(
                        response.status, text, response.headers.get("retry-after")
                    )
                if not cfg.stream:
                    return completion_of(text, attempt)
            completion = reply.completion(attempt)
            completion.text = redact(completion.text, key)
            return completion

        async def one(k: int, chat) -> None:
            attempts, streamed = 0, 0  # streamed: tokens of replies cut short, spent all the same
            while True:
                if not first_answer.is_set():
                    if asking:
                        await first_answer.wait()
                        continue  # the answer may have been fatal
                    asking.append(k)
                i, started = await windows.take()  # the budget is checked with a place taken
                if stopped or (budget is not None and spent[0] >= budget):
                    await windows.give(i, started, "none", None)
                    if stopped:
                        error, cause = stopped[0], "fatal"
                    else:
                        error, cause = "token budget spent before this request", "budget"
                    done(k, Completion(requests=attempts, cause=cause, error=error,
                                       completion_tokens=streamed))  # fmt: skip
                    first_answer.set()  # the others, waiting on the request that went alone
                    return
                attempts += 1
                reply, clock = StreamedReply(most), {"sent": time.monotonic()}
                try:
                    try:
                        async with asyncio.timeout(deadline):
                            completion = await post(i, chat, attempts, reply, clock)
                    except TimeoutError as exc:
                        if isinstance(exc, ServerSilent | aiohttp.ServerTimeoutError):
                            raise  # the server's silence, or no connection: not the deadline
                        raise DeadlinePassed() from None
                    self.answered = True
                except Exception as exc:  # noqa: BLE001 - every failure becomes a cause
                    cause, retry, message = classify(exc, aiohttp, silence or 0, deadline)
                    message = redact(message, key)  # a server may quote the request's header
                    status = getattr(exc, "status", None)
                    streamed += reply.tokens
                    spent[0] += reply.tokens
                    await windows.give(i, started, signal_of(cause, status), None)
                    if cause == "fatal":
                        stopped.append(message)
                    if not retry or attempts >= cfg.max_attempts:
                        if retry:
                            message += f" (gave up after {attempts} attempts)"
                        done(k, Completion(requests=attempts, cause=cause, error=message,
                                           completion_tokens=streamed))  # fmt: skip
                        return
                    wait = backoff(attempts, cfg.backoff_base, cfg.backoff_max,
                                   retry_after_of(exc))  # fmt: skip
                    await asyncio.sleep(wait)
                    continue
                finally:
                    first_answer.set()
                first_byte = clock.get("first_byte") if cfg.stream else None
                await windows.give(i, started, "ok", first_byte)
                spent[0] += completion.tokens  # what attempts cut short streamed is in already
                completion.completion_tokens += streamed
                done(k, completion)
                return

        try:
            await asyncio.gather(*(one(k, chat) for k, chat in enumerate(chats)))
        finally:
            if quiet:
                quiet.close()
            for session in sessions:
                await session.close()


def context_of(model) -> int | None:
    """A listed model's ``max_model_len``, if the server gave a sane one."""
    value = (model.model_extra or {}).get("max_model_len")
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31
    return value if ok else None


def image_url_part(data: bytes) -> dict:
    return {"type": "image_url", "image_url": {"url": images.data_url(data)}}
