"""Page images are a pure function of the page: the same bytes whatever the extracting process
did before (a fresh child per document, one child for everything in any order, a child killed
mid-document and replaced). A run killed and resumed depends on it to end with the same shards.

The PNG encoder used to be ISA-L's deflate: now and then (about one pass in forty over the sample
corpus in one child) it wrote an equally valid but different match for identical rows, so a page's
PNG changed bytes but not pixels. These checks run the histories a resumed run goes through;
``bench/determinism.py N`` runs N of them and prints every page that differs.
"""

import hashlib
import os
import random
import signal

import pytest

from docgen.core.config import ExtractConfig
from docgen.extract import isolate
from docgen.extract.document import page_batch, run_document
from docgen.extract.sources import Source

CFG = ExtractConfig()


def digests(pdf) -> dict:
    """(file, page) -> sha256 of the page image, extracted in this process's isolation child."""
    source = Source(name=pdf.name, path=str(pdf), size=pdf.stat().st_size)
    out = {}
    for kind, payload in run_document(source, "x", CFG):
        if kind == "page":
            row = page_batch(payload[1]).to_pylist()[0]
            out[(pdf.name, row["page"])] = hashlib.sha256(row["image"]).hexdigest()
        assert kind != "failed", payload
    return out


def corpus_digests(pdfs, fresh_child_each: bool = False) -> dict:
    isolate.stop_child()
    out = {}
    for pdf in pdfs:
        if fresh_child_each:
            isolate.stop_child()
        out.update(digests(pdf))
    isolate.stop_child()
    return out


@pytest.mark.slow
def test_page_images_are_the_same_in_any_process_history(samples):
    pdfs = sorted(samples.glob("*.pdf"))
    reference = corpus_digests(pdfs, fresh_child_each=True)
    assert len(reference) >= len(pdfs)
    shuffled = pdfs[:]
    random.Random(0).shuffle(shuffled)
    assert corpus_digests(shuffled) == reference  # one child for all, another order
    seen = {}
    for i, pdf in enumerate(reversed(pdfs)):
        if i % 7 == 3:  # kill the child after the first message of a document, then redo it
            source = Source(name=pdf.name, path=str(pdf), size=pdf.stat().st_size)
            messages = run_document(source, "x", CFG)
            next(messages)
            os.kill(isolate._children[0].proc.pid, signal.SIGKILL)
            assert any(kind == "failed" for kind, _ in messages)
        seen.update(digests(pdf))
    isolate.stop_child()
    assert seen == reference
