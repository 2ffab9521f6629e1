"""Page images through real vLLM (its CPU build) to a tiny random Idefics3 the tests build: the
``openai`` backend over ``vllm serve`` and the ``vllm`` backend's offline engine send the same
chats, images included, the same model rates the pairs seeing the pages, and the runs end with
rated pairs in the shards."""

import json

import pyarrow.parquet as pq
import pytest
from conftest import VLLM_ENGINE_ARGS, engine_processes
from test_vllm_backend import LENIENT, REPLY_CAUSES, error_causes, schema_valid, shard_pairs

from docgen.core.config import load_config
from docgen.run.pipeline import run_pipeline

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


def vlm_run(config, inputs, root, *extra) -> dict:
    cfg = load_config(config, [
        f"input={inputs}", f"work={root / 'work'}", f"out={root / 'out'}",
        "generate.max_tokens=400", "generate.max_images_per_request=2", "run.workers=1",
        *LENIENT, *extra,
    ])  # fmt: skip
    stages = run_pipeline(cfg)["stages"]
    gen = stages["generate"]
    assert gen["documents"] == 3 and len(schema_valid(cfg.work)) == gen["pairs"] > 0
    assert error_causes(cfg.work) <= REPLY_CAUSES and set(gen.get("failures", {})) <= REPLY_CAUSES
    assert shard_pairs(root / "out") == stages["filter"]["kept"] > 0
    return gen


# The rater's scores are noise too: every one is kept, so that rated pairs reach the shards.
RATED = ("generate.input=image+text", "filter.rate=true", "filter.min_ratings={}")


def shard_ratings(out) -> list:
    """Every rating of every turn in the shards (None where the rater gave none)."""
    tables = [pq.read_table(f) for f in sorted((out / "data").glob("*.parquet"))]
    return [r for t in tables for row in t.column("image_correspondence_ratings").to_pylist()
            for r in row]  # fmt: skip


def test_both_backends_send_page_images_to_a_served_vlm(
    vlm_server, tiny_vlm, vllm_python, few_samples, tmp_path
):
    url, _ = vlm_server
    server = ("openai", f"generate.base_urls={json.dumps([url])}",
              "generate.model=tiny", "generate.concurrency=8")  # fmt: skip
    text = vlm_run(*server[:1], few_samples, tmp_path / "text", *server[1:])
    seen = vlm_run(*server[:1], few_samples, tmp_path / "seen", *server[1:], *RATED)
    # The three documents hold four pages: each image costs the model its image tokens (a global
    # image and up to four tiles of 16 each here), on top of the same text.
    assert text["requests"] == seen["requests"] == 3
    assert seen["prompt_tokens"] - text["prompt_tokens"] >= 4 * 80

    engine = vlm_run("vllm", few_samples, tmp_path / "engine",
                     f"generate.model={tiny_vlm}", f"generate.engine_python={vllm_python}",
                     f"generate.engine_args={json.dumps(VLLM_ENGINE_ARGS)}", *RATED)  # fmt: skip
    # The offline engine was given the same chats, page images and all, as the server.
    assert engine["prompt_tokens"] == seen["prompt_tokens"]
    assert not engine_processes()
    for run in ("seen", "engine"):  # the rater saw the pages and rated (a reply cut short: none)
        ratings = [r for r in shard_ratings(tmp_path / run / "out") if r is not None]
        assert ratings and all(r in range(1, 6) for r in ratings)


def test_plan_counts_a_vlm_prompt_s_image_tokens_as_vllm_does(vlm_server, tiny_vlm, few_samples,
                                                              tmp_path):  # fmt: skip
    from docgen.run.plan import make_plan

    url, _ = vlm_server
    cfg = load_config("openai", [
        f"input={few_samples}", f"generate.base_urls={json.dumps([url])}", "generate.model=tiny",
        "generate.input=image+text", "generate.max_tokens=100",
        "generate.max_images_per_request=2", "run.scheduler=sync", *LENIENT,
    ])  # fmt: skip
    # Every document, sent: the tokens counted with the model's processor (its chat template,
    # and each page's image tokens) are the tokens vLLM says the chats held.
    plan = make_plan(cfg, 1.0, 0, measure=True, tokenizer=str(tiny_vlm))
    assert plan["prompt_tokens_counted_with"] == "processor"
    assert plan["projected"]["images"]["total"] == 4
    assert plan["projected"]["prompt_tokens"]["total"] == plan["measured"]["prompt_tokens"]
