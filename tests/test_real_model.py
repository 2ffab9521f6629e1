"""A real instruction-tuned model in the loop: SmolLM2-135M-Instruct served by real vLLM (its
CPU build), asked with docgen's default settings. What a model that tries to follow the prompt
must give: replies read, or failed with their true cause; every drop with its reason; pairs
kept; nothing sent again on a rerun."""

import shutil

import pytest
from pdfs import long_arabic

from docgen.core.config import load_config
from docgen.core.workdir import WorkDir
from docgen.run.pipeline import run_pipeline

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

# Causes a reply of a real model may fail with; none is a transport failure on a healthy server.
REPLY_CAUSES = {"malformed", "schema", "pages", "placeholder", "truncated", "too_many_pairs"}


def test_a_real_model_writes_pairs_that_are_kept_and_a_rerun_sends_nothing(
    samples, tmp_path, real_llm_server
):
    url, _ = real_llm_server
    folder = tmp_path / "pdfs"
    folder.mkdir()
    # English documents: a 135M model asked about Arabic or Korean pages writes nonsense the
    # filters rightly drop; what is measured here is docgen with a model that follows the prompt.
    for name in ("0000-invoice-en.pdf", "0001-receipt-en.pdf"):
        shutil.copy(samples / name, folder / name)
    # And a long Arabic one, far more tokens for this tokenizer than docgen estimates: the
    # server refuses it whole, and it is asked again in pieces that fit.
    (folder / "0100-book-ar.pdf").write_bytes(long_arabic(samples, pages=20))
    cfg = load_config("openai", [
        f"input={folder}", f"work={tmp_path / 'work'}", f"out={tmp_path / 'out'}",
        f'generate.base_urls=["{url}"]', "run.workers=2", "run.progress=false",
        "generate.temperature=0",  # the same replies on every run of the suite
        "generate.max_tokens=512",  # what the Arabic pieces may write: the suite's time in hand
    ])  # fmt: skip
    stages = run_pipeline(cfg)["stages"]
    generated = stages["generate"]
    assert generated["documents"] == 3
    assert generated["resplit_chats"] >= 1  # refused whole ("context"), then asked in pieces
    assert generated["retries"] == 0  # nothing timed out and was asked again
    assert set(generated.get("failures", {})) <= REPLY_CAUSES
    assert generated["pairs"] > 0
    assert stages["filter"]["kept"] > 0 and stages["shard"]["rows"] > 0
    errors = WorkDir(cfg.work).read_errors()
    for row in errors.to_pylist() if errors is not None else []:
        assert row["error"].split(":")[0] in REPLY_CAUSES, row

    again = run_pipeline(cfg)["stages"]["generate"]
    assert again["skipped"] == again["partitions"] and again.get("requests", 0) == 0
