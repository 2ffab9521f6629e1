"""The generation task's chats: documents to chats.

``build_chats`` turns one document into one or more chats (a long document is cut into chunks of
whole pages that fit a token budget), with a role variant chosen per document by a seeded random
choice; page images go in as content parts. Templates, roles, kinds of question and the answer
schema live in ``prompts/llm``; :mod:`docgen.generate.replies` reads what comes back, and
:mod:`docgen.generate.generation` asks.
"""

from __future__ import annotations

import random

from docgen.core.config_check import choices
from docgen.core.settings import GenerateConfig
from docgen.generate.backends.base import GenerationRequest
from docgen.generate.chats import (
    LANGUAGE_NAMES,
    Chat,
    PromptSet,
    chat_messages,
    estimate_tokens,
    marked,
    page_tokens,
)

INPUTS = choices(GenerateConfig, "input")


def chunk_pages(
    pages: list[dict], budget: int, max_pages: int | None = None, text: bool = True
) -> list[list[dict]]:
    """Whole pages grouped in order so each chunk fits ``budget`` tokens of text (when ``text``
    is sent) and holds at most ``max_pages`` pages; a page alone over the budget is cut to fit
    (its text is shortened, its tables dropped)."""
    chunks, current, used = [], [], 0
    for page in pages:
        cost = page_tokens(page) if text else 0
        if cost > budget:
            keep = max(1, int(len(page["text"]) * budget / max(estimate_tokens(page["text"]), 1)))
            page = {**page, "text": page["text"][:keep], "tables": []}
            cost = budget
        full = max_pages is not None and len(current) >= max_pages
        if current and (used + cost > budget or full):
            chunks.append(current)
            current, used = [], 0
        current.append(page)
        used += cost
    if current:
        chunks.append(current)
    return chunks


# The longest question and answer a grammar lets a model write: what the filter keeps at most
# (filter.max_question_chars, max_answer_chars), so a model cannot loop inside a string.
MAX_TEXT_CHARS = 500


def chat_schema(schema: dict, pages: list[int], n_pairs: int) -> dict:
    """The answer schema a server's grammar holds one chat to: the cited pages limited to
    ``pages`` (the chunk's), at most as many as it has; at most ``n_pairs`` pairs (the number
    asked); questions and answers of at most MAX_TEXT_CHARS. A model can then only cite pages it
    was shown, and cannot loop (`"pages": [1, 1, 1, ...`, a string of one character repeated)
    until max_tokens. Replies are still read against the prompt set's own schema."""
    pair = schema["properties"]["pairs"]["items"]
    props = pair["properties"]
    cited = {**props["pages"], "items": {"type": "integer", "enum": list(pages)},
             "maxItems": len(pages)}  # fmt: skip
    bounded = {k: {**props[k], "maxLength": MAX_TEXT_CHARS} for k in ("question", "answer")}
    items = {**pair, "properties": {**props, **bounded, "pages": cited}}
    pairs = {**schema["properties"]["pairs"], "items": items, "maxItems": max(1, n_pairs)}
    return {**schema, "properties": {**schema["properties"], "pairs": pairs}}


def choose_role(prompts: PromptSet, doc_id: str, seed: int) -> str:
    return random.Random(f"{seed}:{doc_id}").choice(sorted(prompts.roles))


def kind_mix(prompts: PromptSet, shares: dict, image: bool, pages: int) -> list[dict]:
    """The mix of kinds asked of one chat, in percent: ``visual`` only when the model sees
    images, ``multi_page`` only for several pages, the rest scaled up to fill their share."""
    fits = {k: v for k, v in shares.items() if v > 0 and (image or k != "visual")
            and (pages > 1 or k != "multi_page")}  # fmt: skip
    total = sum(fits.values())
    return [{"name": k, "percent": round(100 * v / total),
             "means": prompts.kind_notes.get(k, {}).get("means", "")}
            for k, v in fits.items()]  # fmt: skip


def build_chats(
    request: GenerationRequest,
    prompts: PromptSet,
    max_prompt_tokens: int,
    max_pairs: int,
    input: str = "text",
    max_images: int = 4,
    kind_shares: dict | None = None,
    plain: bool = False,
) -> list[Chat]:
    """The chats for one document: one per chunk of pages. ``input`` says what the model sees
    of each page: its ``text``, its ``image`` (the page record's ``image`` bytes, already sized
    for the model), or both; a chunk then holds at most ``max_images`` pages. The prompt asks
    for a mix of kinds of question (``kind_shares``, default the prompt set's kinds.yaml), as
    JSON, or with ``plain`` (no structured output) as Question:/Answer: lines."""
    shares = prompts.shares(kind_shares)
    role = choose_role(prompts, request.doc_id, request.seed)
    text, image = input != "image", input != "text"
    chunks = chunk_pages(request.pages, max_prompt_tokens, max_images if image else None, text)
    chats = []
    for i, chunk in enumerate(chunks, 1):
        n_pairs = max(1, min(max_pairs, request.n_pairs * len(chunk)))
        images = [p["image"] for p in chunk if p.get("image")] if image else []
        if image:  # the template writes {{ page.image }} where the image goes
            chunk = marked(chunk)
        user = prompts.user_template.render(
            role=prompts.roles[role].strip(),
            n_pairs=n_pairs,
            language=LANGUAGE_NAMES.get(request.lang, "the document's language"),
            lang=request.lang,
            kinds=prompts.kinds,
            pages=chunk,
            chunk_index=i,
            chunk_count=len(chunks),
            first_page=chunk[0]["page"],
            last_page=chunk[-1]["page"],
            text=text,
            image=image,
            plain=plain,
            # Visual questions only where triage found a figure (pages not triaged: maybe).
            mix=kind_mix(
                prompts, shares, image and any(p.get("visual", True) for p in chunk), len(chunk)
            ),  # fmt: skip
        )
        chats.append(
            Chat(
                doc_id=request.doc_id,
                index=i,
                messages=chat_messages(prompts, user, images),
                pages=[p["page"] for p in chunk],
                role=role,
                lang=request.lang,
                n_pairs=n_pairs,
                schema=chat_schema(prompts.schema, [p["page"] for p in chunk], n_pairs),
                images=images,
                page_budget=max_prompt_tokens,
            )
        )
    return chats
