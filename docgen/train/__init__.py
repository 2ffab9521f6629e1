"""The bundled trainer: fine-tune an Idefics3-style VLM on docgen's shards and score it (ANLS).

Heavy imports (torch, transformers, peft) stay inside the functions that need them.
"""
