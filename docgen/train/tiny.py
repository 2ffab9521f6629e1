"""``--model tiny``: a small, randomly initialised Idefics3 and its processor, built offline.

The tokenizer is a byte-level BPE trained on the dataset's own questions and answers, so any
script (Arabic, CJK, Hangul) is covered with no download. Every special token the Idefics3
processor looks up (``<image>``, ``<fake_token_around_image>``, ``<global-img>``, the 36
``<row_i_col_j>`` tile tokens, ``<end_of_utterance>``) is in the vocabulary before the processor
is built: it reads their ids in its constructor and would silently get the unknown id otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

from docgen.core.train_config import TinyModelConfig

BOS, PAD = "<|im_start|>", "<pad>"
END_OF_UTTERANCE = "<end_of_utterance>"
IMAGE_TOKENS = [
    "<fake_token_around_image>",
    "<image>",
    "<global-img>",
    *[f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)],
]
SPECIAL_TOKENS = [PAD, BOS, END_OF_UTTERANCE, *IMAGE_TOKENS]

# The chat layout Idefics3 and SmolVLM were trained with; the trainer writes the same strings.
CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE fast tokenizer trained on ``texts``, with every special token added."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=END_OF_UTTERANCE,
        pad_token=PAD,
        additional_special_tokens=IMAGE_TOKENS,
        model_max_length=1 << 20,
    )


def build_processor(texts: Iterable[str], cfg: TinyModelConfig):
    """The Idefics3 processor of the tiny model: PIL image processor + the trained tokenizer."""
    from transformers import Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import (
        Idefics3ImageProcessorPil,
    )

    tokenizer = train_tokenizer(texts, cfg.vocab_size)
    side = cfg.image_size
    images = Idefics3ImageProcessorPil(
        size={"longest_edge": side * cfg.max_tiles_per_side},
        max_image_size={"longest_edge": side},
        do_image_splitting=True,
    )
    seq_len = (side // cfg.patch_size) ** 2 // cfg.scale_factor**2
    return Idefics3Processor(images, tokenizer, image_seq_len=seq_len, chat_template=CHAT_TEMPLATE)


def build_model(processor, cfg: TinyModelConfig, seed: int = 0):
    """A randomly initialised ``Idefics3ForConditionalGeneration`` sized by ``cfg``."""
    import torch
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration

    tok = processor.tokenizer
    assert cfg.image_size % (cfg.patch_size * cfg.scale_factor) == 0, (
        "image_size must be a multiple of patch_size * scale_factor for the pixel shuffle"
    )
    config = Idefics3Config(
        vision_config=dict(
            hidden_size=cfg.vision_hidden_size,
            intermediate_size=cfg.vision_intermediate_size or cfg.vision_hidden_size * 4,
            num_hidden_layers=cfg.vision_layers,
            num_attention_heads=cfg.vision_heads or cfg.heads,
            image_size=cfg.image_size,
            patch_size=cfg.patch_size,
        ),
        text_config=dict(
            model_type="llama",
            vocab_size=max(len(tok), cfg.model_vocab_size),
            hidden_size=cfg.hidden_size,
            intermediate_size=cfg.intermediate_size or cfg.hidden_size * 4,
            num_hidden_layers=cfg.layers,
            num_attention_heads=cfg.heads,
            num_key_value_heads=cfg.kv_heads or cfg.heads,
            max_position_embeddings=cfg.max_positions,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
            tie_word_embeddings=cfg.tie_embeddings,
        ),
        image_token_id=processor.image_token_id,
        scale_factor=cfg.scale_factor,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=cfg.tie_embeddings,
    )
    torch.manual_seed(seed)
    model = Idefics3ForConditionalGeneration(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.bos_token_id = tok.bos_token_id
    return model
