"""docgen.verify: a prediction compared with an answer by the answer's type, in every language
docgen writes — what the trainer's eval reports and an RL reward can import."""

import pytest

from docgen.verify import answer_type, matches, verify

SAME = [  # (prediction, answer, language): the same answer, written another way
    ("1.234,50 €", "€1,234.50", "de"),
    ("1 234,50 EUR", "1234.5 €", "fr"),
    ("$77.47", "77.47 USD", "en"),
    ("١٢٣", "123", "ar"),
    ("１２３円", "123 円", "ja"),
    ("12kg", "12 kg", "en"),
    ("45%", "45 percent", "en"),
    ("1,5", "1.5", "fr"),
    ("5 mars 2024", "2024-03-05", "fr"),
    ("5. März 2024", "05.03.2024", "de"),
    ("5 de marzo de 2024", "5/3/2024", "es"),
    ("March 5, 2024", "03/05/2024", "en"),
    ("2024年3月5日", "2024-03-05", "zh"),
    ("2024년 3월 5일", "2024-03-05", "ko"),
    ("Yes.", "yes", "en"),
    ("Oui", "yes", "fr"),
    ("نعم", "yes", "ar"),
    ("はい", "yes", "ja"),
    ("예", "yes", "ko"),
    ("是", "yes", "zh"),
    ("Nein", "no", "de"),
    ("lettuce; tomato, onion", "onion, tomato and lettuce", "en"),
    ("[100, 200, 300, 400]", "[100,200,300,400]", "und"),
    ("Jane  DOE", "Jane Doe", "en"),
]
DIFFERENT = [  # (prediction, answer, language): close as text, wrong as the type
    ("77.48", "77.47", "en"),
    ("12 lb", "12 kg", "en"),
    ("1,500", "1.5", "en"),
    ("2024-03-06", "2024-03-05", "und"),
    ("03/05/2024", "2024-05-03", "en"),  # March 5th in English
    ("no", "yes", "en"),
    ("لا", "yes", "ar"),
    ("tomato, onion", "onion, tomato, lettuce", "en"),
    ("[0, 0, 10, 10]", "[100, 100, 200, 200]", "und"),
    ("Jane Dow", "Jane Doe", "en"),
]


@pytest.mark.parametrize("prediction,answer,lang", SAME)
def test_the_same_answer_written_another_way_matches(prediction, answer, lang):
    assert matches(prediction, answer, lang=lang)
    assert verify(prediction, answer, lang=lang) == 1.0


@pytest.mark.parametrize("prediction,answer,lang", DIFFERENT)
def test_a_different_answer_does_not(prediction, answer, lang):
    assert not matches(prediction, answer, lang=lang)


def test_answers_are_typed_by_what_they_read_as():
    typed = {"€1,234.50": "number", "2024-03-05": "date", "5 mars 2024": "date", "Yes": "yes_no",
             "نعم": "yes_no", "onion, tomato and lettuce": "list", "[1, 2, 3, 4]": "box",
             "Quarterly report": "text", "1. Introduction": "text", "12 months later": "text",
             "Section 3.2": "text", "2024": "number"}  # fmt: skip
    assert {a: answer_type(a, "fr" if "mars" in a else "und") for a in typed} == typed


def test_scores_are_graded_where_the_type_allows():
    assert verify("Jane Dow", "Jane Doe") == pytest.approx(7 / 8)  # ANLS, as DocVQA
    assert verify("tomato, onion", "onion, tomato, lettuce") == pytest.approx(0.8)  # items' F1
    assert verify("[0, 0, 10, 10]", "[0, 0, 10, 20]") == pytest.approx(0.5)  # IoU
    assert verify("77.5", "77.47") == 0.0  # a number is right or not
    assert verify("77.5", "77.47", tolerance=0.01) == 1.0
    assert verify("about seventy", "77.47") == 0.0  # not a number where one is asked
    assert verify("77.47", "77.47", kind="text") == 1.0  # a type given overrides the guess
