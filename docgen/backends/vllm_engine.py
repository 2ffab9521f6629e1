"""The ``vllm`` backend: vLLM's offline engine, one per GPU worker, fed whole partitions at once.

The engine is built once per worker process (``setup``) and reused for every task sent there.
Chats go to ``LLM.chat`` in large batches so vLLM can schedule them together; JSON-schema
structured output constrains every reply, and prefix caching shares the system prompt's KV cache.
If a batch raises (one prompt too long, say), its chats are retried one by one so that only the
bad one fails. vllm is an optional extra (``pip install 'docgen[vllm]'``), imported here only.
"""

from __future__ import annotations

from docgen.backends.llm import Completion, LLMBackend


class VLLMBackend(LLMBackend):
    name = "vllm"

    def __init__(self, cfg):
        super().__init__(cfg)
        if not cfg.model:
            raise ValueError("the vllm backend needs a model: set generate.model (name or path)")
        self.llm = None

    def setup(self) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise ValueError(
                "the vllm backend needs vLLM and a GPU: pip install 'docgen[vllm]'"
            ) from None
        kwargs = dict(
            model=self.cfg.model,
            tensor_parallel_size=self.cfg.tensor_parallel_size,
            gpu_memory_utilization=self.cfg.gpu_memory_utilization,
            enable_prefix_caching=True,
            seed=self.cfg.seed,
        )
        if self.cfg.max_model_len:
            kwargs["max_model_len"] = self.cfg.max_model_len
        self.llm = LLM(**kwargs)

    def sampling_params(self):
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        return SamplingParams(
            temperature=self.cfg.temperature,
            top_p=self.cfg.top_p,
            max_tokens=self.cfg.max_tokens,
            seed=self.cfg.seed,
            structured_outputs=StructuredOutputsParams(json=self.prompts.schema),
        )

    def complete(self, chats, done, budget) -> None:
        if self.llm is None:
            self.setup()
        params = self.sampling_params()
        batch = max(1, self.cfg.concurrency) * 4  # the budget is checked between batches
        spent = 0
        for start in range(0, len(chats), batch):
            ks = list(range(start, min(start + batch, len(chats))))
            if budget is not None and spent >= budget:
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
            outputs = self.llm.chat([c.messages for c in chats], params, use_tqdm=False)
        except Exception as exc:  # noqa: BLE001 - isolate the chat that broke the batch
            if len(chats) == 1:
                yield (
                    ks[0],
                    Completion(
                        requests=1, cause="engine", error=f"{type(exc).__name__}: {str(exc)[:200]}"
                    ),
                )
                return
            for chat, k in zip(chats, ks):
                yield from self.run_batch([chat], params, [k])
            return
        for k, out in zip(ks, outputs):
            best = out.outputs[0]
            yield (
                k,
                Completion(
                    text=best.text,
                    prompt_tokens=len(out.prompt_token_ids or []),
                    completion_tokens=len(best.token_ids or []),
                    finish_reason=best.finish_reason,
                    requests=1,
                ),
            )

    def teardown(self) -> None:
        self.llm = None
