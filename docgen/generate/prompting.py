"""Prompts for the LLM generators: documents to chats.

``build_chats`` turns one document into one or more chats (a long document is cut into chunks of
whole pages that fit a token budget), with a role variant chosen per document by a seeded random
choice; page images go in as content parts. Templates, roles, kinds of question and the answer
schema live in ``prompts/llm``; :mod:`docgen.generate.replies` reads what comes back.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from docgen import shipped
from docgen.core.config_check import choices
from docgen.core.settings import GenerateConfig
from docgen.generate.backends.base import GenerationRequest

# Prompt sets ship with docgen (prompts/ at the top of the repository, docgen/prompts installed).
PROMPTS_DIR = shipped("prompts")
LANGUAGE_NAMES = {
    "en": "English",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "ar": "Arabic",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "fa": "Persian",
    "he": "Hebrew",
}
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@dataclass
class PromptSet:
    """The templates, roles and answer schema of one prompt folder (``prompts/<name>``)."""

    name: str
    system: str
    user_template: object  # a jinja2.Template
    roles: dict[str, str]
    schema: dict
    validator: object = field(repr=False)
    # kinds.yaml: per kind of question, what it means and its target share (none: no mix asked)
    kind_notes: dict = field(default_factory=dict)

    @property
    def kinds(self) -> list[str]:
        return self.schema["properties"]["pairs"]["items"]["properties"]["kind"]["enum"]

    def shares(self, wanted: dict | None = None) -> dict[str, float]:
        """Target share per kind: ``wanted`` (generate.kind_shares) or kinds.yaml's."""
        if wanted is not None and not isinstance(wanted, dict):
            wanted = {None: wanted}  # refused below, with the value as given
        if wanted:
            unknown = sorted(set(wanted) - set(self.kinds), key=str)
            bad = [k for k, v in wanted.items() if isinstance(v, bool)
                   or not isinstance(v, int | float) or v < 0]  # fmt: skip
            if unknown or bad or not sum(wanted.values()):
                raise ValueError(
                    f"generate.kind_shares maps kinds ({', '.join(self.kinds)}) to shares >= 0, "
                    f"not all 0; got {wanted.get(None, wanted)!r}"
                )
            return {k: float(wanted.get(k, 0)) for k in self.kinds}
        return {k: float(self.kind_notes.get(k, {}).get("share", 0)) for k in self.kinds}


@cache
def load_prompts(name: str = "llm", root: str | None = None) -> PromptSet:
    """Load prompt set ``name`` (``prompts/<name>``, or a folder when ``name`` is a path):
    system.j2, user.j2, roles.yaml, answer.schema.json and, for generation, kinds.yaml."""
    import jinja2
    import jsonschema

    # A name is a prompt set shipped with docgen; a path (``generate.prompts: /shared/my-set``)
    # is the user's own, which every worker must be able to read.
    folder = Path(root) if root else PROMPTS_DIR / name if "/" not in name else Path(name)
    if not folder.is_dir():
        raise FileNotFoundError(f"prompt folder {folder} not found")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)
    schema = json.loads((folder / "answer.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    roles = yaml.safe_load((folder / "roles.yaml").read_text("utf-8"))
    if not isinstance(roles, dict) or len(roles) < 1:
        raise ValueError(f"{folder}/roles.yaml: expected a mapping of role name to instructions")
    notes = {}
    if (folder / "kinds.yaml").exists():
        notes = yaml.safe_load((folder / "kinds.yaml").read_text("utf-8")) or {}
        kinds = schema["properties"]["pairs"]["items"]["properties"]["kind"]["enum"]
        if sorted(notes) != sorted(kinds):
            raise ValueError(f"{folder}/kinds.yaml names {sorted(notes)}, the schema {kinds}")
    return PromptSet(
        name=name,
        system=(folder / "system.j2").read_text("utf-8").strip(),
        user_template=env.from_string((folder / "user.j2").read_text("utf-8")),
        roles=roles,
        schema=schema,
        validator=jsonschema.Draft202012Validator(schema),
        kind_notes=notes,
    )


def estimate_tokens(text: str) -> int:
    """A tokenizer-free upper estimate: a CJK character ~ one token, other text ~ 3.5 chars."""
    cjk = len(CJK.findall(text))
    return cjk + int((len(text) - cjk) / 3.5) + 1


def page_tokens(page: dict) -> int:
    return estimate_tokens(page["text"]) + sum(estimate_tokens(t) for t in page["tables"])


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


@dataclass
class Chat:
    """One request to a model: the messages plus what is needed to read its answer."""

    doc_id: str
    index: int  # chunk number within the document
    messages: list[dict]
    pages: list[int]
    role: str
    lang: str
    n_pairs: int
    schema: dict | None = None  # the answer schema for this chat; None: the prompt set's own
    # Page images, in the order of the image parts in ``messages``: there each is named by its
    # hash (which is what the cache key sees); a backend puts the bytes in as it sends.
    images: list[bytes] = field(default_factory=list)
    page_budget: int = 0  # the estimated tokens of page text it was built to hold at most

    def estimated_tokens(self) -> int:
        """The estimate of its whole prompt's text, instructions included."""
        return sum(estimate_tokens(m["content"] if isinstance(m["content"], str) else
                                   " ".join(p.get("text", "") for p in m["content"]))
                   for m in self.messages)  # fmt: skip

    def wire_messages(self, image_part) -> list[dict]:
        """``messages`` with each image part replaced by ``image_part(bytes)``."""
        if not self.images:
            return self.messages
        images = iter(self.images)
        return [
            m if isinstance(m["content"], str) else
            {**m, "content": [image_part(next(images)) if p["type"] == "image_url" else p
                              for p in m["content"]]}
            for m in self.messages
        ]  # fmt: skip


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


INPUTS = choices(GenerateConfig, "input")
IMAGE_MARK = re.compile(r"\x00(\d+)\x00")  # where a page image goes in a rendered prompt


def user_content(rendered: str, images: list[bytes]) -> str | list[dict]:
    """The user turn: the rendered prompt as it is, or, with images, OpenAI content parts with
    each image where the template put its mark."""
    if not images:
        return rendered
    parts: list[dict] = []
    pieces = IMAGE_MARK.split(rendered)
    for k, piece in enumerate(pieces):
        if k % 2:
            digest = hashlib.sha256(images[int(piece)]).hexdigest()[:32]
            parts.append({"type": "image_url", "image_url": {"url": f"sha256:{digest}"}})
        elif piece.strip():
            parts.append({"type": "text", "text": piece.strip("\n")})
    return parts


def marked(pages: list[dict]) -> list[dict]:
    """The pages for the template, each ``image`` replaced by the mark of its place among the
    chunk's images (none when the page has no image); a NUL in the text could forge a mark, so
    it goes."""
    out, k = [], 0
    for page in pages:
        mark = ""
        if page.get("image"):
            mark, k = f"\x00{k}\x00", k + 1
        out.append({**page, "image": mark, "text": page["text"].replace("\x00", ""),
                    "tables": [t.replace("\x00", "") for t in page["tables"]]})  # fmt: skip
    return out


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
                messages=[
                    {"role": "system", "content": prompts.system},
                    {"role": "user", "content": user_content(user, images)},
                ],
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
