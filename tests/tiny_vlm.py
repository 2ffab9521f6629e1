"""A tiny, randomly initialised Idefics3 vision-language model (the one ``docgen train --model
tiny`` builds, sized for vLLM's CPU attention: heads of 64), so that the tests can serve page
images with real vLLM without downloading anything.

Run with a Python that has vLLM (and docgen, installed without its dependencies, as ``make vllm``
does): ``python tests/tiny_vlm.py OUT_DIR TEXTS_FILE [idefics3]``; with ``idefics3``, pages are
cut into tiles as Idefics3-8B cuts them (364-pixel tiles, up to 4x4 and a global image, 169
tokens each), so that a page costs the prompt tokens it costs that model (bench/vision.py). Like
tests/tiny_llm.py, its vocabulary holds many tokens that end a JSON string, so that its random
strings end soon.
"""

import sys
from pathlib import Path

from tiny_llm import MAX_POSITIONS, quoted_tokens

from docgen.core.train_config import TinyModelConfig
from docgen.train.tiny import build_model, build_processor

# Idefics3-8B's image geometry: 364-pixel tiles of 14-pixel patches, pixel shuffle 2.
IDEFICS3 = {"image_size": 364, "patch_size": 14, "scale_factor": 2, "max_tiles_per_side": 4,
            "max_positions": 32768}  # fmt: skip


def build(out: Path, texts: list[str], geometry: dict | None = None) -> None:
    import torch

    cfg = TinyModelConfig(
        vocab_size=1000,
        hidden_size=128,  # two heads of 64, in the language model and in the vision encoder
        heads=2,
        vision_hidden_size=128,
        vision_heads=2,
        **{"max_positions": MAX_POSITIONS, **(geometry or {})},
    )
    processor = build_processor(texts, cfg)
    processor.tokenizer.add_tokens(quoted_tokens(texts))
    model = build_model(processor, cfg)
    model.to(torch.float32).save_pretrained(out)
    processor.save_pretrained(out)


if __name__ == "__main__":
    out, texts = Path(sys.argv[1]), Path(sys.argv[2]).read_text("utf-8").split("\n\f\n")
    out.mkdir(parents=True, exist_ok=True)
    build(out, texts, IDEFICS3 if sys.argv[3:] == ["idefics3"] else None)
