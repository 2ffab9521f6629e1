"""Answers located on their page: the words that say an answer, as boxes, on built PDFs whose
words' places are known (PyMuPDF's own search finds them on the page drawn): Latin and CJK text
layers, Arabic (its words broken in pieces by the PDF's glyph forms), a scanned page read by OCR;
a value that is not written on the page is not found."""

import pymupdf
import pytest

from docgen.extract import layout, ocr
from docgen.filter.locate import line_boxes, locate, scaled

LINES = [("Invoice number: INV-2024-0042", 100), ("Total due: $1,671.67 by 12 March 2024", 130)]
CJK = ("住所：東京都港区芝公園", 160)
ANSWERS = ["INV-2024-0042", "$1,671.67", "12 March 2024", "Total due", "東京都港区"]
# Points a box may be off: a word matched in part is cut by its characters' share ("due" of
# "due:"), not by its glyphs' widths.
SLACK = 3.5
# A run whose shards carry the answer boxes, beside a chat config and the pdf config (no images)
BOXED = ("shard.answer_boxes=true", "shard.chat_configs=[messages, grounded]",
         "shard.pdf_config=true")  # fmt: skip


@pytest.fixture(scope="module")
def pdf(tmp_path_factory):
    doc = pymupdf.open()
    page = doc.new_page()
    for text, y in LINES:
        page.insert_text((72, y), text, fontsize=12)
    page.insert_font(fontname="cjk", fontbuffer=pymupdf.Font("cjk").buffer)
    page.insert_text((72, CJK[1]), CJK[0], fontsize=12, fontname="cjk")
    page.draw_rect(pymupdf.Rect(72, 200, 110, 260), fill=(0.2, 0.4, 0.8))  # a bar of 37, unsaid
    path = tmp_path_factory.mktemp("locate") / "page.pdf"
    doc.save(path)
    return path


def drawn(page, answer: str):
    """Where PyMuPDF's search finds ``answer`` on the page: one rectangle per line."""
    return [tuple(r) for r in page.search_for(answer)]


def close(a, b, slack: float = SLACK) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= slack for p, q in zip(a, b) for x, y in zip(p, q))


def test_answers_on_a_text_layer_are_boxed_where_they_are_drawn(pdf):
    page = pymupdf.open(pdf)[0]
    words = layout.words(page)
    for answer in ANSWERS:
        how, found = locate(answer, words)
        assert how == "exact", answer
        assert close(line_boxes(found), drawn(page, answer)), (answer, line_boxes(found))
    # A number shown only as a bar's height is pixels, not words: not found, and said so.
    assert locate("37", words) == ("not_found", [])
    # A misread letter (what OCR makes) is found fuzzily, in the same place.
    how, found = locate("INV-2024-0O42", words)
    assert how == "fuzzy" and close(line_boxes(found), drawn(page, "INV-2024-0042"))


def test_a_scanned_page_is_located_from_its_ocr_words(pdf, tmp_path):
    original = pymupdf.open(pdf)[0]
    scan = pymupdf.open()
    page = scan.new_page(width=original.rect.width, height=original.rect.height)
    page.insert_image(page.rect, pixmap=original.get_pixmap(dpi=200, colorspace=pymupdf.csGRAY))
    scan.save(tmp_path / "scan.pdf")
    _, words = ocr.read_page(pymupdf.open(tmp_path / "scan.pdf")[0], ["eng"], 200, 60)
    for answer in ANSWERS[:4]:
        how, found = locate(answer, words)
        assert how in ("exact", "fuzzy"), (answer, [w["text"] for w in words])
        # OCR boxes the ink: as wide as the drawn words, within their line's height.
        ((x0, y0, x1, y1),), ((dx0, dy0, dx1, dy1),) = line_boxes(found), drawn(original, answer)
        assert abs(x0 - dx0) <= SLACK and abs(x1 - dx1) <= SLACK, answer
        assert dy0 - 1 <= y0 < y1 <= dy1 + 1, answer


def test_arabic_words_broken_by_glyph_forms_are_located_whole(pipeline_run, samples):
    """The sample Arabic invoice: the PDF's words come in pieces (``ا`` ``لأفق``); the box of a
    word is the union of its pieces, a Latin run inside a right-to-left line is boxed as drawn."""
    import pyarrow.parquet as pq

    run = pipeline_run()
    pages = [r for f in sorted((run.work / "pages").glob("*.parquet"))
             for r in pq.read_table(f, columns=["source", "page", "words", "lines"]).to_pylist()
             if r["source"].endswith("0024-invoice-ar.pdf")]  # fmt: skip
    words, lines = pages[0]["words"], pages[0]["lines"]
    pdf = pymupdf.open(samples / "0024-invoice-ar.pdf")[0]
    how, found = locate("INV-2021-8189", words, lines)
    pieces = [pymupdf.Rect(r) for r in drawn(pdf, "INV-2021-8189")]  # drawn in two runs
    assert how == "exact" and close(line_boxes(found), [tuple(pieces[0] | pieces[-1])], 0.5)
    edges = {round(v, 1) for w in words for v in (w["x0"], w["x1"])}
    for answer in ("الأفق", "للخدمات", "مؤسسة الأفق للخدمات"):
        how, found = locate(answer, words, lines)
        (box,) = line_boxes(found)
        assert how == "exact" and {round(box[0], 1), round(box[2], 1)} <= edges, answer
        line = next(ln for ln in lines if abs(ln["y0"] - box[1]) < 1)
        assert line["x0"] - 0.5 <= box[0] < box[2] <= line["x1"] + 0.5


def test_boxes_are_given_in_the_images_pixels_and_in_thousandths():
    box = scaled((59.5, 84.2, 119.0, 168.4), (595.0, 842.0), (1240, 1754))
    assert box == {"box": [124, 175, 248, 351], "box_1000": [100, 100, 200, 200]}
    assert scaled((-5, 0, 700, 10), (595.0, 842.0), (1240, 1754))["box"][::2] == [0, 1240]


def test_shards_carry_where_each_answer_is(pipeline_run, tmp_path):
    """``shard.answer_boxes``: per turn, how its answer was found and its boxes on the row's
    images; declared in the card, read by `datasets`, checked by `validate`."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import load_dataset

    from docgen.shard.validate import validate

    run = pipeline_run(*BOXED)
    ds = load_dataset("parquet", data_files=str(run.out / "data" / "*.parquet"), split="train")
    assert ds.column_names[-2:] == ["answer_located", "answer_boxes"]
    # The rules backend copies every answer from its page: each is found, in a box on its image;
    # an answer "the document does not say" (a question asked of another page) is nowhere.
    from docgen.filter.unanswerable import NO_ANSWER

    turns = [(t["assistant"], h) for r in ds for t, h in zip(r["texts"], r["answer_located"])]
    assert {h for a, h in turns if a not in NO_ANSWER.values()} == {"exact"}
    assert {h for a, h in turns if a in NO_ANSWER.values()} == {"not_found"}
    for r in ds.select(range(12)):
        for t, turn in zip(r["texts"], r["answer_boxes"]):
            assert bool(turn) != (t["assistant"] in NO_ANSWER.values())
            for b in turn:
                width, height = r["images"][b["image"]].size
                x0, y0, x1, y1 = b["box"]
                assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
                assert abs(b["box_1000"][0] - round(x0 * 1000 / width)) <= 1
    found = sum(h == "exact" for _, h in turns)
    assert run.manifest["stages"]["shard"]["answers_located"] == {
        "exact": found, "not_found": len(turns) - found}  # fmt: skip
    assert "answer_boxes" in (run.out / "README.md").read_text("utf-8")
    chats = load_dataset("parquet", data_files=str(run.out / "messages" / "*.parquet"))["train"]
    assert chats["answer_boxes"] == ds["answer_boxes"]  # the same rows, the same images
    # The grounded config: each answer followed by its boxes as Qwen2-VL writes them.
    grounded = load_dataset("parquet", data_files=str(run.out / "grounded" / "*.parquet"))
    named = 0
    for row, chat in zip(ds, grounded["train"]):
        said = [m["content"][0]["text"] for m in chat["messages"] if m["role"] == "assistant"]
        for turn, boxes, text in zip(row["texts"], row["answer_boxes"], said):
            marks = "".join((f"<|object_ref_start|>image {b['image'] + 1}<|object_ref_end|>"
                             if b["image"] else "") + "<|box_start|>({},{}),({},{})<|box_end|>"
                            .format(*b["box_1000"]) for b in boxes)  # fmt: skip
            assert text == turn["assistant"] + marks
            named += any(b["image"] for b in boxes)
    assert named  # answers on a row's second page name their image
    assert not validate(run.out)[0]

    damaged = tmp_path / "out"
    shutil.copytree(run.out, damaged)
    shard = next((damaged / "data").glob("*.parquet"))
    table = pq.read_table(shard)
    boxes = table.column("answer_boxes").to_pylist()
    boxes[0][0][0]["image"] = 7  # a row of one or two images
    i = table.schema.get_field_index("answer_boxes")
    table = table.set_column(i, table.schema.field(i), pa.array(boxes, table.schema.field(i).type))
    pq.write_table(table, shard)
    problems, _ = validate(damaged)
    assert "answer_boxes" in problems.counts and "not a box on one of the row's" in " ".join(
        problems.lines())  # fmt: skip


def test_the_preview_draws_each_answers_boxes_on_its_page(pipeline_run, tmp_path):
    import re

    from docgen.shard.preview import sample_rows, write_preview

    run = pipeline_run(*BOXED)
    page = tmp_path / "preview.html"
    assert write_preview(run.out, page, rows=4) == 4
    text = page.read_text("utf-8")
    boxes = [b for r in sample_rows(run.out, 4, 0) for turn in r["answer_boxes"] for b in turn]
    drawn = re.findall(r'class="box" title="answer \d+" style="left:([\d.]+)%;top:([\d.]+)%', text)
    assert len(drawn) == len(boxes) > 0
    assert tuple(map(float, drawn[0])) == tuple(v / 10 for v in boxes[0]["box_1000"][:2])
