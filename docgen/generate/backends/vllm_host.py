"""The process that holds vLLM's offline engine for the ``vllm`` backend.

vLLM's engine starts processes of its own (its engine core, one worker per GPU), and a Dask worker
is a daemonic process, which may not have children: so the engine lives here, in a plain
subprocess of the worker (``python -m docgen.generate.backends.vllm_host``), possibly under another
Python that has vLLM installed (``generate.engine_python``). It imports nothing of docgen but the
framing of :mod:`docgen.extract.isolate`, so a venv with vLLM and docgen installed without its
dependencies will do.

Protocol (length-prefixed pickles over stdin and a duplicate of stdout; the real stdout goes to
stderr, where vLLM's own logs go): ``("init", engine_kwargs)`` answered by ``("ready", info)``,
then ``("chat", (conversations, sampling, schemas))`` (page images as ``image_pil`` parts
holding the image's bytes) answered by ``("outputs", [(text,
prompt_tokens, completion_tokens, finish_reason), ...])``; or ``("generate", (prompts,
sampling))``, raw prompts each with its images' bytes (``{"prompt": str, "images": [bytes]}``:
``docgen eval``, which writes the trainer's own prompt), answered by ``("outputs",
[(token_ids, prompt_tokens, finish_reason), ...])``. A failure is answered ``("error",
"Type: message")``.
End of input (the worker closed the pipe, or died) shuts the engine down and ends the process.
"""

from __future__ import annotations

import os
import sys

from docgen.extract.isolate import receive, send


def sampling_params(sampling: dict, schemas: list[dict]) -> list:
    """One SamplingParams per chat, its answer schema as structured output."""
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    return [
        SamplingParams(**sampling, structured_outputs=StructuredOutputsParams(json=schema))
        for schema in schemas
    ]


def with_images(messages: list[dict]) -> list[dict]:
    """The conversation with each ``image_pil`` part's bytes opened as a PIL image."""
    import io

    from PIL import Image

    def opened(part: dict) -> dict:
        if part.get("type") != "image_pil":
            return part
        return {"type": "image_pil", "image_pil": Image.open(io.BytesIO(part["image_pil"]))}

    return [
        m if isinstance(m["content"], str) else {**m, "content": [opened(p) for p in m["content"]]}
        for m in messages
    ]


def with_pictures(prompt: dict) -> dict:
    """A raw prompt for ``LLM.generate``, its images' bytes opened as PIL images."""
    import io

    from PIL import Image

    pictures = [Image.open(io.BytesIO(data)) for data in prompt["images"]]
    return {"prompt": prompt["prompt"], "multi_modal_data": {"image": pictures}}


def shut_down(llm) -> None:
    """Stop the engine's own processes now rather than at interpreter exit."""
    engine = getattr(llm, "llm_engine", None)
    core = getattr(engine, "engine_core", None)
    try:
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
    except Exception:  # noqa: BLE001 - best effort: the process ends next anyway
        pass


def serve(stdin, out) -> None:
    llm = None
    try:
        while True:
            try:
                kind, payload = receive(stdin)
            except EOFError:
                return
            try:
                if kind == "init":
                    from vllm import LLM

                    llm = LLM(**payload)
                    send(out, ("ready", {"pid": os.getpid()}))
                elif kind == "chat":
                    conversations, sampling, schemas = payload
                    params = sampling_params(sampling, schemas)
                    conversations = [with_images(c) for c in conversations]
                    outputs = llm.chat(conversations, params, use_tqdm=False)
                    send(out, ("outputs", [result_of(o) for o in outputs]))
                elif kind == "generate":
                    from vllm import SamplingParams

                    prompts, sampling = payload
                    outputs = llm.generate([with_pictures(p) for p in prompts],
                                           SamplingParams(**sampling), use_tqdm=False)  # fmt: skip
                    send(out, ("outputs", [tokens_of(o) for o in outputs]))
                else:
                    send(out, ("error", f"ValueError: unknown request {kind!r}"))
            except Exception as exc:  # noqa: BLE001 - reported to the worker, which goes on
                send(out, ("error", f"{type(exc).__name__}: {str(exc)[:2000]}"))
    finally:
        if llm is not None:
            shut_down(llm)


def result_of(output) -> tuple:
    best = output.outputs[0]
    return (
        best.text,
        len(output.prompt_token_ids or []),
        len(best.token_ids or []),
        best.finish_reason,
    )


def tokens_of(output) -> tuple:
    best = output.outputs[0]
    return (list(best.token_ids or []), len(output.prompt_token_ids or []), best.finish_reason)


def main() -> None:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints (vLLM's, its libraries') must not corrupt the stream
    serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
