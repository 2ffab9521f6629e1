"""Prompts: role choice, chunking, rendering, and reading replies (JSON, schema, Q:/A: form)."""

import json

import pytest

from docgen.backends import GenerationRequest
from docgen.prompting import (
    AnswerError,
    build_chats,
    choose_role,
    chunk_pages,
    estimate_tokens,
    load_prompts,
    parse_answer,
)


@pytest.fixture(scope="module")
def prompts():
    return load_prompts("llm")


def page(n, text, lang="en", tables=()):
    return {"page": n, "text": text, "tables": list(tables), "lang": lang}


def request(pages, lang="en", doc_id="d1", n_pairs=4):
    return GenerationRequest(doc_id=doc_id, source="x.pdf", lang=lang, pages=pages, n_pairs=n_pairs)


def test_prompt_set_has_five_roles_and_a_valid_schema(prompts):
    assert len(prompts.roles) >= 5
    assert prompts.schema["required"] == ["pairs"]
    assert "extractive" in prompts.kinds


def test_role_is_a_seeded_choice_per_document(prompts):
    roles = [choose_role(prompts, f"doc{i}", seed=0) for i in range(60)]
    assert roles == [choose_role(prompts, f"doc{i}", seed=0) for i in range(60)]
    assert len(set(roles)) >= 5
    assert roles != [choose_role(prompts, f"doc{i}", seed=1) for i in range(60)]


def test_cjk_text_costs_about_a_token_per_character():
    assert estimate_tokens("請求書番号") >= 5
    assert estimate_tokens("invoice number") < 6


def test_long_documents_are_chunked_by_whole_pages_within_budget():
    pages = [page(i, f"line {i} " * 200) for i in range(1, 11)]  # ~460 tokens each
    chunks = chunk_pages(pages, budget=1000)
    assert [p["page"] for c in chunks for p in c] == list(range(1, 11))
    assert all(sum(estimate_tokens(p["text"]) for p in c) <= 1000 for c in chunks)
    assert len(chunks) == 5
    huge = chunk_pages([page(1, "word " * 5000)], budget=500)
    assert len(huge) == 1 and estimate_tokens(huge[0][0]["text"]) <= 520


def test_chats_carry_pages_language_role_and_pair_count(prompts):
    pages = [page(1, "Facture\nTotal : 3,50 €", "fr", ["| a | b |\n|---|---|\n| 1 | 2 |"]),
             page(2, "Conditions de paiement", "fr")]  # fmt: skip
    (chat,) = build_chats(request(pages, "fr"), prompts, max_prompt_tokens=6000, max_pairs=24)
    system, user = chat.messages
    assert system["role"] == "system" and "never instructions" in system["content"]
    body = user["content"]
    assert "in French" in body and "Write 8 question" in body
    assert "=== Page 1 ===\nFacture\nTotal : 3,50 €" in body and "=== Page 2 ===" in body
    assert "| 1 | 2 |" in body
    assert " ".join(prompts.roles[chat.role].split()) in " ".join(body.split())
    assert chat.pages == [1, 2]
    many = build_chats(request(pages * 20, "fr"), prompts, max_prompt_tokens=60, max_pairs=5)
    assert len(many) > 1 and all(c.n_pairs <= 5 for c in many)
    assert "part 2 of" in many[1].messages[1]["content"]


def test_json_replies_are_validated(prompts):
    good = {"pairs": [{"question": "What is the total?", "answer": "3,50 €", "kind": "numeric",
                       "pages": [2, 1, 1]}]}  # fmt: skip
    pairs = parse_answer(json.dumps(good), prompts, [1, 2])
    assert pairs == [{"question": "What is the total?", "answer": "3,50 €", "kind": "numeric",
                      "pages": [1, 2]}]  # fmt: skip
    fenced = "```json\n" + json.dumps(good) + "\n```"
    assert parse_answer(fenced, prompts, [1]) == pairs
    bad = {"pairs": [{"question": "What?", "answer": "x", "kind": "gossip", "pages": [1]}]}
    with pytest.raises(AnswerError) as err:
        parse_answer(json.dumps(bad), prompts, [1])
    assert err.value.cause == "schema" and "pairs/0/kind" in str(err.value)
    with pytest.raises(AnswerError) as err:
        parse_answer('{"pairs": [{"question": "What?"}]}', prompts, [1])
    assert err.value.cause == "schema" and "required" in str(err.value)


def test_docmatix_q_a_replies_are_read(prompts):
    text = "Q1: What is the total?\nA1: 3.50 EUR\n\nQ2: Who signed it?\nA2: Dr. A. Smith\nof Oslo"
    pairs = parse_answer(text, prompts, [3])
    assert [(p["question"], p["answer"], p["pages"]) for p in pairs] == [
        ("What is the total?", "3.50 EUR", [3]),
        ("Who signed it?", "Dr. A. Smith\nof Oslo", [3]),
    ]


def test_replies_with_no_pairs_are_malformed(prompts):
    for text in ["Sorry, I can't help with that.", "", '{"pairs": [', "Q1: only a question"]:
        with pytest.raises(AnswerError) as err:
            parse_answer(text, prompts, [1])
        assert err.value.cause == "malformed"
