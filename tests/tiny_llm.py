"""A tiny, randomly initialised Qwen2 chat model with a tokenizer trained on the sample texts, so
that the tests can run real vLLM (its CPU build) without downloading anything.

Run with a Python that has vLLM, which brings transformers and tokenizers with it:
``python tests/tiny_llm.py OUT_DIR TEXTS_FILE [--think]``. Its replies are noise: under a
JSON-schema grammar they are valid JSON whose strings are random, which is what the tests want
to see handled.
So that its strings end soon (a random model picks the closing quote one time in a vocabulary),
the vocabulary holds many tokens that end with one: a character followed by ``"``. With
``--think`` its vocabulary also holds ``<think>`` and ``</think>``, which vLLM's reasoning parsers
look for: served with one, its noise is all reasoning, never finished.
"""

import sys
from collections import Counter
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
MAX_POSITIONS = 8192
QUOTED = 400  # tokens "<character>\"": about a third of the vocabulary


def quoted_tokens(texts: list[str]) -> list[str]:
    """Tokens that end a JSON string: the commonest characters of ``texts``, each with a ``"``."""
    common = Counter(c for t in texts for c in t if c.isprintable() and c not in '"\\')
    return [c + '"' for c, _ in common.most_common(QUOTED)]


def build(out: Path, texts: list[str], think: bool = False) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + (
        ["<think>", "</think>"] if think else []
    )
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1000,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # any text can be written
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.add_tokens(quoted_tokens(texts))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(fast),
        hidden_size=128,  # two heads of 64: vLLM's CPU attention rejects smaller heads
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=MAX_POSITIONS,
        eos_token_id=fast.eos_token_id,
        bos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
    )
    Qwen2ForCausalLM(config).to(torch.float32).save_pretrained(out)


if __name__ == "__main__":
    out, texts = Path(sys.argv[1]), Path(sys.argv[2]).read_text("utf-8").split("\n\f\n")
    out.mkdir(parents=True, exist_ok=True)
    build(out, texts, think="--think" in sys.argv[3:])
