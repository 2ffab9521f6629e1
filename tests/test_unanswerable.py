"""Questions the document cannot answer: kept questions asked of another document's page,
answered "the document does not say", about filter.unanswerable_share of the pairs — and only
where that page truly has no answer."""

from collections import Counter

import pyarrow.parquet as pq

from docgen.core.workdir import WorkDir
from docgen.filter.grounding import FUNCTION_WORDS
from docgen.filter.passes import joined
from docgen.filter.unanswerable import NO_ANSWER, unanswerable_on, unanswerable_rows, wanted


def pages_of(work) -> dict:
    pages = {}
    for f in sorted((work / "pages").glob("*.parquet")):
        for p in pq.read_table(f, columns=["doc_id", "page", "text", "tables"]).to_pylist():
            pages[(p["doc_id"], p["page"])] = p
    return pages


def test_a_share_of_questions_have_no_answer_on_their_page(pipeline_run, capsys):
    run = pipeline_run()  # the default config: unanswerable_share 0.05
    wd = WorkDir(run.work)
    pages = pages_of(run.work)
    made = 0
    for part in wd.parts("kept"):
        rows = [r for r in joined(wd, part).to_pylist() if r["keep"]]
        negatives = [r for r in rows if r["kind"] == "unanswerable"]
        made += len(negatives)
        # The share is met where there were questions enough to ask of another document.
        assert len(negatives) <= wanted(len(rows) - len(negatives), 0.05)
        originals = {(r["question"], r["lang"]): r for r in rows if r["kind"] != "unanswerable"}
        for n in negatives:
            asked = originals[(n["question"], n["lang"])]  # a kept question of another document
            assert asked["doc_id"] != n["doc_id"] and n["answer"] == NO_ANSWER[n["lang"]]
            own = [pages[(asked["doc_id"], p)] for p in asked["pages"]]
            assert unanswerable_on(asked, own, pages[(n["doc_id"], n["pages"][0])])
            # (a currency word alone says nothing: "28,590.51 ريال" is not on a page that has
            # other amounts in riyal)
            answer_words = set(asked["answer"].lower().split()) - {"", "-"} - FUNCTION_WORDS
            page = pages[(n["doc_id"], n["pages"][0])]["text"].lower()
            assert not any(len(w) > 3 and w in page.split() for w in answer_words)
    filtered = run.manifest["stages"]["filter"]
    assert made == filtered["unanswerable"]["unanswerable"]
    assert made >= 0.8 * wanted(filtered["kept"] - made, 0.05)  # nearly every partition's share
    # The shards carry them, in the languages of their pages.
    shards = [pq.read_table(f) for f in (run.out / "data").glob("*.parquet")]
    answers = Counter(t["assistant"] for s in shards for row in s["texts"].to_pylist() for t in row)
    assert sum(answers[a] for a in NO_ANSWER.values()) == made
    assert len({a for a in NO_ANSWER.values() if answers[a]}) >= 4  # in several languages


def test_a_question_that_names_nothing_of_its_page_is_never_one():
    title = {"question": "What is the title of the document?", "answer": "Annual Report",
             "kind": "title", "doc_id": "a", "pages": [1], "lang": "en"}  # fmt: skip
    own = {"text": "Annual Report\nRevenue by region", "tables": []}
    other = {"text": "Invoice INV-1\nTotal: $5", "tables": []}
    assert not unanswerable_on(title, [own], other)  # its terms are on no page: keyless
    field = {"question": "What is the invoice number?", "answer": "INV-1", "kind": "field",
             "doc_id": "a", "pages": [1], "lang": "en"}  # fmt: skip
    own = {"text": "Invoice number: INV-1", "tables": []}
    assert not unanswerable_on(field, [own], {"text": "Invoice number: INV-2", "tables": []})
    assert not unanswerable_on(field, [own], {"text": "Ref INV-1 paid", "tables": []})
    assert unanswerable_on(field, [own], {"text": "Minutes of the meeting, 3 May", "tables": []})


def test_none_when_the_share_is_zero(pipeline_run):
    run = pipeline_run("filter.unanswerable_share=0")
    assert "unanswerable" not in run.manifest["stages"]["filter"]
    wd = WorkDir(run.work)
    kinds = {r["kind"] for p in wd.parts("kept") for r in joined(wd, p).to_pylist()}
    assert "unanswerable" not in kinds


def test_a_question_goes_to_the_most_alike_page_that_cannot_answer_it():
    def page(doc, text):
        return {"doc_id": doc, "source": f"{doc}.pdf", "page": 1, "text": text, "tables": []}

    pages = {
        "inv1": {1: page("inv1", "Invoice\nCustomer: Acme\nPurchase order: PO-7\nTotal: $5")},
        "inv2": {1: page("inv2", "Invoice\nCustomer: Brill\nTotal: $9\nVAT: $1")},
        "inv3": {1: page("inv3", "Invoice\nCustomer: Cole\nPurchase order: PO-9\nTotal: $3")},
        "rep": {1: page("rep", "Annual report\nRevenue by region grew in the north")},
    }
    asked = {"question": "What is the purchase order?", "answer": "PO-7", "kind": "field",
             "doc_id": "inv1", "pages": [1], "lang": "en", "keep": True, "source": "inv1.pdf",
             "pair_id": "p"}  # fmt: skip
    rows = [asked] + [{**asked, "doc_id": d, "question": f"Q {i}?", "answer": "x"}
                      for i, d in enumerate(["inv2", "inv3", "rep"] * 7)]  # fmt: skip
    for seed in ("a", "b", "c"):
        made = unanswerable_rows(rows, pages, 0.05, seed, Counter())
        negatives = [r for r in made if r["question"] == asked["question"]]
        # inv3 is the most alike but states a purchase order: answerable; inv2 is next
        assert [r["doc_id"] for r in negatives] == ["inv2"]
