import json

import pymupdf

from docgen.samples import make_corpus
from docgen.samples.content import KINDS, LANGS


def test_corpus_covers_every_kind_and_language(samples):
    truths = [json.loads(p.read_text("utf-8")) for p in sorted(samples.glob("*.json"))]
    assert {(t["kind"], t["lang"]) for t in truths} == {(k, lang) for k in KINDS for lang in LANGS}
    assert any(len(t["pages"]) > 1 for t in truths), "multi-page documents expected"
    for t in truths:
        doc = pymupdf.open(samples / t["file"])
        assert len(doc) == len(t["pages"])
        assert all(page["facts"] for page in t["pages"])


def test_corpus_is_deterministic(tmp_path):
    a = make_corpus(tmp_path / "a", n=3, progress=False)
    b = make_corpus(tmp_path / "b", n=3, progress=False)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    more = make_corpus(tmp_path / "c", n=50, progress=False)
    assert len(more) == 50


def test_arabic_reads_back_in_logical_order(samples):
    from docgen.extract.layout import text_dict, visual_lines

    truth = json.loads((samples / "0024-invoice-ar.json").read_text("utf-8"))
    lines = [
        entry["text"]
        for entry in visual_lines(text_dict(pymupdf.open(samples / "0024-invoice-ar.pdf")[0]))
    ]
    fields = [f for f in truth["pages"][0]["facts"] if f["type"] == "field"]
    for f in fields:
        assert f"{f['key']}: {f['value']}" in lines
