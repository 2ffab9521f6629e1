from docgen.config import FilterConfig
from docgen.filters import judge
from docgen.grounding import PageInfo

PAGE = (
    "Invoice INV-7\nTotal: $1,234.50\nVisit https://example.org/a?b=1 for e.g. details\n"
    "Rate 3.5% p.a.\n請求書番号：A-12\nرقم الفاتورة: INV-7"
)


def verdicts(*pairs, **cfg):
    rows = [{"doc_id": "d", "pages": [1], "question": q, "answer": a} for q, a in pairs]
    page = PageInfo.from_row({"text": PAGE, "tables": [], "lang": "en"})
    return [r for _, r in judge(rows, {("d", 1): page}, FilterConfig(check_language=False, **cfg))]


def test_good_pairs_keep_decimals_urls_and_abbreviations():
    assert (
        verdicts(
            ("What is the total?", "$1,234.50"),
            ("Which site is named?", "https://example.org/a?b=1"),
            ("What is the rate?", "3.5% p.a."),
            ("請求書番号は何ですか？", "A-12"),
            ("ما رقم الفاتورة؟", "INV-7"),
        )
        == [None] * 5
    )


def test_each_reason():
    assert verdicts(
        ("What is the total?", " "),
        ("What is the total?", "$1,999.00"),
        ("Q1: What is the total? A1:", "$1,234.50"),
        ("What is the total amount?", "Not mentioned in the document"),
        ("Sum?", "$1,234.50"),
        ("What is the invoice?", "def f(): return 1;"),
        ("¿Cuál es el número?", "No se menciona"),
        ("What is the total owed?", "$1,234\ufffd50"),
    ) == [
        "empty",
        "ungrounded_value",
        "qa_marker",
        "unanswerable",
        "question_length",
        "code",
        "unanswerable",
        "unreadable",
    ]


def test_duplicate_questions_within_a_document():
    assert verdicts(("What is the total?", "$1,234.50"), ("What is  the TOTAL?", "$1,234.50")) == [
        None,
        "duplicate_question",
    ]


def test_grounding_can_be_switched_off():
    assert verdicts(("What is the total?", "$9.99"), require_grounded=False) == [None]
