"""The ``vllm`` backend: vLLM's offline engine, one per GPU worker, fed whole partitions at once.

The engine is expensive to build, so it is built once per worker process (``setup``), reused by
every task sent there (the judge and the translator included), and shut down when the LLM stages
end (``teardown``). It runs in a subprocess of its own (:mod:`docgen.generate.backends.vllm_host`):
vLLM starts processes, and Dask workers are daemons that may not. That process can run another
Python (``generate.engine_python``), one with vLLM installed, so docgen's own environment needs no
vLLM.

Chats go to ``LLM.chat`` in large batches so vLLM can schedule them together; JSON-schema
structured output constrains every reply, and prefix caching shares the system prompt's KV cache.
If a batch fails (one prompt too long, say), its chats are retried one by one so that only the
bad one fails; if the engine process dies, the chats in flight fail with cause ``engine`` and the
next batch starts a new one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from docgen.extract.isolate import receive, send
from docgen.generate.backends.base import ERROR_CHARS, TOO_LONG, Completion
from docgen.generate.backends.llm import LLMBackend


class EngineError(RuntimeError):
    """The engine process failed a request, or is gone."""


class EngineProcess:
    """One :mod:`docgen.generate.backends.vllm_host` process and the engine it built."""

    def __init__(self, python: str, engine_kwargs: dict):
        env = {"VLLM_LOGGING_LEVEL": "WARNING", **os.environ}
        self.proc = subprocess.Popen(
            [python, "-m", "docgen.generate.backends.vllm_host"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # its group holds the engine's own processes: stopped as one
        )
        try:
            self.ask("init", engine_kwargs)
        except EngineError:
            self.stop()
            raise

    def ask(self, kind: str, payload):
        try:
            send(self.proc.stdin, (kind, payload))
            answer, result = receive(self.proc.stdout)
        except (EOFError, OSError) as exc:
            code = self.proc.poll()
            how = f"exited with code {code}" if code is not None else f"unreachable ({exc})"
            self.stop()
            raise EngineError(f"the vLLM engine process {how}; see its log above") from None
        if answer == "error":
            raise EngineError(result)
        return result

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace: float = 60.0) -> None:
        """Close its input (the engine shuts down and the process ends), then kill what is left."""
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:  # a host that hangs goes with its group
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        kill_group(self.proc.pid)


def kill_group(pgid: int, wait: float = 10.0) -> None:
    """Kill what is left of a process group (the engine's own processes share the host's) and
    wait until it is gone."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.1)


BATCH_BYTES = 256 << 20  # of page images sent to the engine process at once


def batches(chats, size: int):
    """The chats' indices in batches of at most ``size`` chats and about ``BATCH_BYTES`` of
    images: large batches let vLLM schedule well; images bound them by memory."""
    batch, held = [], 0
    for k, chat in enumerate(chats):
        weight = sum(len(image) for image in chat.images)
        if batch and (len(batch) == size or held + weight > BATCH_BYTES):
            yield batch
            batch, held = [], 0
        batch.append(k)
        held += weight
    if batch:
        yield batch


def image_part(data: bytes) -> dict:
    """An image for ``LLM.chat``: the bytes, opened as a PIL image by the engine process."""
    return {"type": "image_pil", "image_pil": data}


class VLLMBackend(LLMBackend):
    name = "vllm"

    def __init__(self, cfg):
        super().__init__(cfg)
        if not cfg.model:
            raise ValueError("the vllm backend needs a model: set generate.model (name or path)")
        if not isinstance(cfg.engine_args, dict) or not all(
            isinstance(k, str) for k in cfg.engine_args
        ):
            raise ValueError(
                f"generate.engine_args must be a mapping of vllm.LLM arguments, e.g. "
                f"{{enforce_eager: true}}; got {cfg.engine_args!r}"
            )
        if cfg.engine_python is not None and not isinstance(cfg.engine_python, str):
            raise ValueError(f"generate.engine_python must be a path, got {cfg.engine_python!r}")
        self.engine: EngineProcess | None = None
        told = self.engine_kwargs().get("max_model_len")  # chats are cut to fit it
        self.context = told if isinstance(told, int) and told > self.cfg.max_tokens else None

    def engine_kwargs(self) -> dict:
        c = self.cfg
        kwargs = dict(
            model=c.model,
            tensor_parallel_size=c.tensor_parallel_size,
            gpu_memory_utilization=c.gpu_memory_utilization,
            enable_prefix_caching=True,
            seed=c.seed,
        )
        if c.max_model_len:
            kwargs["max_model_len"] = c.max_model_len
        if c.input != "text":  # vLLM takes no more images per prompt than it was told
            kwargs["limit_mm_per_prompt"] = {"image": c.max_images_per_request}
        return kwargs | dict(c.engine_args)

    def setup(self) -> None:
        """Nothing yet: the engine starts with the first batch, so that an engine that cannot
        start fails the chats (error rows naming the cause) rather than the task."""

    def start(self) -> None:
        python = self.cfg.engine_python or sys.executable
        try:
            self.engine = EngineProcess(python, self.engine_kwargs())
        except (EngineError, OSError) as exc:
            self.engine = None
            hint = (
                ""
                if "No module named 'vllm'" not in str(exc)
                else (
                    f" ({python} has no vLLM: `make vllm` builds .venv-vllm, the CPU or GPU "
                    "build as the machine has, then set generate.engine_python="
                    ".venv-vllm/bin/python; or pip install 'docgen[vllm]' on a GPU host)"
                )
            )
            raise ValueError(f"cannot start the vLLM engine: {exc}{hint}") from None

    def cache_params(self, schema: dict) -> dict:
        """The sampling alone (a cache key made before the schema was in it stays valid)."""
        return self.sampling()

    def sampling(self) -> dict:
        """Sent to the engine as SamplingParams' arguments; each chat's schema goes with it."""
        c = self.cfg
        params = {"temperature": c.temperature, "top_p": c.top_p, "max_tokens": c.max_tokens}
        if c.send_seed:
            params["seed"] = c.seed
        return params

    def complete(self, chats, done, budget) -> None:
        params = self.sampling()
        spent = 0
        for ks in batches(chats, max(1, self.cfg.concurrency) * 4):
            if budget is not None and spent >= budget:  # checked between batches
                for k in ks:
                    done(
                        k, Completion(cause="budget", error="token budget spent before this batch")
                    )
                continue
            for k, completion in self.run_batch([chats[k] for k in ks], params, ks):
                spent += completion.tokens
                done(k, completion)

    def run_batch(self, chats, params, ks):
        try:
            if self.engine is None or not self.engine.alive():
                self.start()
            schemas = [c.schema for c in chats]
            conversations = [c.wire_messages(image_part) for c in chats]
            outputs = self.engine.ask("chat", (conversations, params, schemas))
        except (EngineError, ValueError) as exc:  # isolate the chat that broke the batch
            if len(chats) == 1 or self.engine is None or not self.engine.alive():
                cause = "context" if TOO_LONG.search(str(exc)) else "engine"
                for k in ks:
                    yield k, Completion(requests=1, cause=cause, error=str(exc)[:ERROR_CHARS])
                return
            for chat, k in zip(chats, ks):
                yield from self.run_batch([chat], params, [k])
            return
        for k, (text, prompt_tokens, completion_tokens, finish) in zip(ks, outputs):
            yield (
                k,
                Completion(
                    text=text,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    finish_reason=finish,
                    requests=1,
                ),
            )

    @property
    def engine_id(self) -> str | None:
        """Which engine answered (its process id), for the manifest's count of engines."""
        return str(self.engine.proc.pid) if self.engine is not None else None

    def teardown(self) -> None:
        if self.engine is not None:
            self.engine.stop()
            self.engine = None
