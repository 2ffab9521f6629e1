"""How ``docgen plan`` counts a chat's prompt tokens, closest first: the model's processor
(a vision-language model: its chat template, its tokenizer and the image tokens it expands each
page into, as vLLM counts them), the model's tokenizer and chat template (text only), or
docgen's tokenizer-free estimate (:meth:`docgen.generate.chats.Chat.estimated_tokens`)."""

from __future__ import annotations

import io
from pathlib import Path

PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json")  # as transformers saves


def counted_with(model: str | None) -> str:
    """``processor``, ``tokenizer`` or ``estimate``: what :func:`token_counter` will use."""
    if model and any(Path(model, f).exists() for f in PROCESSOR_FILES):
        return "processor"
    if model and Path(model, "tokenizer_config.json").exists():
        return "tokenizer"
    if model and Path(model).is_dir():
        raise ValueError(f"no tokenizer in {model} (tokenizer_config.json): --tokenizer DIR")
    return "estimate"


def token_counter(model: str | None):
    """A function of a chat: its prompt tokens, counted as :func:`counted_with` says."""
    how = counted_with(model)
    if how == "processor":
        return processor_counter(model)
    if how == "tokenizer":
        return tokenizer_counter(model)
    return lambda chat: chat.estimated_tokens()


def text_only(chat) -> list[dict]:
    return [{"role": m["role"], "content": m["content"] if isinstance(m["content"], str)
             else " ".join(p.get("text", "") for p in m["content"])}
            for m in chat.messages]  # fmt: skip


def tokenizer_counter(model: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)

    def counted(chat) -> int:
        ids = tokenizer.apply_chat_template(text_only(chat), add_generation_prompt=True,
                                            tokenize=True, return_dict=True)  # fmt: skip
        return len(ids["input_ids"])

    return counted


def parts(content) -> list[dict]:
    """A message's content as the processor's chat template reads it: text and image parts."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [{"type": "image"} if p["type"] == "image_url" else {"type": "text", "text": p["text"]}
            for p in content]  # fmt: skip


def processor_counter(model: str):
    from PIL import Image
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(model)

    def counted(chat) -> int:
        messages = [{"role": m["role"], "content": parts(m["content"])} for m in chat.messages]
        prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
        images = [Image.open(io.BytesIO(b)).convert("RGB") for b in chat.images]
        ids = processor(text=prompt, images=images or None)["input_ids"]
        return len(ids[0])

    return counted
