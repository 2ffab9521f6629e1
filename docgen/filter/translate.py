"""Optional translation of kept pairs (``filter.translate_to: [en, ar, ...]``, off by default).

The generate backend (``openai`` or ``vllm``) translates each kept question into every target
language other than its own (``prompts/translate``), then translates it back; a translation whose
back-translation is not at least ``filter.back_translation_ratio`` alike (rapidfuzz, normalised)
to the original question is not used (counted as ``translation_inconsistent``). The answer is NOT
translated: it stays the span of the page in the page's language, since a translated answer about
untranslated page text would no longer be on the page (as MTVQA warns). Translated pairs are new
rows (``WORK/translate/``, joined after the partition's rows by :mod:`docgen.filter.passes`) with
``translated_from`` set to the source language, and their ``source`` says so in the shards.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from docgen.core.config import FilterConfig, GenerateConfig
from docgen.core.text import normalize
from docgen.core.workdir import WorkDir
from docgen.filter import passes
from docgen.filter.llm_pass import indexed, pass_cache
from docgen.generate.chats import LANGUAGE_NAMES, Chat
from docgen.generate.replies import clean_text
from docgen.generate.tasks import Task, ask_json


class Translation(Task):
    """The translator (``prompts/translate``): questions from one language to another."""

    def __init__(self):
        super().__init__("translate")

    def chats(self, groups: list[tuple[str, str, str, list[str]]]) -> list[Chat]:
        """One chat per (doc, source, target, questions) group."""
        chats = []
        for doc_id, source, target, questions in groups:
            user = self.render(questions=questions, source=LANGUAGE_NAMES.get(source, source),
                               target=LANGUAGE_NAMES.get(target, target))  # fmt: skip
            chats.append(self.chat_of(doc_id, len(chats), user, lang=target,
                                      n_items=len(questions)))  # fmt: skip
        return chats


def translate_all(backend, groups, counts: Counter, cache=None, part: str = "", allowance=None):
    """The translations of each group's questions, in order (None where none came back)."""
    task = Translation()
    out: list[list[str | None]] = []
    replies = ask_json(backend, task, task.chats(groups), counts, cache, part, allowance)
    for group, reply in zip(groups, replies):
        texts: list[str | None] = [None] * len(group[3])
        items = indexed(reply, "translations", len(texts), counts, "translation_bad_index")
        for index, item in items.items():
            texts[index] = clean_text(item["text"]) or None
        out.append(texts)
    return out


def translate_partition(wd: WorkDir, part: str, backend, gen: GenerateConfig, cfg: FilterConfig,
                        allowance=None):  # fmt: skip
    """The translated rows of a partition's kept pairs, run by
    :func:`docgen.filter.passes.run_pass`."""

    def make(view: pa.Table):
        view = view.append_column("translated_from", pa.nulls(view.num_rows, pa.string()))
        counts: Counter = Counter()
        added = translations(wd, part, backend, gen, cfg, view.to_pylist(), counts, allowance)
        table = pa.Table.from_pylist(added, view.schema)
        counts["translated"] = len(added)
        # Requests that failed (a server down, the budget spent) are asked again by a rerun; a
        # translation the model left empty is not.
        unsent = bool(counts.get("failures"))
        return table, pa.concat_tables([view, table]), counts, not unsent

    settings = [gen.model, cfg.translate_to, cfg.back_translation_ratio]
    return passes.run_pass(wd, "translate", part, settings, make)


def translations(wd: WorkDir, part: str, backend, gen: GenerateConfig, cfg: FilterConfig,
                 rows: list[dict], counts: Counter, allowance=None) -> list[dict]:  # fmt: skip
    """The rows to add: each kept question in every other target language, when its
    back-translation is alike enough to the original."""
    from rapidfuzz import fuzz

    groups, owners = [], []  # (doc, source, target, questions), row indices
    by_key: dict[tuple, list[int]] = {}
    for i, row in enumerate(rows):
        if row["keep"]:
            for target in cfg.translate_to:
                if target != row["lang"]:
                    by_key.setdefault((row["doc_id"], row["lang"], target), []).append(i)
    for (doc_id, source, target), indices in sorted(by_key.items()):
        for start in range(0, len(indices), gen.max_pairs_per_request):
            batch = indices[start : start + gen.max_pairs_per_request]
            groups.append((doc_id, source, target, [rows[i]["question"] for i in batch]))
            owners.append(batch)
    cache = pass_cache(wd, "translate")
    forward = translate_all(backend, groups, counts, cache, part, allowance)
    back_groups = [(d, t, s, [q or "" for q in texts])
                   for (d, s, t, _), texts in zip(groups, forward)]  # fmt: skip
    backward = translate_all(backend, back_groups, counts, cache, part, allowance)
    added = []
    for (_, source, target, _), batch, there, again in zip(groups, owners, forward, backward):
        for i, translated, back in zip(batch, there, again):
            original = rows[i]
            if translated is None or back is None:
                counts["translation_failed"] += 1
                continue
            if (
                fuzz.ratio(normalize(back), normalize(original["question"]))
                < cfg.back_translation_ratio
            ):
                counts["translation_inconsistent"] += 1
                continue
            counts[f"translated:{source}->{target}"] += 1
            added.append({**original, "question": translated, "lang": target,
                          "pair_id": f"{original['pair_id']}-{target}",
                          "translated_from": source})  # fmt: skip
    return added
