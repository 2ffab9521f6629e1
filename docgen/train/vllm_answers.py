"""``docgen eval`` through vLLM's offline engine: every question of a batch sent at once.

The engine runs in docgen's engine process (:mod:`docgen.generate.backends.vllm_host`, possibly
under another Python that has vLLM: ``eval.engine_python``). Each question goes as the trainer's own
prompt, ``<image>`` once per page: vLLM's processor for the model expands each into the image's
tokens as the model's own processor does, so the engine sees the tokens transformers sees.
Greedy decoding; the answer's tokens are decoded here with the model's tokenizer, as the
transformers path decodes its own.
"""

from __future__ import annotations

import importlib.util
import sys

from docgen.core.train_config import EvalConfig

BATCH = 256  # questions sent to the engine at once: enough for vLLM to schedule well


def wanted(cfg: EvalConfig) -> bool:
    """Whether ``cfg`` asks for the vLLM engine (``auto``: when one can be started)."""
    if cfg.engine != "auto":
        return cfg.engine == "vllm"
    return bool(cfg.engine_python) or importlib.util.find_spec("vllm") is not None


class VLLMAnswers:
    """Greedy answers to batches of questions from vLLM's engine, loaded with ``model_dir``."""

    def __init__(self, model_dir: str, processor, cfg: EvalConfig, max_images: int):
        import torch

        from docgen.generate.backends.vllm_engine import EngineError, EngineProcess

        if not isinstance(cfg.engine_args, dict):
            raise ValueError(f"eval.engine_args must be a mapping, got {cfg.engine_args!r}")
        self.tok, self.cfg = processor.tokenizer, cfg
        self.image_token = processor.image_token
        self.bos = self.tok.bos_token or ""
        self.eou = processor.end_of_utterance_token
        kwargs = {
            "model": model_dir,
            "dtype": "bfloat16" if torch.cuda.is_available() else "float32",  # as transformers
            "seed": 0,
            "limit_mm_per_prompt": {"image": max(1, max_images)},
            **cfg.engine_args,
        }
        python = cfg.engine_python or sys.executable
        try:
            self.engine = EngineProcess(python, kwargs)
        except (EngineError, OSError) as exc:
            hint = (
                f" ({python} has no vLLM: `make vllm` builds .venv-vllm; set "
                "eval.engine_python=.venv-vllm/bin/python, or eval.engine=transformers)"
                if "No module named 'vllm'" in str(exc)
                else ""
            )
            raise ValueError(f"cannot start the vLLM engine: {exc}{hint}") from None

    def __call__(self, items: list[dict]) -> list[str]:
        prompts = [
            {
                "prompt": f"{self.bos}User:{self.image_token * len(it['row']['images'])}"
                f"{it['question']}{self.eou}\nAssistant:",
                "images": [image["bytes"] for image in it["row"]["images"]],
            }
            for it in items
        ]
        sampling = {
            "temperature": 0.0,
            "max_tokens": self.cfg.max_new_tokens,
            "stop_token_ids": [self.tok.convert_tokens_to_ids(self.eou)],
        }
        outputs = self.engine.ask("generate", (prompts, sampling))
        return [self.tok.decode(ids, skip_special_tokens=True).strip() for ids, _, _ in outputs]

    def close(self) -> None:
        self.engine.stop()
