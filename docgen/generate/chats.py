"""What a model is asked: prompt sets, and the chats built from them.

A prompt set is a folder of ``prompts/`` (templates, roles, the reply's JSON schema); every LLM
task (:mod:`docgen.generate.tasks`) loads one. A :class:`Chat` is one request: its messages, the
pages it shows, the schema its reply is held to, its page images. The helpers here put page images
among a chat's text (:func:`marked`, :func:`user_content`) and estimate tokens without a
tokenizer. The backends send chats; they know nothing of prompts.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from docgen import shipped

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


def chat_messages(prompts: PromptSet, user: str, images: list[bytes] = ()) -> list[dict]:
    """A chat's messages: the prompt set's system turn, then the ``user`` turn (a rendered
    template, with ``images`` where it marked them)."""
    return [
        {"role": "system", "content": prompts.system},
        {"role": "user", "content": user_content(user, list(images))},
    ]
