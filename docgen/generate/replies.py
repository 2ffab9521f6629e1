"""Reading model replies: JSON (checked against a prompt set's schema) or Docmatix's Q:/A: form.

``parse_answer`` turns a generation reply into validated pairs, or an :class:`AnswerError` naming
why there are none; ``loads_lenient`` reads the JSON of any pass (judge, rater, translator,
labeller) the way a grammar lets a model write it.
"""

from __future__ import annotations

import json
import re

from docgen.generate.chats import PromptSet


class AnswerError(ValueError):
    """A reply that yields no valid pairs; ``cause`` is ``malformed``, ``schema``, ``pages`` or
    ``placeholder`` (the prompt's example copied)."""

    def __init__(self, cause: str, message: str):
        super().__init__(message)
        self.cause = cause


FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
# Pairs in plain text, in the shapes models write them: `Q1:`/`A1:` (Docmatix's), `Q:`/`A:`,
# `Question:`/`Answer:` (numbered or not, bold or not, the text on the same line or the next).
QUESTION = r"(?:\d+[.)]\s*)?\**(?:Q|Question)\s*\d*\**\s*[:：.]\**"
ANSWER = r"\**(?:A|Answer)\s*\d*\**\s*[:：.]\**"
QA_FORM = re.compile(
    rf"^\s*{QUESTION}\s*(.+?)\s*\n\s*{ANSWER}\s*(.+?)\s*(?=^\s*{QUESTION}|\Z)",
    re.DOTALL | re.MULTILINE | re.IGNORECASE,
)


# C0 and C1 control characters but tab and newline: a grammar lets a model write them raw inside
# a JSON string (strict parsers refuse them); they carry nothing a question or answer needs.
SURROGATE = re.compile("[\ud800-\udfff]")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def loads_lenient(text: str):
    """JSON from a model: an optional Markdown fence around it, raw control characters inside
    strings allowed (``ValueError`` when it is not JSON)."""
    try:
        return json.loads(FENCE.sub(r"\1", text or "").strip(), strict=False)
    except RecursionError:  # "[[[[…" a hundred thousand deep
        raise ValueError("JSON nested too deeply") from None


# What a model copies from a prompt's example instead of writing a pair: "...", "string".
PLACEHOLDERS = {"", "string", "question", "answer", "text", "placeholder", "your question",
                "your answer", "the question", "the answer", "?"}  # fmt: skip


def is_placeholder(text: str) -> bool:
    return text.strip(" .…").lower() in PLACEHOLDERS


def complete_pairs(text: str) -> list:
    """The pair objects a reply cut short had finished before the cut: of
    ``{"pairs": [{...}, {...}, {"quest`` the first two (a reply cut at max_tokens)."""
    at = (text or "").find('"pairs"')
    start = text.find("[", at) if at >= 0 else -1
    if start < 0:
        return []
    decoder, pairs, i = json.JSONDecoder(strict=False), [], start + 1
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] != "{":
            return pairs
        try:
            pair, i = decoder.raw_decode(text, i)
        except ValueError:  # the pair the cut went through
            return pairs
        pairs.append(pair)


def clean_text(text: str) -> str:
    """Without control characters, and without lone surrogates (JSON's "\\ud800" decodes to one,
    which no UTF-8 file can hold)."""
    text = text.encode("utf-8", "replace").decode("utf-8") if SURROGATE.search(text) else text
    return CONTROL.sub("", text).strip()


def parse_answer(text: str, prompts: PromptSet, chat_pages: list[int]) -> list[dict]:
    """The pairs in a model reply, or :class:`AnswerError` saying why there are none.

    JSON is validated against the schema; a reply that is not JSON but lists ``Q1:``/``A1:``
    pairs (Docmatix's format) is read as such, with kind ``extractive`` and the chunk's pages.
    A grammar-valid reply can still cite pages the chunk does not hold (or integers of thirty
    digits): those citations are dropped, and a pair left citing none is dropped with them.
    """
    try:
        data = loads_lenient(text)
    except ValueError:
        body = FENCE.sub(r"\1", text or "").strip()
        pairs = [
            {"question": clean_text(q), "answer": clean_text(a), "kind": "extractive",
             "pages": list(chat_pages)}
            for q, a in QA_FORM.findall(body)
        ]  # fmt: skip
        if pairs := [p for p in pairs if p["question"] and p["answer"]]:
            return pairs
        snippet = " ".join(body.split())[:120]
        raise AnswerError(
            "malformed", f"reply is neither JSON nor Question:/Answer: pairs: {snippet!r}"
        ) from None
    from jsonschema.exceptions import best_match

    error = best_match(prompts.validator.iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "reply"
        raise AnswerError(
            "schema", f"reply does not match the answer schema at {where}: {error.message[:160]}"
        )
    allowed = set(chat_pages)
    pairs, placeholders = [], 0
    for p in data["pairs"]:
        pages = sorted(set(p["pages"]) & allowed)
        question, answer = clean_text(p["question"]), clean_text(p["answer"])
        if is_placeholder(question) or is_placeholder(answer):
            placeholders += 1
        elif pages and question and answer:
            pairs.append({"question": question, "answer": answer, "kind": p["kind"],
                          "pages": pages})  # fmt: skip
    if not pairs and placeholders:
        raise AnswerError("placeholder", f"reply holds placeholders, not pairs: {text[:120]!r}")
    if not pairs:
        first, last = min(chat_pages), max(chat_pages)
        raise AnswerError(
            "pages", f"no pair cites a page of this chunk (pages {first}-{last}) with text"
        )
    return pairs
