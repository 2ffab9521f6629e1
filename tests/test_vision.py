"""Generation that sees the page: page images in the requests, checked part by part against a
local OpenAI-compatible server that decodes every image it is sent."""

import re

import pyarrow as pa
import pymupdf
import pytest
from test_llm_server import llm_config

from docgen.core.config import GenerateConfig
from docgen.core.errors import DocgenError
from docgen.core.workdir import WorkDir
from docgen.extract import images
from docgen.filter.passes import joined
from docgen.filter.unanswerable import NO_ANSWER
from docgen.generate.backends.llm import check_input
from docgen.run.pipeline import run_pipeline
from docgen.run.report import collect


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
    with pytest.raises(DocgenError):  # the fake model writes pairs from text: it was given none
        run_pipeline(cfg)
    sent = server.stats()["multimodal"]
    assert len(sent) == 3  # a request per document: no more than 4 pages each
    assert sorted(len(r["images"]) for r in sent) == [1, 1, 2]
    for request in sent:  # each page's image between its mark and the next: no page text
        assert request["parts"] == ["text", "image_url"] * len(request["images"]) + ["text"]


@pytest.mark.parametrize("setting, message", [
    ({"input": "pixels"}, "generate.input: 'pixels' is not one of text, image, image+text"),
    ({"image_max_side": 0}, "generate.image_max_side: 0 is out of range; it takes from 64"),
    ({"max_images_per_request": "4"}, "generate.max_images_per_request: '4' is not a whole"),
    ({"triage_model": 5}, "generate.triage_model: 5 is not true or false"),
])  # fmt: skip
def test_bad_image_settings_are_refused_clearly(setting, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        check_input(GenerateConfig(**setting))


def test_the_rules_backend_refuses_images(few_samples, tmp_path):
    from docgen.core.config import load_config

    sets = [f"input={few_samples}", f"work={tmp_path / 'w'}", f"out={tmp_path / 'o'}",
            "run.scheduler=sync", "run.progress=false"]  # fmt: skip
    with pytest.raises(ValueError, match="needs a vision-language model"):  # when it loads
        load_config(None, [*sets, "generate.input=image"])
    cfg = load_config(None, sets)
    cfg.generate.input = "image"  # a config changed in code: refused before any work
    with pytest.raises(ValueError, match="needs a vision-language model"):
        run_pipeline(cfg)
    assert not (tmp_path / "w").exists()


def kept_rows(work) -> list[dict]:
    wd = WorkDir(work)
    return [r for part in wd.parts("kept") for r in joined(wd, part).to_pylist()]


def test_chart_values_are_grounded_by_the_rater_and_ratings_reach_the_shards(
    samples, tmp_path, server_factory
):
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from docgen.shard.validate import validate

    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name in ("0003-report-en.pdf", "0027-report-ar.pdf", "0000-invoice-en.pdf"):
        shutil.copy(samples / name, folder / name)
    server = server_factory("--truth", str(samples))
    cfg = llm_config(folder, tmp_path, [server.url], "generate.input=image+text",
                     "filter.rate=true", "shard.answer_boxes=true")  # fmt: skip
    stages = run_pipeline(cfg)["stages"]
    rows = kept_rows(cfg.work)
    seen = [r for r in rows if r["kind"] == "visual"]
    # Two reports' bar charts (four bars each) and an invoice's stamp (its word, its date); the
    # fake VLM reads every second value wrong: the rater keeps what the sidecar says is there.
    assert len(seen) == 10
    assert sorted(r["reason"] or "kept" for r in seen) == ["kept"] * 5 + [
        "rated_low:image_correspondence"] * 5  # fmt: skip
    for r in seen:
        assert (r["reason"] is None) == (r["answer"] == visual_truth(samples, r))
    # A chart value asked as if it were printed is span-checked and dropped: it is pixels only.
    printed = [r for r in rows if r["question"].startswith("Which number is printed")]
    assert len(printed) == 2 and all(r["reason"].startswith("ungrounded") for r in printed)
    rated = [r for r in rows if r["keep"]]
    assert rated and all(r["rating_relevance"] == 4 and r["rating_formatting"] == 5 for r in rated)
    assert stages["filter"]["rate"]["rated_chats"] == server.stats()["rate_requests"] > 0
    assert stages["filter"]["rate"]["prompt_tokens"] > 0  # what the rater cost is counted
    report = collect(cfg.work)[0]  # the report counts kept pairs per score and their kinds
    assert report["ratings"]["image_correspondence"] == {"5": len(rated)}
    assert report["kinds"]["visual"] == 5

    tables = [pq.read_table(f) for f in (tmp_path / "out" / "data").glob("*.parquet")]
    turns = [row for t in tables for row in t.column("texts").to_pylist()]
    correspondence = [row for t in tables
                      for row in t.column("image_correspondence_ratings").to_pylist()]  # fmt: skip
    assert [len(t) for t in turns] == [len(c) for c in correspondence]
    assert {c for row in correspondence for c in row} == {5}
    assert sum(t["user"].startswith("What is the value of") for row in turns for t in row) == 4
    assert sum(t["user"].startswith("What does the stamp") for row in turns for t in row) == 1
    # A value read off a bar is pixels, not words: its answer is not found on the page, and says
    # so; the printed answers are found where they are drawn.
    located = [h for t in tables for row in t.column("answer_located").to_pylist() for h in row]
    asked = [t["user"] for row in turns for t in row]
    assert {h for q, h in zip(asked, located) if q.startswith("What is the value of")} == {
        "not_found"}  # fmt: skip
    said = [t["assistant"] for row in turns for t in row]
    asked_elsewhere = sum(a in NO_ANSWER.values() for a in said)  # said nowhere: not found
    assert located.count("exact") >= len(located) - 5 - asked_elsewhere
    problems, _ = validate(tmp_path / "out", progress=False)
    assert not problems, problems.lines()
    card = (tmp_path / "out" / "README.md").read_text("utf-8")
    assert "image_correspondence_ratings" in card and "visual_dependency_ratings" in card
    # validate checks every rating: one per pair, 1-5
    shard = next((tmp_path / "out" / "data").glob("*.parquet"))
    table = pq.read_table(shard)
    bad = [[9] * len(row) for row in table.column("formatting_ratings").to_pylist()]
    index = table.schema.get_field_index("formatting_ratings")
    field = table.schema.field(index)
    pq.write_table(table.set_column(index, field, pa.array(bad, field.type)), shard)
    problems, _ = validate(tmp_path / "out", progress=False)
    assert problems.counts["ratings"] == table.num_rows


def visual_truth(samples, row) -> str:
    """What the sidecar says the page shows for the thing the pair asks about."""
    import json

    truth = json.loads((samples / row["source"].replace(".pdf", ".json")).read_text("utf-8"))
    (page,) = [p for p in truth["pages"] if p["page"] == row["pages"][0]]
    keys = [(f["key"][1] if isinstance(f["key"], list) else f["key"], f["value"])
            for f in page["facts"] if f.get("visual")]  # fmt: skip
    for key, value in sorted(keys, key=lambda kv: -len(kv[0])):  # "stamp date" before "stamp"
        if f" {key} " in row["question"]:
            return value
    raise AssertionError(f"no visual fact for {row['question']!r}")


def test_min_ratings_are_checked_before_any_work(few_samples, tmp_path, server_factory):
    server = server_factory()
    with pytest.raises(ValueError, match="filter.min_ratings: 'clarity': 3 does not fit; it "
                       "maps one of relevance, .* to a whole number from 1 to 5"):  # fmt: skip
        llm_config(few_samples, tmp_path, [server.url], "filter.min_ratings={clarity: 3}")
    cfg = llm_config(few_samples, tmp_path, [server.url], "filter.rate=true")
    cfg.filter.min_ratings, cfg.filter.max_kind_share = {}, {"extractive": 2}
    with pytest.raises(ValueError, match="filter.max_kind_share: 'extractive': 2 does not fit"):
        run_pipeline(cfg)
    cfg.filter.max_kind_share, cfg.filter.rate = {}, "maybe"
    with pytest.raises(ValueError, match="filter.rate: 'maybe' is not true or false"):
        run_pipeline(cfg)
    cfg.filter.rate, cfg.generate.kind_shares = True, [1]
    with pytest.raises(ValueError, match="generate.kind_shares: \\[1\\] is not a mapping"):
        run_pipeline(cfg)
    assert server.requests == 0


def test_a_kind_over_its_share_is_cut_and_the_report_compares_the_mix(few_samples, tmp_path,
                                                                      server_factory):  # fmt: skip
    server = server_factory()  # it asks only extractive questions
    cfg = llm_config(few_samples, tmp_path, [server.url], "filter.max_kind_share={extractive: 0.5}")
    stages = run_pipeline(cfg)["stages"]
    rows = kept_rows(cfg.work)
    cut = [r for r in rows if r["reason"] == "kind_share:extractive"]
    assert cut and stages["filter"]["dropped"]["kind_share:extractive"] == len(cut)
    wd = WorkDir(cfg.work)
    for part in wd.parts("kept"):  # per partition, at most half its kept pairs before the cut
        mine = [r for r in joined(wd, part).to_pylist()]
        kept = sum(r["keep"] for r in mine)
        assert kept <= 0.5 * (kept + sum(r["reason"] == "kind_share:extractive" for r in mine))
    mix = collect(cfg.work)[0]["kind_mix"]
    assert mix["extractive"] == {"target": 0.25, "kept": 1.0} and mix["visual"]["kept"] == 0


def test_only_pages_with_a_figure_are_asked_visual_questions(samples, tmp_path, server_factory):
    import shutil

    folder = tmp_path / "pdfs"
    folder.mkdir()
    shutil.copy(samples / "0003-report-en.pdf", folder)  # page 2 holds a chart; page 1 none
    server = server_factory()
    cfg = llm_config(folder, tmp_path, [server.url], "generate.input=image+text",
                     "generate.max_images_per_request=1")  # fmt: skip
    run_pipeline(cfg)
    asked = {r["pages"][0]: r["asks_visual"] for r in server.stats()["multimodal"]
             if r["task"] == "generate"}  # fmt: skip
    assert asked == {1: False, 2: True}


def test_a_multi_page_pair_gets_a_row_holding_every_page_it_cites():
    from docgen.shard.rows import document_rows

    pages = [{"page": n, "index": n - 1} for n in range(1, 7)]
    pairs = [{"pages": p, "question": str(p)} for p in
             ([1], [2, 3], [3, 5], [3, 5], [4, 6], [1, 2, 3, 4, 5])]  # fmt: skip
    rows = [([q["question"] for q in got], chunk and [p["page"] for p in chunk])
            for got, chunk in document_rows(pages, pairs, 4)]  # fmt: skip
    assert rows == [
        (["[1]", "[2, 3]"], [1, 2, 3, 4]),  # within the first row's pages
        ([], [5, 6]),
        (["[3, 5]", "[3, 5]"], [3, 5]),  # across rows: a row of just the pages cited
        (["[4, 6]"], [4, 6]),
        (["[1, 2, 3, 4, 5]"], None),  # five pages: more than a row holds
    ]


def test_the_model_labels_pages_first_and_its_labels_decide(samples, tmp_path, server_factory):
    import shutil

    folder = tmp_path / "pdfs"
    folder.mkdir()
    shutil.copy(samples / "0003-report-en.pdf", folder)  # page 2 holds a chart
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "This page is intentionally left blank.")
    doc.new_page().insert_text((72, 72), "Notice\nOffice: Springfield\nOpen: Monday to Friday")
    doc.save(folder / "notice.pdf")
    server = server_factory("--truth", str(samples))
    cfg = llm_config(folder, tmp_path, [server.url], "generate.input=image+text",
                     "generate.max_images_per_request=1", "generate.triage_model=true")  # fmt: skip
    gen = run_pipeline(cfg)["stages"]["generate"]
    labels = gen["page_labels"]
    assert server.stats()["triage_requests"] == labels["chats"] == 4  # a page each
    assert labels["category:chart"] == 1 and labels["category:prose"] == 2
    assert gen["triage"]["no_content"] == 1
    asked = sorted((r["pages"], r["asks_visual"]) for r in server.stats()["multimodal"]
                   if r["task"] == "generate")  # fmt: skip
    # The report's two pages and the notice's second: its blank first page was not asked about.
    assert asked == [([1], False), ([2], False), ([2], True)]


def test_the_token_budget_covers_the_rater_and_a_rerun_goes_on(samples, tmp_path, server_factory):
    import shutil

    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name in ("0003-report-en.pdf", "0027-report-ar.pdf", "0000-invoice-en.pdf"):
        shutil.copy(samples / name, folder / name)
    server = server_factory("--truth", str(samples))
    rated = ("generate.input=image+text", "filter.rate=true", "generate.max_pairs_per_request=4")
    full = run_pipeline(llm_config(folder, tmp_path / "full", [server.url], *rated))["stages"]
    rate = full["filter"]["rate"]
    assert rate["chats"] >= 4
    # Enough for generation and about half of the rater's requests, sent one at a time (the
    # budget is checked before each request: those in flight finish).
    spent = rate["prompt_tokens"] + rate["completion_tokens"]
    budget = full["generate"]["spent_tokens"] + spent // 2
    cfg = llm_config(folder, tmp_path, [server.url], *rated, f"generate.token_budget={budget}",
                     "generate.concurrency=1")  # fmt: skip
    manifest = run_pipeline(cfg)
    assert "reached: during the filter's rate, no shards written" in manifest["stopped"]
    stopped = manifest["stages"]["filter"]["rate"]
    assert 0 < stopped["failures"]["budget"] < stopped["chats"]
    assert not (tmp_path / "out" / "data").exists()
    cfg.generate.token_budget = None
    again = run_pipeline(cfg)
    assert again["stopped"] is None and again["stages"]["filter"]["kept"] == full["filter"]["kept"]
    # What the first run got is kept.
    assert again["stages"]["filter"]["rate"]["cached_requests"] > 0


def test_a_page_image_gone_bad_is_sent_as_text_and_counted(few_samples, tmp_path, server_factory):
    server = server_factory()
    cfg = llm_config(few_samples, tmp_path, [server.url])
    run_pipeline(cfg)  # text: extracts the pages
    wd = WorkDir(cfg.work)
    (part,) = wd.parts("pages")
    path = wd.part_path("pages", part)
    info, table = wd.info(path), wd.read("pages", part)
    images_column = table.column("image").to_pylist()
    images_column[0] = b"\x89PNG garbage"  # what a disk or a copy gone wrong leaves
    index = table.schema.get_field_index("image")
    table = table.set_column(index, table.schema.field(index), pa.array(images_column, pa.binary()))
    wd.write(path, table, info["fingerprint"], info["stats"])
    cfg.generate.input, cfg.generate.image_max_side = "image+text", 500  # resized: decoded
    gen = run_pipeline(cfg)["stages"]["generate"]
    assert gen["pages_without_image"] == 1 and gen["pairs"] > 0
    sent = [r for r in server.stats()["multimodal"] if r["task"] == "generate"]
    assert sum(len(r["images"]) for r in sent) == len(images_column) - 1
