"""A stand-in for ``vllm`` where it is not installed: ``LLM.chat`` answers like tests/fake_llm.py.

Put ``tests/stand_in`` on ``PYTHONPATH`` to use it (Dask worker processes inherit it). Every engine
built and every ``chat`` call is appended to the JSONL file named by ``$VLLM_STAND_IN_LOG``, so
tests can check how many engines there were, in which processes, and what each call was sent.
"""

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from vllm.sampling_params import SamplingParams, StructuredOutputsParams

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from fake_llm import answer_pairs  # noqa: E402

__all__ = ["LLM", "SamplingParams", "StructuredOutputsParams"]


def log(event: dict) -> None:
    path = os.environ.get("VLLM_STAND_IN_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"pid": os.getpid(), **event}, default=str) + "\n")


@dataclass
class CompletionOutput:
    text: str
    token_ids: list[int]
    finish_reason: str = "stop"


@dataclass
class RequestOutput:
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput] = field(default_factory=list)


class LLM:
    def __init__(self, model: str, **kwargs):
        self.model = model
        log({"event": "init", "model": model, **kwargs})

    def chat(self, messages, sampling_params, use_tqdm=True):
        prompts = [
            "\n".join(m["content"] for m in conv if m["role"] == "user") for conv in messages
        ]
        log({"event": "chat", "batch": len(messages),
             "schema": sampling_params.structured_outputs.json,
             "temperature": sampling_params.temperature})  # fmt: skip
        if any("TOO LONG" in p for p in prompts):
            raise ValueError("prompt is longer than the maximum model length")
        outputs = []
        for prompt in prompts:
            text = json.dumps({"pairs": answer_pairs(prompt, 4)}, ensure_ascii=False)
            outputs.append(
                RequestOutput(
                    prompt_token_ids=list(range(len(prompt) // 4)),
                    outputs=[CompletionOutput(text=text, token_ids=list(range(len(text) // 4)))],
                )
            )
        return outputs
