"""Prompts: role choice, chunking, rendering, and reading replies (JSON, schema, Q:/A: form)."""

import json
import re
from pathlib import Path

import pytest

from docgen.generate.backends import GenerationRequest
from docgen.generate.chats import estimate_tokens, load_prompts
from docgen.generate.prompting import build_chats, choose_role, chunk_pages
from docgen.generate.replies import AnswerError, parse_answer


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


def test_image_chats_place_each_page_image_and_hold_at_most_max_images(prompts):
    pages = [{**page(i, f"Text of page {i}\x000\x00"), "image": b"\x89PNG-%d" % i}
             for i in range(1, 6)]  # fmt: skip
    pages[2]["image"] = None  # a page without an image: its text only
    chats = build_chats(request(pages), prompts, 6000, 24, input="image+text", max_images=2)
    assert [c.pages for c in chats] == [[1, 2], [3, 4], [5]]
    first = chats[0].messages[1]["content"]
    assert [p["type"] for p in first] == ["text", "image_url", "text", "image_url", "text"]
    assert first[0]["text"].endswith("=== Page 1 ===") and "Text of page 1" in first[2]["text"]
    assert "\x00" not in json.dumps(chats[0].messages)  # a NUL in the text forges no image
    assert [len(c.images) for c in chats] == [2, 1, 1]
    # On the wire each image part carries its own page's bytes, in order.
    wire = chats[0].wire_messages(lambda b: {"type": "image_url", "image_url": {"url": b}})
    assert [p["image_url"]["url"] for p in wire[1]["content"] if p["type"] == "image_url"] == [
        b"\x89PNG-1", b"\x89PNG-2"]  # fmt: skip
    assert chats[0].messages[1]["content"][1]["image_url"]["url"].startswith("sha256:")
    (only,) = build_chats(request(pages[:2]), prompts, 6000, 24, input="image")
    text = json.dumps(only.messages)
    assert "Text of page" not in text and "sha256:" in text
    (plain,) = build_chats(request(pages[:2]), prompts, 6000, 24)
    assert isinstance(plain.messages[1]["content"], str) and not plain.images


def test_the_prompt_asks_for_the_kind_mix_that_fits_the_chat(prompts):
    assert sorted(prompts.kind_notes) == sorted(prompts.kinds)  # kinds.yaml names the schema's
    one, two = [page(1, "Total: 3")], [page(1, "Total: 3"), page(2, "Net: 2")]

    def mix(pages, **kw) -> dict[str, int]:
        (chat,) = build_chats(request(pages), prompts, 6000, 24, **kw)
        text = json.dumps(chat.messages, ensure_ascii=False)
        return {k: int(n) for k, n in re.findall(r"- (\w+) \(~(\d+)%\)", text)}

    plain = mix(one)
    assert "visual" not in plain and "multi_page" not in plain  # no image, one page
    assert 95 <= sum(plain.values()) <= 105 and plain["extractive"] > plain["yes_no"]
    assert {"visual", "multi_page"} <= set(mix(two, input="image+text"))
    assert mix(one, kind_shares={"table": 3, "numeric": 1}) == {"table": 75, "numeric": 25}
    with pytest.raises(ValueError, match="generate.kind_shares maps kinds"):
        mix(one, kind_shares={"trivia": 1})


def test_json_replies_are_validated(prompts):
    good = {"pairs": [{"question": "What is the total?", "answer": "3,50 €", "kind": "numeric",
                       "pages": [2, 1, 1]}]}  # fmt: skip
    pairs = parse_answer(json.dumps(good), prompts, [1, 2])
    assert pairs == [{"question": "What is the total?", "answer": "3,50 €", "kind": "numeric",
                      "pages": [1, 2]}]  # fmt: skip
    fenced = "```json\n" + json.dumps(good) + "\n```"
    assert parse_answer(fenced, prompts, [1, 2]) == pairs
    bad = {"pairs": [{"question": "What?", "answer": "x", "kind": "gossip", "pages": [1]}]}
    with pytest.raises(AnswerError) as err:
        parse_answer(json.dumps(bad), prompts, [1])
    assert err.value.cause == "schema" and "pairs/0/kind" in str(err.value)
    with pytest.raises(AnswerError) as err:
        parse_answer('{"pairs": [{"question": "What?"}]}', prompts, [1])
    assert err.value.cause == "schema" and "required" in str(err.value)


# Replies real vLLM wrote under the answer schema's grammar (a tiny random model): valid JSON with
# raw control characters in strings, pages outside the chunk, integers of seventeen digits.
GRAMMAR_NOISE = [
    '{"pairs"\r \t: [{"question"\n: "]}]}\u0b6d\x08]}s", "answer"\t:\n "in\x1c?tid\x1a7{\x10V 1",'
    ' "kind"\t : "table", "pages": [8]}]}',
    '{"pairs": [{"question": ":\x0bkindtrac\x13ir{", "answer": ":\x1eQHm4-\x1a\x01K8", '
    '"kind": "extractive", "pages"\n: [ 1,\t\t86710582901591445]}]}',
    '{"pairs": [{"question": "Q", "answer": "A", "kind": "numeric", '
    '"pages": [123456789012345678901234567890]}]}',
    '{\r\t "pairs": \r []}',
]


def test_grammar_valid_noise_becomes_pairs_or_a_cause_never_a_crash(prompts):
    outcomes = []
    for text in GRAMMAR_NOISE:
        try:
            outcomes.append(parse_answer(text, prompts, [1, 2]))
        except AnswerError as exc:
            outcomes.append(exc.cause)
    assert outcomes[0] == "pages"  # page 8 is not in the chunk
    assert outcomes[1] == [{"question": ":kindtracir{", "answer": ":QHm4-K8",
                            "kind": "extractive", "pages": [1]}]  # fmt: skip
    assert outcomes[2] == "pages" and outcomes[3] == "schema"  # no pair at all


def test_replies_nested_too_deep_or_holding_lone_surrogates_never_crash(prompts):
    import pyarrow as pa

    with pytest.raises(AnswerError, match="neither JSON nor"):
        parse_answer("[" * 100_000, prompts, [1])  # json.loads alone: RecursionError
    lone = (
        '{"pairs": [{"question": "Who\\ud800?", "answer": "Ann", "kind": "extractive", '
        '"pages": [1]}]}'
    )  # JSON's \ud800 escape: a lone surrogate, which UTF-8 cannot hold
    (pair,) = parse_answer(lone, prompts, [1])
    assert pair["question"] == "Who??"
    pa.array([pair["question"]])  # a Parquet string column takes it


def test_judge_and_translation_indexes_outside_the_batch_are_counted():
    from collections import Counter

    from docgen.filter.llm_pass import indexed

    counts = Counter()
    reply = {"verdicts": [{"index": 2, "score": 5}, {"index": 0, "score": 1},
                          {"index": 10**30, "score": 1}, {"index": 2, "score": 1}]}  # fmt: skip
    assert indexed(reply, "verdicts", 3, counts, "bad") == {1: {"index": 2, "score": 5}}
    assert counts == {"bad": 3}
    assert indexed(None, "verdicts", 3, counts, "bad") == {}


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


def test_the_schema_a_server_holds_a_chat_to_is_bounded():
    """A model under a grammar cannot cite a page twice over, loop in a string or write more
    pairs than asked: each until max_tokens, as a real small model did."""
    from docgen.generate.prompting import MAX_TEXT_CHARS, chat_schema

    schema = chat_schema(load_prompts("llm").schema, [3, 4], 5)
    pairs = schema["properties"]["pairs"]
    props = pairs["items"]["properties"]
    assert pairs["maxItems"] == 5 and pairs["minItems"] == 1
    assert props["pages"]["maxItems"] == 2 and props["pages"]["items"]["enum"] == [3, 4]
    assert props["question"]["maxLength"] == props["answer"]["maxLength"] == MAX_TEXT_CHARS
    # The prompt set's own schema, which replies are read against, is left as it was.
    assert "maxItems" not in load_prompts("llm").schema["properties"]["pairs"]


def test_the_prompt_shows_no_example_to_copy():
    text = (Path(__file__).parents[1] / "prompts" / "llm" / "user.j2").read_text()
    assert '"..."' not in text


@pytest.mark.parametrize(
    "reply",
    ["Question:\nWhat is the total?\nAnswer:\n$77.47\n\nQuestion:\nWho signed?\nAnswer:\nJ. Doe",
     "1. Question: What is the total?\n   Answer: $77.47\n2. Question: Who signed?\n"
     "   Answer: J. Doe",
     "**Q:** What is the total?\n**A:** $77.47\n**Q:** Who signed?\n**A:** J. Doe",
     "Q1: What is the total?\nA1: $77.47\nQ2: Who signed?\nA2: J. Doe"],
)  # fmt: skip
def test_plain_text_replies_are_read_in_the_shapes_models_write(reply):
    pairs = parse_answer(reply, load_prompts("llm"), [2])
    assert [(p["question"], p["answer"], p["pages"]) for p in pairs] == [
        ("What is the total?", "$77.47", [2]), ("Who signed?", "J. Doe", [2])]  # fmt: skip


def test_without_structured_output_the_prompt_asks_for_that_shape():
    request = GenerationRequest(doc_id="d", source="s.pdf", lang="en", n_pairs=2, seed=0,
                                part="p", pages=[{"page": 1, "text": "Total: $5", "tables": [],
                                                  "lang": "en"}])  # fmt: skip
    plain = build_chats(request, load_prompts("llm"), 6000, 24, plain=True)[0]
    assert "Question: the question\nAnswer: the answer" in plain.messages[1]["content"]
    assert "JSON" not in plain.messages[1]["content"]


def test_a_server_error_is_kept_whole():
    from docgen.generate.backends.openai_wire import HTTPStatusError

    text = ("This model's maximum context length is 8192 tokens. However, you requested 9731 "
            "tokens (7683 in the messages, 2048 in the completion). Please reduce the length of "
            "the messages or completion.") * 2  # fmt: skip
    assert str(HTTPStatusError(400, text, None)) == f"HTTP 400: {text}"
    assert len(str(HTTPStatusError(400, "x" * 10**6, None))) < 2100  # and still bounded
