"""Generation that sees the page: page images in the requests, checked part by part against a
local OpenAI-compatible server that decodes every image it is sent."""

import re

import pytest
from test_llm_server import llm_config

from docgen import images
from docgen.backends.llm import check_input
from docgen.config import GenerateConfig
from docgen.pipeline import run_pipeline
from docgen.workdir import WorkDir


def page_sizes(work) -> dict[tuple[str, int], tuple[int, int]]:
    wd = WorkDir(work)
    columns = ["doc_id", "page", "image_width", "image_height"]
    return {(r["doc_id"], r["page"]): (r["image_width"], r["image_height"])
            for part in wd.parts("pages")
            for r in wd.read("pages", part, columns=columns).to_pylist()}  # fmt: skip


def test_image_and_text_go_out_as_parts_with_each_page_image_sized(few_samples, tmp_path,
                                                                   server_factory):  # fmt: skip
    server = server_factory()
    cfg = llm_config(few_samples, tmp_path, [server.url], "generate.input=image+text",
                     "generate.image_max_side=500", "generate.image_max_pixels=150000",
                     "generate.max_images_per_request=1")  # fmt: skip
    stages = run_pipeline(cfg)["stages"]
    sizes = page_sizes(cfg.work)
    sent = server.stats()["multimodal"]
    # One request per page (one image each), every page's image sent once, resized to fit.
    assert stages["generate"]["requests"] == len(sent) == len(sizes) == 4
    assert stages["generate"]["pairs"] > 0 and stages["filter"]["kept"] > 0
    got = sorted(tuple(s) for r in sent for s in r["images"])
    want = sorted((*images.fit(w, h, 500, 150000), "image/png") for w, h in sizes.values())
    assert got == want
    for request in sent:
        # Instructions down to the page's mark, its image, then its text.
        assert request["parts"] == ["text", "image_url", "text"]


def test_image_only_sends_no_page_text(few_samples, tmp_path, server_factory):
    server = server_factory()
    cfg = llm_config(few_samples, tmp_path, [server.url], "generate.input=image")
    run_pipeline(cfg)
    # The fake model asks about every line of text it is given: it was given none.
    wd = WorkDir(cfg.work)
    answers = {r["answer"] for part in wd.parts("qa") for r in wd.read("qa", part).to_pylist()}
    assert {a.split()[0] for a in answers} == {"a", "Imaginary"}
    sent = server.stats()["multimodal"]
    assert len(sent) == 3  # a request per document: no more than 4 pages each
    assert sorted(len(r["images"]) for r in sent) == [1, 1, 2]
    for request in sent:  # each page's image between its mark and the next: no page text
        assert request["parts"] == ["text", "image_url"] * len(request["images"]) + ["text"]


@pytest.mark.parametrize("setting, message", [
    ({"input": "pixels"}, "generate.input must be one of text, image, image+text"),
    ({"image_max_side": 0}, "generate.image_max_side must be a positive integer"),
    ({"max_images_per_request": "4"}, "generate.max_images_per_request must be a positive"),
])  # fmt: skip
def test_bad_image_settings_are_refused_clearly(setting, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        check_input(GenerateConfig(**setting))


def test_the_rules_backend_refuses_images(few_samples, tmp_path):
    from docgen.config import load_config

    cfg = load_config(None, [f"input={few_samples}", f"work={tmp_path / 'w'}",
                             f"out={tmp_path / 'o'}", "generate.input=image",
                             "run.scheduler=sync", "run.progress=false"])  # fmt: skip
    with pytest.raises((SystemExit, ValueError), match="needs a vision-language model"):
        run_pipeline(cfg)


def kept_rows(work) -> list[dict]:
    wd = WorkDir(work)
    return [r for part in wd.parts("kept") for r in wd.read("kept", part).to_pylist()]


def test_visual_pairs_are_grounded_by_the_rater_and_ratings_reach_the_shards(
    few_samples, tmp_path, server_factory
):
    import pyarrow.parquet as pq

    from docgen.validate import validate

    server = server_factory()
    cfg = llm_config(few_samples, tmp_path, [server.url], "generate.input=image+text",
                     "filter.rate=true")  # fmt: skip
    stages = run_pipeline(cfg)["stages"]
    rows = kept_rows(cfg.work)
    by_answer = {}
    for r in rows:
        by_answer.setdefault((r["kind"], r["answer"].split()[0]), set()).add(r["reason"])
    # What the VLM saw and the rater confirmed is kept though it is not in the text layer; what
    # the rater found wrong is dropped; a text answer not on the page is still span-checked.
    assert by_answer[("visual", "a")] == {None}
    assert by_answer[("visual", "Imaginary")] == {"rated_low:image_correspondence"}
    assert by_answer[("extractive", "Imaginary")] == {"ungrounded"}
    rated = [r for r in rows if r["keep"]]
    assert rated and all(r["rating_relevance"] == 4 and r["rating_formatting"] == 5 for r in rated)
    assert stages["filter"]["rate"]["rated_chats"] == server.stats()["rate_requests"] > 0
    assert stages["filter"]["dropped"]["rated_low:image_correspondence"] == 4  # one a page

    table = pq.read_table(next((tmp_path / "out" / "data").glob("*.parquet")))
    turns = table.column("texts").to_pylist()
    correspondence = table.column("image_correspondence_ratings").to_pylist()
    assert [len(t) for t in turns] == [len(c) for c in correspondence]
    assert {c for row in correspondence for c in row} == {5}
    assert sum(t["assistant"].startswith("a bar chart") for row in turns for t in row) == 4
    problems, _ = validate(tmp_path / "out", progress=False)
    assert not problems, problems.lines()
    card = (tmp_path / "out" / "README.md").read_text("utf-8")
    assert "image_correspondence_ratings" in card and "visual_dependency_ratings" in card


def test_min_ratings_are_checked_before_any_work(few_samples, tmp_path, server_factory):
    server = server_factory()
    cfg = llm_config(few_samples, tmp_path, [server.url], "filter.rate=true",
                     "filter.min_ratings={clarity: 3}")  # fmt: skip
    with pytest.raises(ValueError, match="filter.min_ratings maps a scale"):
        run_pipeline(cfg)
    assert server.requests == 0
