import json

from docgen.extract.tables import markdown_table
from docgen.generate.backends import GenerationRequest
from docgen.generate.backends.rules import RulesBackend, korean_particles
from docgen.generate.facts import key_values, table_cells, title_of


def line(text, size=10.0, bold=False):
    return {"text": text, "size": size, "bold": bold}


def test_key_values_keep_times_and_skip_sentences_and_ambiguous_labels():
    lines = [
        line("Invoice number: INV-7"),
        line("Time: 14:30"),
        line("请求书番号：A-12"),
        line("Note: this is a much longer sentence that is certainly not a label at all."),
        line("12:45"),
        line("Ref: 1"),
        line("Ref: 2"),
        line("Estimado/a Lucía:"),
    ]
    found = {f["key"]: f["answer"] for f in key_values(lines)}
    assert found["Invoice number"] == "INV-7"
    assert found["Time"] == "14:30"
    assert found["请求书番号"] == "A-12"
    assert "Ref" not in found and "12" not in found
    assert all(len(k) <= 40 for k in found)


def test_kinds_of_values():
    kinds = {
        f["answer"]: f["kind"]
        for f in key_values(
            [
                line("Date: 15/03/2024"),
                line("Total: $1,234.50"),
                line("日付：2024年3月5日"),
                line("Montant : 1 234,50 €"),
                line("Name: Ada Lovelace"),
            ]
        )
    }
    assert kinds == {
        "15/03/2024": "date",
        "$1,234.50": "amount",
        "2024年3月5日": "date",
        "1 234,50 €": "amount",
        "Ada Lovelace": "field",
    }


def test_table_cells_use_row_labels_and_headers():
    md = markdown_table(
        [
            ["Item", "Qty", "Price"],
            ["Pens", "3", "$2.00"],
            ["1", "2", "3"],
            ["Ink | blue", "1", "$9"],
        ]
    )
    cells = {tuple(c["key"]): c["answer"] for c in table_cells(md)}
    assert cells == {
        ("Pens", "Qty"): "3",
        ("Pens", "Price"): "$2.00",
        ("Ink | blue", "Qty"): "1",
        ("Ink | blue", "Price"): "$9",
    }


def test_title_joins_wrapped_lines():
    lines = [
        line("Reading Order Recovery", 20),
        line("in Scanned Reports", 20),
        line("Authors: A, B"),
        line("Body text"),
        line("More body"),
    ]
    assert title_of(lines) == "Reading Order Recovery in Scanned Reports"


def test_korean_particles():
    assert korean_particles("성명") == ("은", "을")  # ends in a consonant
    assert korean_particles("주소") == ("는", "를")


def test_backend_questions_are_in_the_page_language_and_answers_are_spans():
    page = {
        "page": 1,
        "lang": "fr",
        "direction": "ltr",
        "tables": [],
        "lines": [
            line("Facture", 20),
            line("Numéro de facture : FA-2024-0042"),
            line("Date : 15 mars 2024"),
            line("Total TTC : 1 234,50 €"),
        ],
    }
    page["text"] = "\n".join(entry["text"] for entry in page["lines"])
    req = GenerationRequest(doc_id="d", source="f.pdf", lang="fr", pages=[page], n_pairs=10)
    [result] = RulesBackend().generate([req])
    assert result.error is None and len(result.pairs) == 4
    for pair in result.pairs:
        assert pair["answer"] in page["text"]
        assert pair["lang"] == "fr" and "?" in pair["question"]
        assert json.loads(pair["evidence"])["kind"] == pair["kind"]
    assert {p["kind"] for p in result.pairs} == {"title", "field", "date", "amount"}
