"""A thinking model behind real vLLM (its CPU build) with its reasoning parser: docgen reads the
reasoning apart from the answer, streamed or whole, and a reply that runs out of tokens while
still reasoning (all a random model does) is an error row with that cause."""

import pytest
from test_llm_server import llm_config, outcome

from docgen.core.errors import RunFailed
from docgen.run.pipeline import run_pipeline

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


@pytest.mark.parametrize("stream", ["true", "false"])
def test_a_reasoning_that_never_ends_is_an_error_row(thinking_server, few_samples, tmp_path,
                                                      stream):  # fmt: skip
    url, _ = thinking_server
    cfg = llm_config(few_samples, tmp_path, [url], "generate.reasoning=true",
                     "generate.max_tokens=48", f"generate.stream={stream}",
                     "generate.request_timeout=300", "generate.model=tiny")  # fmt: skip
    with pytest.raises(RunFailed, match="failed requests by cause: reasoning_unfinished 3"):
        run_pipeline(cfg)
    _, errors = outcome(cfg.work)
    unfinished = "reasoning_unfinished: the model was still reasoning"
    assert len(errors) == 3 and all(e.startswith(unfinished) for e in errors.values())
